"""Storefront redemption requests and automatic vouchers, answered by the sync.

For the sync's redemption steps (`sync.redemption_steps`), after the sources and before the
write-back. The storefront asks by writing `loyalty_redeem_request` into the customer's meta
(JSON `{"id": "r-42", "tier": "10-off"}` or `{"id": "r-43", "points": 1500}`). The sync
answers in the same customer's meta:

- issued: the request is cleared (set to ""), `loyalty_redeem_error` too, and
  `{code, amount, expires, redemption_id}` is appended to the JSON list in `loyalty_coupons`, in
  the same write, and recorded as listed (`sync.coupon_lists`; the auto-issue tier's coupons are
  listed by the sync's `list_coupons` step);
- invalid (malformed JSON, unknown tier, too few points, an id used before for something else):
  `loyalty_redeem_error` = `{"id", "message"}`, the request is cleared, and the answer is recorded
  in the quarantine table (resource `redeem_request`).

The same request id twice gives one coupon: its redemption is keyed `storefront:{customer}:{id}`.

WooCommerce cannot list customers by modified date or by meta, so requests are found by reading
customers by id (`include=`, 100 a request): every run, those whose spendable points reach the
cheapest redemption (only they can be granted anything), and a rotating slice of the others
(`scan_others` a run) so that a request nobody can grant is still answered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.models import Balance, Customer, Redemption
from sync.client import StoreClient
from sync.coupon_lists import (
    COUPONS_KEY,
    appended,
    coupons_list,
    entry_of,
    mark_listed,
    meta_value,
    read_customers,
)
from sync.errors import StoreError
from sync.quarantine import Quarantine, Rejected
from sync.redaction import redact
from sync.redemptions import Outcome, Redeemer, RedemptionRefused, Request

log = logging.getLogger("sync.storefront")

REQUEST_KEY = "loyalty_redeem_request"
ERROR_KEY = "loyalty_redeem_error"
MAX_ID_LENGTH = 64
#: The longest request read: `{"id": …, "tier": …}` is a few dozen characters. Anything longer is
#: refused before it is decoded, so no request costs more than this to read.
MAX_REQUEST_CHARS = 1_000
QUARANTINE_RESOURCE = "redeem_request"


@dataclass
class StorefrontCounts:
    customers_read: int = 0
    requests: int = 0
    issued: int = 0
    refused: int = 0
    pending: int = 0
    auto_issued: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ParsedRequest:
    request_id: str
    tier: str | None
    points: int | None


class InvalidRequest(ValueError):
    """A request the storefront wrote that cannot be read; `request_id` when one was found."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message)
        self.request_id = request_id


