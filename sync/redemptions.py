"""Redeeming points for a store coupon, exactly once, whatever fails in between.

For the CLI (`loyalty redeem`), the sync (which finishes pending redemptions first, and answers
storefront requests) and the worker. The steps, each safe to interrupt:

1. one transaction: lock the customer, decide (`rules.redemption`), write the pending redemption
   and its debit entry, commit. Nothing exists in the store yet; the redemption is claimed by this
   process for `claim_seconds`;
2. look the code up in the store (`GET coupons?code=`): a coupon whose meta names this redemption
   is ours (a previous attempt created it), so it is never created twice;
3. otherwise create it (`POST coupons`). `woocommerce_rest_coupon_code_already_exists` is resolved
   as in 2; any other refusal by the store (HTTP 400) reverses the debit with an entry and the
   store's reason; a store that cannot be reached, or whose answer is no usable coupon (named
   field), leaves the redemption pending for the next run;
4. one transaction: record the coupon id (issued), once the coupon is the one asked for (code,
   amount, discount type). A coupon the store made otherwise keeps the redemption pending with
   its id (`ledger.redemptions.hold`): no other is created, and it is read again by id until it
   is corrected (issued) or deleted (then created anew).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger import redemptions as ledger
from ledger.models import Customer, Redemption
from rules import notes
from rules.expiry import ExpiryRules
from rules.redemption import Quote, RedemptionRules, Refusal, quote_redemption
from sync.client import StoreClient
from sync.coupons import (
    CODE_EXISTS,
    LIVE_STATUSES,
    CouponSpec,
    StoreCoupon,
    coupon_body,
    differences,
    fetch_coupon,
    fetch_coupon_by_code,
    new_coupon_code,
    push_coupon,
)
from sync.errors import StoreAnswerUnusable, StoreError, StoreRejected
from sync.expiry import unrecorded_expiry
from sync.redaction import redact

log = logging.getLogger("sync.redemptions")

UnitOfWork = Callable[[], AbstractContextManager[Session]]
DEFAULT_CLAIM_SECONDS = 600.0


class RedemptionRefused(Exception):
    """The redemption cannot go ahead (too few points, unknown tier...); nothing was written."""

    def __init__(self, reason: str, missing: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing


def claim_seconds(timeout: float, max_retry_seconds: float) -> float:
    """A claim long enough for the three store calls of one attempt, each retried to the end."""
    return 3 * (timeout + max_retry_seconds) + 60


@dataclass(frozen=True)
class RedemptionSettings:
    """What redeeming needs from the configuration."""

    rules: RedemptionRules
    #: How long one process may take to create a coupon before another may take the job over
    #: (longer than the client's whole retry budget).
    claim_seconds: float = DEFAULT_CLAIM_SECONDS
    #: Points past their expiry are not spendable, whether or not the day's run recorded it.
    expiry: ExpiryRules = field(default_factory=ExpiryRules)


@dataclass(frozen=True)
class Request:
    """A redemption asked for: by whom, for what, and the key that makes asking twice harmless."""

    wc_customer_id: int
    email: str
    tier: str | None = None
    points: int | None = None
    channel: str = "admin"
    request_key: str = ""  # default: a fresh key (an admin's redemption is never a replay)

    def as_dict(self) -> dict[str, Any]:
        return {"tier": self.tier} if self.tier is not None else {"points": self.points}


@dataclass(frozen=True)
class Grant:
    """A coupon given, not bought: it costs no points (a full stamp card's reward).

    Issued exactly as a redemption is (pending row committed before the POST, lookup by code...),
    once per `request_key`."""

    customer_id: int  # the ledger's
    email: str
    request_key: str
    request: Mapping[str, Any]
    channel: str
    label: str  # shown where a redemption shows its tier
    amount: Decimal
    coupon: Mapping[str, Any]  # the coupon's own fields (discount_type, product limits...)
    coupon_days: int
    description: str


@dataclass(frozen=True)
class Outcome:
    """Where a redemption stands after this process's attempt."""

    redemption_id: int
    status: str  # issued, pending (the store could not be reached), refused (by the store)
    code: str
    amount: Decimal
    points: int
    expires: datetime
    balance: int  # the customer's spendable points afterwards
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "redemption_id": self.redemption_id,
            "code": self.code,
            "amount": f"{self.amount:.2f}",
            "points": self.points,
            "expires": self.expires.isoformat(),
            "balance": self.balance,
            "status": self.status,
        }


