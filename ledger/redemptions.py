"""Redemptions in the ledger: the pending row and its debit, the claim, and how each one ends.

For `sync.redemptions` (which talks to the store) and the CLI's listing. The rules that keep a
redemption exactly-once live here:
- `open_redemption` writes the pending row and its debit entry in the caller's transaction, after
  `lock_customer`, so two redemptions of one customer never both spend the same points;
- a redemption's points are reconciled like any source: the target for `redemption:{id}` is
  minus its points while it stands and 0 once refused or returned, and the difference is one entry
  keyed `redemption:{id}#{n}`, so a replay appends nothing;
- `claim` lets one process at a time create a redemption's coupon; a claim lapses after a while,
  so a process killed mid-way never blocks the redemption for good.

Lock order: a redemption's row after its customer's balance row (step 1 of `ledger.entries`'
order), as `open_redemption` (after `lock_customer`), a replayed request's claim and the sync's
move of a customer's holdings (`sync.owners.move_holdings`) take them. A transaction that may
give a redemption's points back locks its holder first (`lock_holder`: `refuse`, `close_unused`,
and an admin's cancel before its `mark_issued`; `lock_holders` for several, in ascending order);
a step that moves no points locks the row alone. (Row first, PostgreSQL aborted one of the two
when the sync retired the account or a replay came after the claim lapsed: a review, 6 Dec.)
A dry run holds the store's writers off from its start (`ledger.entries.hold_store_writers`): a
redemption waits for its end at its first lock (step 0, in `lock_customer` or `lock_holder`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ledger.batches import chunks
from ledger.debt import debt_state
from ledger.entries import NewEntry, append_entry, lock_balances, reconcile_key, ref_holdings
from ledger.kinds import SourceKind
from ledger.models import Customer, Redemption
from ledger.stamps import CHANNEL as STAMPS_CHANNEL
from rules import notes

PENDING, ISSUED, USED = "pending", "issued", "used"
REFUSED, EXPIRED, DELETED = "refused", "expired", "deleted"  # expired/deleted: points returned
KEPT = "-kept"  # expired-kept, deleted-kept: return_points_on_expiry was false
STATUSES = (PENDING, ISSUED, USED, REFUSED, EXPIRED, DELETED, EXPIRED + KEPT, DELETED + KEPT)
#: Statuses whose points stay spent (the others have had them returned, or never took them).
SPENDING = frozenset({PENDING, ISSUED, USED, EXPIRED + KEPT, DELETED + KEPT})
#: Closed without a use seen: a use seen later makes them used. A refused one too: its code,
#: drawn at random, in an order means a coupon was made after all (an answer lost, then the
#: admin's cancel while it sat in the trash) and used.
CLOSED_UNUSED = (EXPIRED, DELETED, EXPIRED + KEPT, DELETED + KEPT, REFUSED)
STOREFRONT, AUTO = "storefront", "auto"  # channels, beside "admin" and the stamp cards'
#: The channels whose coupons the customer's `loyalty_coupons` meta lists (an admin's are not).
LISTED_CHANNELS = (STOREFRONT, AUTO, STAMPS_CHANNEL)


class DuplicateRequest(ValueError):
    """A request key is already used by a redemption asking for something else."""


@dataclass(frozen=True)
class NewRedemption:
    """What `open_redemption` records; `request` is what was asked for, kept as JSON."""

    customer_id: int
    request_key: str
    request: Mapping[str, Any]
    channel: str
    tier: str | None
    points: int
    amount: Decimal
    code: str
    email: str
    expires_at: datetime
    #: The coupon's own fields when it is not the points' fixed_cart coupon (a stamp card's
    #: reward); such a redemption may cost 0 points.
    coupon: Mapping[str, Any] | None = None


def source_ref(redemption_id: int) -> str:
    return f"redemption:{redemption_id}"


def lock_customer(session: Session, store_id: int, customer_id: int, *, now: datetime) -> None:
    """Serialise the customer's writers until the transaction ends, before their points are read.

    The customer's balance row, locked as every writer locks it first (`ledger.entries`, created
    if missing): a redemption, an expiry, a sync or an adjustment of this customer wait on it in
    turn, so the points a redemption reads are still there when it debits them. (It locked the
    customer row instead: an expiry holding the balance row and inserting an entry waited on the
    customer row for its foreign key, while the redemption waited on the balance row: a
    deadlock; and with a weaker lock on the customer, the expiry went between the redemption's
    reading and its debit, and the balance went below zero. Found by a review, 4 Dec.) SQLite
    holds the database's write lock from BEGIN (see `ledger.session`).
    """
    lock_balances(session, store_id, [customer_id], now)


def lock_holders(
    session: Session, store_id: int, redemption_ids: Collection[int], *, now: datetime
) -> None:
    """Lock the balance rows of these redemptions' customers together, in ascending order (step
    1 of the lock order, `ledger.entries.append_entries`), before one unit of work moves the
    points of several: one after another, each took its customer's row and then the day's
    redemption rollup row, so a redemption of a customer of lower id, holding that row and
    waiting for the rollup row, deadlocked with it (a review of concurrent runs, 5 Dec)."""
    customers: set[int] = set()
    for chunk in chunks(sorted(set(redemption_ids))):
        customers.update(
            session.execute(
                select(Redemption.customer_id).where(Redemption.id.in_(chunk))
            ).scalars()
        )
    if customers:
        lock_balances(session, store_id, sorted(customers), now)


def lock_holder(session: Session, redemption_id: int, *, now: datetime) -> None:
    """Lock the balance row of the redemption's customer before its own row (the lock order
    above). Read unlocked, the customer is read again once that row is held: moved meanwhile
    (`move_holdings`), the row is let go (a savepoint rolled back) and the new holder's taken,
    none out of ascending order. Held, the holder stays until the transaction ends."""
    while True:
        store_id, customer = _holder(session, redemption_id)
        savepoint = session.begin_nested()
        lock_balances(session, store_id, [customer], now)
        if _holder(session, redemption_id)[1] == customer:
            savepoint.commit()
            return
        savepoint.rollback()


def spendable_points(session: Session, customer_id: int) -> int:
    """The points a customer can redeem now: the cached balance, or 0 while they owe points
    (a balance below zero, or recorded debt: `ledger.debt`)."""
    state = debt_state(session, customer_id)
    return 0 if state.owed else max(0, state.balance)


def owed_points(session: Session, customer_id: int) -> int:
    """The points a customer owes (see `ledger.debt`); redemptions are refused while above 0."""
    return debt_state(session, customer_id).owed


def find_by_request(session: Session, store_id: int, request_key: str) -> Redemption | None:
    return session.execute(
        select(Redemption).where(
            Redemption.store_id == store_id, Redemption.request_key == request_key
        )
    ).scalar_one_or_none()


def open_redemption(
    session: Session, store_id: int, new: NewRedemption, *, now: datetime, claim_until: datetime
) -> Redemption:
    """Record a pending redemption and its debit; the caller has locked the customer.

    Claimed by the caller until `claim_until`. If the request key exists with the same request,
    that redemption is returned unchanged; with a different one, DuplicateRequest.
    """
    existing = find_by_request(session, store_id, new.request_key)
    if existing is not None:
        if json.loads(existing.request) != dict(new.request):
            raise DuplicateRequest(
                f"request {new.request_key!r} was already made for {existing.request}"
            )
        return existing
    row = Redemption(
        store_id=store_id,
        customer_id=new.customer_id,
        request_key=new.request_key,
        request=json.dumps(dict(new.request), sort_keys=True),
        channel=new.channel,
        tier=new.tier,
        points=new.points,
        amount=f"{new.amount:.2f}",
        code=new.code,
        email=new.email,
        status=PENDING,
        expires_at=new.expires_at,
        created_at=now,
        updated_at=now,
        claimed_until=claim_until,
        attempts=0,
        coupon=json.dumps(dict(new.coupon), sort_keys=True) if new.coupon is not None else None,
    )
    session.add(row)
    session.flush()
    settle_points(session, row, now=now, note=notes.REDEEMED(code=row.code))
    return row


def settle_points(session: Session, row: Redemption, *, now: datetime, note: str) -> bool:
    """Append the entry that brings `redemption:{id}` to its target; True if one was appended
    (never for a redemption of 0 points)."""
    ref = source_ref(row.id)
    held = ref_holdings(session, row.store_id, [ref]).get(ref)
    target = -row.points if row.status in SPENDING else 0
    delta = target - (held.points if held else 0)
    if not delta:
        return False
    entry = NewEntry(
        customer_id=row.customer_id,
        points=delta,
        kind=SourceKind.REDEMPTION,
        source_ref=ref,
        idempotency_key=reconcile_key(ref, held),
        occurred_at=now,
        note=note,
    )
    return append_entry(session, row.store_id, entry, now=now)


def claim(session: Session, redemption_id: int, *, now: datetime, until: datetime) -> bool:
    """Take a pending redemption for this process until `until`; False if another holds it."""
    result = session.execute(
        update(Redemption)
        .where(
            Redemption.id == redemption_id,
            Redemption.status == PENDING,
            or_(Redemption.claimed_until.is_(None), Redemption.claimed_until <= now),
        )
        .values(claimed_until=until, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def mark_issued(session: Session, redemption_id: int, coupon_id: int, *, now: datetime) -> None:
    row = _get(session, redemption_id)
    if row.status != PENDING:
        return
    row.status, row.coupon_id, row.claimed_until = ISSUED, coupon_id, None
    row.updated_at, row.reason = now, None
    row.attempts += 1


def refuse(session: Session, redemption_id: int, reason: str, *, now: datetime) -> None:
    """The store refused the coupon: the redemption ends and its debit is reversed."""
    lock_holder(session, redemption_id, now=now)
    row = _get(session, redemption_id)
    if row.status != PENDING:
        return
    row.status, row.reason, row.claimed_until = REFUSED, reason, None
    row.updated_at = row.closed_at = now
    row.attempts += 1
    settle_points(session, row, now=now, note=notes.COUPON_REFUSED(message=reason))


def mark_used(
    session: Session,
    redemption_id: int,
    order_id: int | None,
    *,
    now: datetime,
    instead_of: Collection[int] = (),
) -> int:
    """The coupon was used (by `order_id` when known); 1 if this marked it, else 0. A redemption
    closed unused becomes used too, and points returned at its close are taken again (the
    coupon restored from the trash, or used just as it expired on the store's clock): its
    caller has locked the holder's balance row then (`lock_holders`). Used by an order of
    `instead_of` (cancelled since), it is `order_id`'s use from now on."""
    row = _get(session, redemption_id)
    if row.status == USED:
        if order_id is not None and (row.used_order_id is None or row.used_order_id in instead_of):
            row.used_order_id, row.updated_at = order_id, now
        return 0
    if row.status not in (ISSUED, *CLOSED_UNUSED):
        return 0
    returned = row.status not in SPENDING
    row.status, row.used_order_id, row.updated_at, row.closed_at = USED, order_id, now, now
    if returned:  # closed unused, its points returned, and used all the same: taken again
        settle_points(session, row, now=now, note=notes.COUPON_USED_AFTER_RETURN(code=row.code))
    return 1


def mark_unused(session: Session, redemption_id: int, order_id: int, *, now: datetime) -> int:
    """The order that used the coupon was cancelled and the store gave the use back (its
    `usage_count` is 0 again): issued again, so that it can be used, or expire unused and return
    its points. 1 if this changed it, else 0 (not used, or used by another order)."""
    row = _get(session, redemption_id)
    if row.status != USED or row.used_order_id not in (order_id, None):
        return 0
    row.status, row.used_order_id, row.refunded_order_id = ISSUED, None, None
    row.updated_at, row.closed_at = now, None
    return 1


def confirm_used(session: Session, redemption_id: int, seen: datetime) -> None:
    """The store still counts the coupon's use (or deleted it outright: nothing tells) after the
    order that used it was cancelled or deleted, as the ledger last saw it at `seen` (its
    `tracked_orders.last_seen_at`): it stays used, and the sync asks again only once it sees
    that order again."""
    row = _get(session, redemption_id)
    if row.status == USED:
        row.drop_checked = seen


def record_refund(
    session: Session,
    redemption_id: int,
    order_id: int,
    *,
    now: datetime,
    instead_of: Collection[int] = (),
) -> int:
    """The order that used the coupon was refunded: WooCommerce keeps the coupon used, so only
    the fact is recorded (no points move). 1 if newly recorded. (`instead_of`: as `mark_used`.)"""
    mark_used(session, redemption_id, order_id, now=now, instead_of=instead_of)
    row = _get(session, redemption_id)
    if row.status != USED or row.refunded_order_id == order_id:
        return 0
    row.refunded_order_id, row.updated_at = order_id, now
    return 1


def close_unused(
    session: Session, redemption_id: int, status: str, return_points: bool, *, now: datetime
) -> int:
    """The coupon expired unused or left the store (`status` EXPIRED or DELETED): the points come
    back by one entry unless `return_points` is false. 1 if this closed it, else 0."""
    lock_holder(session, redemption_id, now=now)
    row = _get(session, redemption_id)
    if row.status != ISSUED:
        return 0
    row.status = status if return_points else status + KEPT
    row.updated_at = row.closed_at = now
    returned = notes.COUPON_EXPIRED if status == EXPIRED else notes.COUPON_DELETED
    settle_points(session, row, now=now, note=returned(code=row.code))
    return 1


def hold(
    session: Session, redemption_id: int, coupon_id: int, reason: str, *, now: datetime
) -> None:
    """The store created a coupon, but not the one asked for (another amount, code or type): it
    stays pending, its points taken, with the coupon's id, so that no attempt creates another;
    the next attempts read that coupon again (corrected in the store, it is issued)."""
    row = _get(session, redemption_id)
    if row.status != PENDING:
        return
    row.coupon_id, row.claimed_until, row.reason, row.updated_at = coupon_id, None, reason, now
    row.attempts += 1


def release(session: Session, redemption_id: int, error: str, *, now: datetime) -> None:
    """The coupon could not be created this time: stays pending, free for the next attempt."""
    row = _get(session, redemption_id)
    if row.status != PENDING:
        return
    row.claimed_until, row.reason, row.updated_at = None, error, now
    row.attempts += 1


def pending_redemptions(session: Session, store_id: int) -> list[Redemption]:
    return list(
        session.execute(
            select(Redemption)
            .where(Redemption.store_id == store_id, Redemption.status == PENDING)
            .order_by(Redemption.id)
        ).scalars()
    )


def unlisted(session: Session, store_id: int) -> list[tuple[Redemption, int]]:
    """Coupons issued (whatever became of them since) for the listed channels that have not
    reached their live account's `loyalty_coupons` meta yet, with its WooCommerce id; oldest
    first. A held coupon (pending, made otherwise than asked) is not listed until it is issued:
    the shop manager may correct it, or delete it and a new one, of another code, is made."""
    rows = session.execute(
        select(Redemption, Customer.wc_id)
        .join(Customer, Customer.id == Redemption.customer_id)
        .where(
            Redemption.store_id == store_id,
            Redemption.listed_at.is_(None),
            Redemption.coupon_id.is_not(None),
            Redemption.status != PENDING,
            Redemption.channel.in_(LISTED_CHANNELS),
            Customer.wc_id.is_not(None),
            Customer.deleted_at.is_(None),
        )
        .order_by(Redemption.id)
    )
    return [(redemption, int(wc_id)) for redemption, wc_id in rows if wc_id is not None]


def mark_listed(session: Session, redemption_ids: Collection[int], *, now: datetime) -> None:
    """The coupons are in their customer's `loyalty_coupons` meta now."""
    if redemption_ids:
        session.execute(
            update(Redemption)
            .where(Redemption.id.in_(sorted(redemption_ids)), Redemption.listed_at.is_(None))
            .values(listed_at=now)
        )


def list_redemptions(
    session: Session, store_id: int, *, statuses: tuple[str, ...] = STATUSES, limit: int = 1000
) -> list[tuple[Redemption, int | None]]:
    """Redemptions (newest first) with their customer's WooCommerce id."""
    rows = session.execute(
        select(Redemption, Customer.wc_id)
        .join(Customer, Customer.id == Redemption.customer_id)
        .where(Redemption.store_id == store_id, Redemption.status.in_(statuses))
        .order_by(Redemption.id.desc())
        .limit(limit)
    )
    return [(redemption, wc_id) for redemption, wc_id in rows]


def _holder(session: Session, redemption_id: int) -> tuple[int, int]:
    """The redemption's store and customer, as committed (no lock)."""
    found = session.execute(
        select(Redemption.store_id, Redemption.customer_id).where(Redemption.id == redemption_id)
    ).one_or_none()
    if found is None:
        raise LookupError(f"no redemption {redemption_id}")
    return int(found[0]), int(found[1])


def _get(session: Session, redemption_id: int) -> Redemption:
    row = session.get(Redemption, redemption_id, populate_existing=True, with_for_update=True)
    if row is None:
        raise LookupError(f"no redemption {redemption_id}")
    return row