def parse_request(value: Any) -> ParsedRequest | None:
    """The request in a meta value; None when there is none ("" or missing)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    data = value
    if isinstance(value, str):
        if len(value) > MAX_REQUEST_CHARS:
            raise InvalidRequest(
                f"the request is {len(value):,} characters long; at most {MAX_REQUEST_CHARS:,}"
                ' are read (e.g. {"id": "r-42", "tier": "10-off"})'
            )
        try:
            data = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: brackets nested a thousand deep
            raise InvalidRequest(
                f"the request is not valid JSON: {value[:80]!r}; expected e.g."
                ' {"id": "r-42", "tier": "10-off"} or {"id": "r-43", "points": 1500}'
            ) from None
    if not isinstance(data, dict):
        raise InvalidRequest("the request must be a JSON object with an id and a tier or points")
    raw_id = data.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or not str(raw_id).strip():
        raise InvalidRequest("the request has no id (a non-empty string)")
    request_id = str(raw_id).strip()
    if len(request_id) > MAX_ID_LENGTH:
        raise InvalidRequest(f"the request id is longer than {MAX_ID_LENGTH} characters")
    if not request_id.isprintable():  # NUL, a lone surrogate, a control: nothing a ledger key holds
        raise InvalidRequest(
            f"the request id {request_id!r} holds a control or unencodable character"
        )
    tier, points = data.get("tier"), data.get("points")
    if (tier is None) == (points is None):
        raise InvalidRequest(
            "the request must name either a tier or a number of points", request_id
        )
    if tier is not None and (not isinstance(tier, str) or not tier.strip()):
        raise InvalidRequest("tier must be the name of a tier", request_id)
    name = tier.strip() if isinstance(tier, str) else None  # "10-off\n": a tier, as before
    if name is not None and (len(name) > MAX_ID_LENGTH or not name.isprintable()):
        raise InvalidRequest(f"tier {name[:MAX_ID_LENGTH]!r} is not the name of a tier", request_id)
    if points is not None and (isinstance(points, bool) or not isinstance(points, int)):
        raise InvalidRequest("points must be a whole number", request_id)
    return ParsedRequest(request_id, name, points)


class Storefront:
    """Reads requests from customer meta, redeems through `Redeemer`, answers in meta."""

    def __init__(
        self,
        client: StoreClient,
        unit_of_work: Callable[[], Any],
        store_id: int,
        redeemer: Redeemer,
        *,
        now: Callable[[], datetime],
    ) -> None:
        self.client = client
        self.unit_of_work = unit_of_work
        self.store_id = store_id
        self.redeemer = redeemer
        self.now = now
        self.counts = StorefrontCounts()

    # -- finding requests ----------------------------------------------------------------------

    def answer_requests(self, rotation_after: int, scan_others: int) -> int:
        """Read this run's customers and answer their requests; returns where the rotation of
        the customers who cannot afford a redemption stopped (the next run's `rotation_after`)."""
        ids, stop = self.customers_to_read(rotation_after, scan_others)
        for customer in self.read(ids):
            self.answer(customer)
        return stop

    def customers_to_read(self, rotation_after: int, scan_others: int) -> tuple[list[int], int]:
        """The account ids to read this run, and where the rotation of the others stops."""
        cheapest = self.redeemer.settings.rules.cheapest_points
        with self.unit_of_work() as session:
            rows = session.execute(
                select(Customer.wc_id, Balance.balance)
                .outerjoin(Balance, Balance.customer_id == Customer.id)
                .where(
                    Customer.store_id == self.store_id,
                    Customer.wc_id.is_not(None),
                    Customer.deleted_at.is_(None),  # gone from the store: nothing to read
                )
                .order_by(Customer.wc_id)
            ).all()
        can = [cheapest is not None and (balance or 0) >= cheapest for _, balance in rows]
        eligible = [int(wc) for (wc, _), ok in zip(rows, can, strict=True) if ok]
        others = [int(wc) for (wc, _), ok in zip(rows, can, strict=True) if not ok]
        after = [wc for wc in others if wc > rotation_after]
        picked = (after + [wc for wc in others if wc <= rotation_after])[:scan_others]
        stop = picked[-1] if picked and len(picked) < len(others) else 0
        return sorted({*eligible, *picked}), stop

    def read(self, ids: list[int]) -> Iterator[dict[str, Any]]:
        items = read_customers(self.client, ids, self.counts.errors)
        self.counts.customers_read += len(items)
        yield from items

    # -- answering -----------------------------------------------------------------------------

    def answer(self, customer: dict[str, Any]) -> None:
        """Answer the customer's request, if there is one."""
        wc_id = customer.get("id")
        if not isinstance(wc_id, int):
            return
        raw = meta_value(customer, REQUEST_KEY)
        try:
            parsed = parse_request(raw)
        except InvalidRequest as invalid:
            self._refuse(customer, invalid.request_id, str(invalid), raw)
            return
        if parsed is None:
            return
        self.counts.requests += 1
        email = customer.get("email")
        email = email.strip().lower() if isinstance(email, str) else ""
        if not email or not email.isprintable():
            message = "the account has no email address (email) to restrict the coupon to"
            self._refuse(customer, parsed.request_id, message, raw)
            return
        request = Request(
            wc_customer_id=wc_id,
            email=email,
            tier=parsed.tier,
            points=parsed.points,
            channel="storefront",
            request_key=f"storefront:{wc_id}:{parsed.request_id}",
        )
        try:
            outcome = self.redeemer.redeem(request)
        except RedemptionRefused as refused:
            self._refuse(customer, parsed.request_id, refused.reason, raw)
            return
        self._answered(customer, outcome, parsed.request_id, raw)

    def auto_issue(self, tier_name: str) -> None:
        """One coupon of the auto-issue tier for each account whose points reach it."""
        tier = self.redeemer.settings.rules.tier(tier_name)
        if tier is None:
            return
        with self.unit_of_work() as session:
            due = self._due_for_auto(session, tier.points)
        for customer_id, wc_id, email, issued_before in due:
            request = Request(
                wc_customer_id=wc_id,
                email=email,
                tier=tier.name,
                channel="auto",
                request_key=f"auto:{customer_id}:{issued_before + 1}",
            )
            try:
                outcome = self.redeemer.redeem(request)
            except RedemptionRefused:
                continue  # spent meanwhile
            self.counts.auto_issued += outcome.status == "issued"  # listed by `list_coupons`

    # -- helpers -------------------------------------------------------------------------------

    def _due_for_auto(self, session: Session, points: int) -> list[tuple[int, int, str, int]]:
        """Accounts whose balance reaches `points`, with how many auto coupons they had so far."""
        issued_before = (
            select(func.count(Redemption.id))
            .where(Redemption.customer_id == Customer.id, Redemption.channel == "auto")
            .scalar_subquery()
        )
        rows = session.execute(
            select(Customer.id, Customer.wc_id, Customer.email, issued_before)
            .join(Balance, Balance.customer_id == Customer.id)
            .where(
                Customer.store_id == self.store_id,
                Customer.wc_id.is_not(None),
                Customer.email.is_not(None),
                Customer.deleted_at.is_(None),  # never written to again (`sync.accounts`)
                Balance.balance >= points,
            )
            .order_by(Customer.wc_id)
        ).all()
        return [(int(c), int(wc), str(email), int(n)) for c, wc, email, n in rows]

    def _answered(
        self, customer: dict[str, Any], outcome: Outcome, request_id: str, raw: Any
    ) -> None:
        if outcome.status == "pending":
            self.counts.pending += 1  # the request stays; the next run finishes and answers it
            return
        if outcome.status == "refused":
            self._refuse(
                customer, request_id, f"the store refused the coupon: {outcome.reason}", raw
            )
            return
        self.counts.issued += 1
        wc_id = int(customer["id"])
        entry = entry_of(self.unit_of_work, outcome.redemption_id)
        coupons = appended(coupons_list(customer), [entry])
        meta = [
            {"key": COUPONS_KEY, "value": json.dumps(coupons)},
            {"key": REQUEST_KEY, "value": ""},
            {"key": ERROR_KEY, "value": ""},
        ]
        if self._put_meta(wc_id, meta):
            mark_listed(self.unit_of_work, [outcome.redemption_id], now=self.now())

    def _refuse(
        self, customer: dict[str, Any], request_id: str | None, message: str, raw: Any
    ) -> None:
        self.counts.refused += 1
        wc_id = int(customer["id"])
        answer = {"id": request_id, "message": message}
        self._record(wc_id, request_id, message, raw)
        self._put_meta(
            wc_id,
            [
                {"key": ERROR_KEY, "value": json.dumps(answer)},
                {"key": REQUEST_KEY, "value": ""},
            ],
        )

    def _put_meta(self, wc_id: int, meta: list[dict[str, Any]]) -> bool:
        try:
            self.client.put(f"customers/{wc_id}", {"meta_data": meta})
        except StoreError as error:  # the request stays in meta and is answered next run
            self.counts.errors.append(redact(f"customer {wc_id}: {error}"))
            log.warning("could not answer the redemption request of customer %d: %s", wc_id, error)
            return False
        return True

    def _record(self, wc_id: int, request_id: str | None, message: str, raw: Any) -> None:
        """The refused request in the quarantine table, as every source's items (`sync.quarantine`:
        stored as JSON, so no NUL or lone surrogate reaches the database; secrets masked)."""
        ref = redact(f"{wc_id}:{request_id or '?'}")
        item = Rejected(QUARANTINE_RESOURCE, ref, raw, message, REQUEST_KEY)
        with self.unit_of_work() as session:
            Quarantine(self.store_id).add(session, [item], now=self.now())