@dataclass
class FinishCounts:
    issued: int = 0
    refused: int = 0
    still_pending: int = 0


class Redeemer:
    """Redemptions of one store: deciding, recording, creating coupons, finishing pending ones."""

    def __init__(
        self,
        client: StoreClient,
        unit_of_work: UnitOfWork,
        store_id: int,
        settings: RedemptionSettings,
        *,
        now: Callable[[], datetime],
    ) -> None:
        self.client = client
        self.unit_of_work = unit_of_work
        self.store_id = store_id
        self.settings = settings
        self.now = now

    # -- deciding ------------------------------------------------------------------------------

    def quote(self, session: Session, wc_customer_id: int, request: Request) -> Quote:
        """The quote for a request against the customer's spendable points, or RedemptionRefused."""
        customer_id = self._customer_id(session, wc_customer_id)
        expired = self._unrecorded_expiry(session, customer_id) if customer_id else 0
        available = self._spendable(session, customer_id, expired) if customer_id else 0
        owed = ledger.owed_points(session, customer_id) if customer_id else 0
        decision = quote_redemption(
            self.settings.rules, available, tier=request.tier, points=request.points, owed=owed
        )
        if isinstance(decision, Refusal):
            reason = decision.reason
            if customer_id is None and decision.missing:  # not "the balance is 0": none found
                reason = notes.REFUSED_NO_LEDGER_CUSTOMER(customer=wc_customer_id)
            elif expired and decision.missing:
                reason = notes.REFUSED_EXPIRED(note=reason, expired=expired)
            raise RedemptionRefused(reason, decision.missing)
        return decision

    def balance(self, wc_customer_id: int) -> int:
        with self.unit_of_work() as session:
            customer_id = self._customer_id(session, wc_customer_id)
            return self._spendable(session, customer_id) if customer_id else 0

    def _spendable(self, session: Session, customer_id: int, expired: int | None = None) -> int:
        """The customer's spendable points less what expired and the day's run has not taken."""
        if expired is None:
            expired = self._unrecorded_expiry(session, customer_id)
        return max(0, ledger.spendable_points(session, customer_id) - expired)

    def _unrecorded_expiry(self, session: Session, customer_id: int) -> int:
        return unrecorded_expiry(
            session, self.store_id, self.settings.expiry, customer_id, as_of=self.now().date()
        )

    # -- redeeming -----------------------------------------------------------------------------

    def redeem(self, request: Request) -> Outcome:
        """Record the redemption (or raise RedemptionRefused, writing nothing), then issue it.

        A replayed request whose redemption another process is still issuing is left to it."""
        redemption_id, ours = self._open(request)
        return self.issue(redemption_id) if ours else self.outcome(redemption_id)

    def grant(self, grant: Grant) -> Outcome:
        """Record a coupon that costs no points (once per `grant.request_key`), then issue it."""
        now = self.now()
        with self.unit_of_work() as session:
            ledger.lock_customer(session, self.store_id, grant.customer_id, now=now)
            existing = ledger.find_by_request(session, self.store_id, grant.request_key)
            if existing is not None:
                redemption_id, ours = self._claim_replay(session, existing, now)
            else:
                new = ledger.NewRedemption(
                    customer_id=grant.customer_id,
                    request_key=grant.request_key,
                    request=grant.request,
                    channel=grant.channel,
                    tier=grant.label,
                    points=0,
                    amount=grant.amount,
                    code=new_coupon_code(self.settings.rules.code_prefix),
                    email=grant.email.strip().lower(),
                    expires_at=now + timedelta(days=grant.coupon_days),
                    coupon={**grant.coupon, "description": grant.description},
                )
                row = ledger.open_redemption(
                    session, self.store_id, new, now=now, claim_until=self._claim_until(now)
                )
                redemption_id, ours = row.id, True
        return self.issue(redemption_id) if ours else self.outcome(redemption_id)

    def open(self, request: Request) -> int:
        """Step 1: the pending redemption and its debit, committed together. Returns its id."""
        return self._open(request)[0]

    def _open(self, request: Request) -> tuple[int, bool]:
        """The redemption's id, and whether this process may issue it (it holds the claim)."""
        now = self.now()
        rules = self.settings.rules
        with self.unit_of_work() as session:
            customer_id = self._customer_id(session, request.wc_customer_id)
            if customer_id is not None:
                ledger.lock_customer(session, self.store_id, customer_id, now=now)
                existing = ledger.find_by_request(session, self.store_id, request.request_key)
                if existing is not None:
                    return self._replayed(session, existing, request, now)
            quote = self.quote(session, request.wc_customer_id, request)
            assert customer_id is not None  # a quote needs points, so a ledger customer
            new = ledger.NewRedemption(
                customer_id=customer_id,
                request_key=request.request_key or f"{request.channel}:{uuid.uuid4()}",
                request=request.as_dict(),
                channel=request.channel,
                tier=quote.tier,
                points=quote.points,
                amount=quote.amount,
                code=new_coupon_code(rules.code_prefix),
                email=request.email.strip().lower(),
                expires_at=now + timedelta(days=rules.coupon_days),
            )
            row = ledger.open_redemption(
                session, self.store_id, new, now=now, claim_until=self._claim_until(now)
            )
            return row.id, True

    def issue(self, redemption_id: int) -> Outcome:
        """Steps 2 to 4 for a redemption this process has claimed."""
        with self.unit_of_work() as session:
            row = self._row(session, redemption_id)
        if row.status == ledger.PENDING:
            self._create_coupon(row)
        return self.outcome(redemption_id)

    def finish_pending(self) -> FinishCounts:
        """Issue every pending redemption no other process is working on (oldest first)."""
        counts = FinishCounts()
        with self.unit_of_work() as session:
            ids = [row.id for row in ledger.pending_redemptions(session, self.store_id)]
        for redemption_id in ids:
            now = self.now()
            with self.unit_of_work() as session:
                claimed = ledger.claim(
                    session, redemption_id, now=now, until=self._claim_until(now)
                )
            if not claimed:
                counts.still_pending += 1
                continue
            status = self.issue(redemption_id).status
            counts.issued += status == ledger.ISSUED
            counts.refused += status == ledger.REFUSED
            counts.still_pending += status == ledger.PENDING
        return counts

    def cancel(self, redemption_id: int) -> Outcome:
        """An admin's way out of a redemption the store will not finish (it keeps answering 403,
        say): ended as refused, its points returned, once this process holds its claim and the
        store has no coupon for it (by the id it held, or by its code). RedemptionRefused, with
        nothing changed, when it is not pending, another process is issuing it, or the store
        has its coupon (delete it there first, or let a sync issue it); a store error too."""
        now = self.now()
        with self.unit_of_work() as session:
            row = self._row(session, redemption_id)
            if row.status != ledger.PENDING:
                raise RedemptionRefused(f"redemption {redemption_id} is {row.status}, not pending")
            claimed = ledger.claim(session, redemption_id, now=now, until=self._claim_until(now))
        if not claimed:
            raise RedemptionRefused(
                f"redemption {redemption_id} is being issued by another process until"
                f" {row.claimed_until:%Y-%m-%d %H:%M} UTC: try again after that"
            )
        try:
            held = fetch_coupon(self.client, row.coupon_id) if row.coupon_id else None
            live = held if held is not None and held.status in LIVE_STATUSES else None
            found = live or fetch_coupon_by_code(self.client, row.code)
        except StoreError as error:
            with self.unit_of_work() as session:
                ledger.release(session, redemption_id, redact(str(error)), now=self.now())
            raise RedemptionRefused(
                f"the store could not be asked whether it has the coupon: {redact(str(error))}"
            ) from None
        used = held if held is not None and held.usage_count > 0 else None
        if used is not None or found is not None:
            with self.unit_of_work() as session:
                ledger.release(session, redemption_id, row.reason or "", now=self.now())
            coupon = used or found
            assert coupon is not None
            what = "was used" if used is not None else "is in the store"
            raise RedemptionRefused(
                f"coupon {coupon.id} ({coupon.code}) of redemption {redemption_id} {what}: the"
                " next sync records it" + ("" if used else ", unless it is deleted first")
            )
        with self.unit_of_work() as session:
            now = self.now()
            # its points move: the holder's balance row before the redemption's (mark_issued)
            ledger.lock_holder(session, redemption_id, now=now)
            if held is not None:  # in the trash, unused: closed as deleted, so followed still
                ledger.mark_issued(session, redemption_id, held.id, now=now)
                ledger.close_unused(session, redemption_id, ledger.DELETED, True, now=now)
            else:
                reason = "cancelled by an admin: the store has no coupon for it"
                ledger.refuse(session, redemption_id, reason, now=now)
        return self.outcome(redemption_id)

    def outcome(self, redemption_id: int) -> Outcome:
        with self.unit_of_work() as session:
            row = self._row(session, redemption_id)
            balance = self._spendable(session, row.customer_id)
            return Outcome(
                redemption_id=row.id,
                status=row.status,
                code=row.code,
                amount=Decimal(row.amount),
                points=row.points,
                expires=row.expires_at,
                balance=balance,
                reason=row.reason,
            )

    # -- the store's side ----------------------------------------------------------------------

    def _create_coupon(self, row: Redemption) -> None:
        spec = self._spec(row)
        try:
            found, created = self._find_or_post(row, spec)
        except StoreError as error:
            log.warning("redemption %d stays pending: %s", row.id, error)
            with self.unit_of_work() as session:
                ledger.release(session, row.id, redact(str(error)), now=self.now())
            return
        with self.unit_of_work() as session:
            now = self.now()
            if isinstance(found, str):
                ledger.refuse(session, row.id, found, now=now)
            elif not created and not _ours(found, row, coupon_body(spec)):
                reason = f"the code {row.code} belongs to another coupon in the store ({found.id})"
                ledger.refuse(session, row.id, reason, now=now)
            elif found.usage_count > 0:  # used already (a held coupon, say): nothing to decide
                ledger.mark_issued(session, row.id, found.id, now=now)
                ledger.mark_used(session, row.id, None, now=now)
            elif differs := differences(found, coupon_body(spec)):
                reason = (
                    f"the store's coupon {found.id} is not the one asked for: "
                    f"{'; '.join(differs)}. The points stay taken and no other coupon is created;"
                    " once the coupon is corrected in the store the redemption is issued, once it"
                    " is deleted a new one is created"
                )
                log.warning("redemption %d stays pending: %s", row.id, redact(reason))
                ledger.hold(session, row.id, found.id, redact(reason), now=now)
            else:
                ledger.mark_issued(session, row.id, found.id, now=now)

    def _find_or_post(self, row: Redemption, spec: CouponSpec) -> tuple[StoreCoupon | str, bool]:
        """The coupon of this redemption and whether this program created it (its answer, or the
        id a previous attempt held), else the store's refusal of it. Whether a coupon found by
        its code is this redemption's is `_ours`' to say; a POST answer is the coupon created,
        with or without its meta."""
        if row.coupon_id is not None:  # created before, not as asked: read again
            held = fetch_coupon(self.client, row.coupon_id)
            if held is not None and (held.status in LIVE_STATUSES or held.usage_count > 0):
                return held, True  # in the trash but used first: it was ours, and is spent
        found = fetch_coupon_by_code(self.client, row.code)
        if found is not None:
            return found, False
        return self._post(row, spec)

    def _post(self, row: Redemption, spec: CouponSpec) -> tuple[StoreCoupon | str, bool]:
        """The created coupon, the existing one for a duplicate code, or the store's refusal."""
        try:
            return push_coupon(self.client, spec), True
        except StoreRejected as error:
            if error.code == CODE_EXISTS:
                existing = fetch_coupon_by_code(self.client, row.code)
                if existing is None:  # never a refusal: a coupon of this code may be ours
                    raise StoreAnswerUnusable(
                        f"POST coupons: the store says the code {row.code} exists, but does not"
                        " list it (GET coupons?code=)"
                    ) from None
                return existing, False
            if error.status == 400:
                return redact(str(error)), False  # the store's words are stored: no secrets
            raise

    def _spec(self, row: Redemption) -> CouponSpec:
        return CouponSpec(
            redemption_id=row.id,
            code=row.code,
            amount=Decimal(row.amount),
            email=row.email,
            expires_at=row.expires_at,
            individual_use=self.settings.rules.individual_use,
            description=_description(row),
            fields=json.loads(row.coupon) if row.coupon else {},
        )

    # -- helpers -------------------------------------------------------------------------------

    def _replayed(
        self, session: Session, existing: Redemption, request: Request, now: datetime
    ) -> tuple[int, bool]:
        if _same_request(existing, request.as_dict()):
            return self._claim_replay(session, existing, now)
        raise RedemptionRefused(
            f"request id {request.request_key.rsplit(':', 1)[-1]!r} was already used for"
            f" {existing.request}"
        )

    def _claim_replay(
        self, session: Session, existing: Redemption, now: datetime
    ) -> tuple[int, bool]:
        """A request made before: issue it only if still pending and no live process holds it."""
        if existing.status != ledger.PENDING:
            return existing.id, True  # issuing it again only reports where it stands
        until = self._claim_until(now)
        return existing.id, ledger.claim(session, existing.id, now=now, until=until)

    def _customer_id(self, session: Session, wc_customer_id: int) -> int | None:
        return session.execute(
            select(Customer.id).where(
                Customer.store_id == self.store_id, Customer.wc_id == wc_customer_id
            )
        ).scalar_one_or_none()

    def _row(self, session: Session, redemption_id: int) -> Redemption:
        row = session.get(Redemption, redemption_id, populate_existing=True)
        if row is None:
            raise LookupError(f"no redemption {redemption_id}")
        session.expunge(row)
        return row

    def _claim_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.settings.claim_seconds)


def _ours(found: StoreCoupon, row: Redemption, asked: Mapping[str, Any]) -> bool:
    """Whether a coupon found by this redemption's code is its own: its meta names it, or, with
    no meta (a plugin filtering it from answers), it is the coupon asked for in every field (its
    code drawn at random, its email, its limits). A shop's own coupon of that code, without the
    meta and made otherwise, is another's; so is one whose meta names another redemption."""
    if found.redemption_id is not None:
        return found.redemption_id == str(row.id)
    return not differences(found, asked)


def _same_request(existing: Redemption, asked: Mapping[str, Any]) -> bool:
    return bool(json.loads(existing.request) == dict(asked))


def _description(row: Redemption) -> str:
    what = f"the {row.tier} tier" if row.tier else f"{row.points} points"
    return f"Loyalty points redeemed: {what} (redemption {row.id}, {row.points} points)"
