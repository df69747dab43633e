"""What became of issued coupons: used, expired unused, deleted in the store, or refunded after use.

For the sync's redemption steps (`sync.redemption_steps`), after the sources' listings. Two sources
of truth, both cheap:
- the orders the sync reads anyway: a redemption's code in the `coupon_lines` of a completed (or
  processing, on-hold) order marks it used with that order's id (an unpaid one's only names the
  order using a coupon its `usage_count` marks used: `HELD_STATUSES`); in a refunded order, the
  refund is recorded on the redemption (WooCommerce does not give the coupon back); in a
  cancelled one, WooCommerce gives the use back: once the coupon's `usage_count` reads 0 again,
  the redemption is issued again (used again, or expired unused with its points returned);
- the issued coupons themselves, read by id (`GET coupons?include=`, 100 a request): a
  `usage_count` above zero marks it used; one gone from the store (deleted, or in the trash) or
  past its expiry unused gives the points back once, unless `return_points_on_expiry` is false.
  A coupon the store answers with a field missing or of the wrong type (`usage_count` as text, no
  `status`) is quarantined naming the field, and its redemption left as it is: read as unused or
  gone, it gave points back for a coupon that was used or still live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from ledger import redemptions as ledger
from ledger.batches import IN_BATCH, chunks
from ledger.models import Redemption, TrackedOrder
from rules.redemption import has_code_shape
from sync.client import StoreClient
from sync.coupons import LIVE_STATUSES, StoreCoupon, fetch_coupon, read_coupon
from sync.errors import StoreError
from sync.paging import ListingStalled
from sync.quarantine import Quarantine, Rejected, parse_page, valid_id

UnitOfWork = Callable[[], AbstractContextManager[Session]]
USED_STATUSES = frozenset({"completed", "processing", "on-hold"})
#: An order in these no longer uses its coupon: WooCommerce gives the use back when it is
#: cancelled (a cancelled order trashed keeps it given back).
DROPPED_STATUSES = frozenset({"cancelled", "trash"})
#: An order in these holds its coupon's use in WooCommerce (counted once the order is pending,
#: kept when its payment fails, given back only by a cancel) without being a use the ledger
#: takes on its own word (not paid). Seen on a redemption no order uses, it is recorded as the
#: order using it, when the coupon's `usage_count` marks it used, so that its cancel has the
#: store asked again even once the order is deleted outright (`_used_by_dropped_orders`).
HELD_STATUSES = frozenset({"pending", "failed"})
SOURCE = "coupons"  # as quarantined items are listed
#: The redemptions an order using their code moves on: issued or used, and those closed unused
#: (expired, deleted) whose coupon was used all the same (restored from the trash, used as the
#: expiry passed): their points are taken again.
_FOLLOWED = (ledger.ISSUED, ledger.USED, *ledger.CLOSED_UNUSED)
_BY_ID = {"orderby": "id"}
#: Codes looked up in one query (the ledger's size for IN lists).
CODES_A_QUERY = IN_BATCH


@dataclass
class LifecycleCounts:
    used: int = 0
    given_back: int = 0  # used by an order since cancelled: issued again
    expired: int = 0
    deleted: int = 0
    refunded: int = 0
    quarantined: int = 0  # issued coupons the store answered unreadably: nothing moved


@dataclass
class CouponUses:
    """Codes seen in the coupon lines of the orders a sync read: code -> (order id, status).

    Only codes shaped like the ones this program issues (`rules.redemption.has_code_shape`) are
    kept: the shop's own coupons (`summer10`, on thousands of orders) are none of the sync's
    business, and keeping them would grow with the shop's orders."""

    seen: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def see(self, orders: Iterable[Any]) -> None:
        for order in orders:
            if not isinstance(order, dict) or not isinstance(order.get("id"), int):
                continue
            for line in order.get("coupon_lines") or []:
                code = line.get("code") if isinstance(line, dict) else None
                if isinstance(code, str) and has_code_shape(code := code.strip().lower()):
                    uses = self.seen.setdefault(code, [])
                    uses.append((int(order["id"]), str(order.get("status", ""))))


def track_redemptions(
    client: StoreClient,
    unit_of_work: UnitOfWork,
    store_id: int,
    uses: CouponUses,
    *,
    return_points: bool,
    now: datetime,
    store_now: datetime | None = None,
    counts: LifecycleCounts | None = None,
) -> LifecycleCounts:
    """Move issued redemptions on (used, expired, deleted) and record refunds of used ones,
    counted in `counts` as each commits (so a caller still has them when a read stalls).

    A coupon has expired when the store says so: by the `date_expires_gmt` it answers (a shop
    manager may have moved it, or taken it off) on the store's clock (`store_now`, default
    `now`), else by the expiry it was created with. Points came back while the store still took
    the coupon (its clock behind this machine's, an expiry extended in the store)."""
    store_now = now if store_now is None else store_now
    counts = LifecycleCounts() if counts is None else counts
    refunds: list[_Refund] = []
    holders: dict[int, int] = {}  # redemption -> an order holding its code, not paid
    with unit_of_work() as session:
        seen_dropped = _apply_orders(session, store_id, uses, counts, now, refunds, holders)
        dropped: list[tuple[int, int, int, datetime | None]] = []
        dropped += _used_by_dropped_orders(session, store_id)  # after the uses above moved
        listed = {redemption_id for redemption_id, _, _, _ in dropped}
        dropped += [
            (redemption_id, coupon_id, order_id, None)
            for redemption_id, coupon_id, order_id in seen_dropped
            if redemption_id not in listed  # used by an order no sync saw (none tracked)
        ]
    if dropped:
        _issue_again(client, unit_of_work, dropped, counts, now)
    if refunds:
        _record_refunds(client, unit_of_work, store_id, refunds, counts, now)
    with unit_of_work() as session:
        issued = _issued(session, store_id)
    quarantine = Quarantine(store_id)
    with unit_of_work() as session:  # coupons no longer followed: nothing to fix in the store
        followed = {str(coupon_id) for _, coupon_id, _ in issued}
        stale = quarantine.open_refs(session, SOURCE) - followed
        quarantine.release(session, SOURCE, stale, now=now)
    stalled: ListingStalled | None = None
    for start in range(0, len(issued), client.per_page):  # a request and a transaction a batch
        batch = issued[start : start + client.per_page]
        try:
            read = _read_coupons(client, [coupon_id for _, coupon_id, _ in batch])
        except ListingStalled as error:  # the batches after it are still read (a review, 4 Dec)
            stalled = stalled or error
            continue
        fates = [
            (redemption_id, _fate(read, coupon_id, expires_at, store_now))
            for redemption_id, coupon_id, expires_at in batch
        ]
        with unit_of_work() as session:
            quarantine.add(session, read.rejected, now=now)
            quarantine.release(session, SOURCE, [str(c.id) for c, _ in read.parsed], now=now)
            closing = [r for r, fate in fates if fate in (ledger.DELETED, ledger.EXPIRED)]
            ledger.lock_holders(session, store_id, closing, now=now)  # together, in order
            for redemption_id, fate in fates:
                if fate == _UNREADABLE:
                    counts.quarantined += 1  # neither used nor gone: left as it is, quarantined
                elif fate == ledger.USED:  # by the order holding its code, if one was seen
                    holder = holders.get(redemption_id)
                    counts.used += ledger.mark_used(session, redemption_id, holder, now=now)
                elif fate == ledger.DELETED:
                    counts.deleted += ledger.close_unused(
                        session, redemption_id, ledger.DELETED, return_points, now=now
                    )
                elif fate == ledger.EXPIRED:
                    counts.expired += ledger.close_unused(
                        session, redemption_id, ledger.EXPIRED, return_points, now=now
                    )
    if stalled is not None:  # the step stops, said, once every other batch is done
        raise stalled
    return counts


_UNREADABLE = "unreadable"


def _fate(
    read: _CouponsRead, coupon_id: int, expires_at: datetime, store_now: datetime
) -> str | None:
    """What the store's answer says of an issued coupon: `_UNREADABLE` (left as it is,
    quarantined), used (in the trash too), deleted (gone, or in the trash unused), expired
    unused, or None (live and unused)."""
    coupon = read.found.get(coupon_id)
    if coupon_id in read.unreadable:
        return _UNREADABLE
    if coupon is not None and coupon.usage_count > 0:
        return ledger.USED
    if coupon is None or coupon.status not in LIVE_STATUSES:
        return ledger.DELETED
    if _expired(coupon, expires_at, store_now):
        return ledger.EXPIRED
    return None


def _expired(coupon: StoreCoupon, created_with: datetime, store_now: datetime) -> bool:
    """Past the expiry the store answered (none: it never expires), else the one it was made
    with, on the store's clock."""
    ends = coupon.expires_at if coupon.names_expiry else created_with
    return ends is not None and ends <= store_now


@dataclass(frozen=True)
class _Refund:
    """A refunded order carrying the code of a redemption not used (issued, or closed unused):
    a use only if the store still counts it (`_record_refunds`)."""

    redemption_id: int
    coupon_id: int
    order_id: int
    instead_of: frozenset[int]


def _apply_orders(
    session: Session,
    store_id: int,
    uses: CouponUses,
    counts: LifecycleCounts,
    now: datetime,
    refunds: list[_Refund],
    holders: dict[int, int],
) -> list[tuple[int, int, int]]:
    """Redemptions used or refunded by the orders seen; returns (redemption, coupon, order) of
    those used by an order now cancelled or deleted outright, whose use the store may have given
    back (`_issue_again` asks it). A refunded order's code on a redemption no order uses is put
    in `refunds`, for the store to say whether the use counts. An order holding the code
    unpaid (`HELD_STATUSES`), with no paid one seen, is recorded on a redemption used by no
    order, and put in `holders` for one the coupon's `usage_count` marks used in this run."""
    if not uses.seen:
        return []
    rows = [
        row
        for codes in chunks(sorted(uses.seen), CODES_A_QUERY)
        for row in session.execute(
            select(
                Redemption.id,
                Redemption.code,
                Redemption.coupon_id,
                Redemption.status,
                Redemption.used_order_id,
            ).where(
                Redemption.store_id == store_id,
                Redemption.code.in_(codes),
                Redemption.status.in_(_FOLLOWED),
            )
        ).all()
    ]
    cancelled: list[tuple[int, int, int]] = []
    # a use of a coupon closed unused takes its points again: those customers' rows together
    again = [r.id for r in rows if r.status in ledger.CLOSED_UNUSED and r.code in uses.seen]
    ledger.lock_holders(session, store_id, again, now=now)
    gone_before = _dropped_orders(session, store_id, {r.used_order_id for r in rows})
    for redemption_id, code, coupon_id, held, used_by in rows:
        seen = sorted(uses.seen.get(code, []))
        dropped = frozenset(order_id for order_id, status in seen if status in DROPPED_STATUSES)
        if used_by in gone_before:  # cancelled in an earlier run: a use seen now replaces it
            dropped |= {used_by}
        used_now = held == ledger.USED or any(s in USED_STATUSES for _, s in seen)
        for order_id, status in seen:
            if status in USED_STATUSES:  # used by it now, instead of an order since cancelled
                counts.used += ledger.mark_used(
                    session, redemption_id, order_id, now=now, instead_of=dropped
                )
            elif status != "refunded":
                continue
            elif used_now or coupon_id is None:
                counts.refunded += ledger.record_refund(
                    session, redemption_id, order_id, now=now, instead_of=dropped
                )
            else:  # cancelled first, its use may have been given back: the store says
                refunds.append(_Refund(int(redemption_id), int(coupon_id), order_id, dropped))
        holding = [order_id for order_id, status in seen if status in HELD_STATUSES]
        if holding and not any(s in USED_STATUSES for _, s in seen):
            holders[int(redemption_id)] = holding[-1]
            if held == ledger.USED:  # used by its usage_count alone: by this order (no count)
                ledger.mark_used(session, redemption_id, holding[-1], now=now)
        if held != ledger.USED or coupon_id is None or any(s in USED_STATUSES for _, s in seen):
            continue
        for order_id in sorted(dropped):
            if used_by in (order_id, None):  # used by this order (or by one no sync saw)
                cancelled.append((int(redemption_id), int(coupon_id), order_id))
                break
    return cancelled


def _used_by_dropped_orders(
    session: Session, store_id: int
) -> list[tuple[int, int, int, datetime]]:
    """(redemption, coupon, order, when the order was last seen) of the redemptions used by an
    order the ledger last saw cancelled, in the trash or deleted outright, and seen so since the
    store last answered for it (`Redemption.drop_checked`): the store may have given the use
    back. Read from the ledger, not from the orders this run saw, so a check the store did not
    answer is made again by the next run, and an order only a customer's resync found deleted is
    followed too (a review, 4 Dec: a deleted order is never read again, so its coupon stayed used
    for good)."""
    rows = session.execute(
        select(
            Redemption.id,
            Redemption.coupon_id,
            Redemption.used_order_id,
            TrackedOrder.last_seen_at,
        )
        .join(
            TrackedOrder,
            (TrackedOrder.store_id == Redemption.store_id)
            & (TrackedOrder.order_id == Redemption.used_order_id),
        )
        .where(
            Redemption.store_id == store_id,
            Redemption.status == ledger.USED,
            Redemption.coupon_id.is_not(None),
            _dropped(),
            Redemption.drop_checked.is_(None)
            | (TrackedOrder.last_seen_at > Redemption.drop_checked),
        )
        .order_by(Redemption.id)
    )
    return [(int(r), int(c), int(o), s) for r, c, o, s in rows if c is not None and o is not None]


def _dropped_orders(session: Session, store_id: int, order_ids: set[int | None]) -> set[int]:
    """Of `order_ids`, the orders the ledger last saw cancelled, in the trash, or deleted."""
    wanted = sorted(oid for oid in order_ids if oid is not None)
    found: set[int] = set()
    for chunk in chunks(wanted):
        found.update(
            session.execute(
                select(TrackedOrder.order_id).where(
                    TrackedOrder.store_id == store_id, TrackedOrder.order_id.in_(chunk), _dropped()
                )
            ).scalars()
        )
    return found


def _dropped() -> ColumnElement[bool]:
    """A tracked order last seen cancelled, in the trash, or deleted outright."""
    return TrackedOrder.deleted.is_(True) | TrackedOrder.status.in_(sorted(DROPPED_STATUSES))


def _issue_again(
    client: StoreClient,
    unit_of_work: UnitOfWork,
    cancelled: list[tuple[int, int, int, datetime | None]],
    counts: LifecycleCounts,
    now: datetime,
) -> None:
    """The redemptions used by an order since cancelled (or deleted outright: cancelled first,
    or WooCommerce still counts the use) whose coupon the store reads as unused again
    (`usage_count` 0, live or in the trash): issued again, and the pass over issued coupons then
    keeps them (live), or closes them with their points returned (expired, trashed). They were
    kept for good, as if used (a known limitation until 4 Dec; the trashed coupon found by a
    review). A coupon still used stays used, checked (`ledger.redemptions.confirm_used`); one
    the store did not answer, or not readably, is asked again by the next run
    (`_used_by_dropped_orders`).

    A coupon deleted outright (404) stays used too, checked, on purpose, and no rule can tell
    the cases where its use was in fact given back: the 404 erased the only record of its uses
    (`usage_count`, `used_by`), and the orders the ledger saw are not all the orders that used
    it. An order placed with the code, paid and deleted outright between two syncs is in no
    listing and tracked by none, and deleting it keeps its use (only a cancel gives it back);
    one placed after this run listed its orders is seen by the next run only; an order
    quarantined unreadable shows no coupon lines. So 'the ledger saw the order cancelled, saw
    no other order use the code, and the coupon is gone' also holds when a paid order used it
    (the paid order no sync saw, tests/e2e/test_redemption_lifecycle.py; a review, 4 Dec,
    found a paid order's coupon given back on a 404).
    The two mistakes are not alike: points kept for a coupon nobody used show in `loyalty
    redemptions` (used by an order the ledger has cancelled or deleted) and the shop owner
    gives them back with `loyalty adjust`; points given back for a coupon a paid order used are
    spent twice, and nothing left in the store would ever show it."""
    found, untold = _coupons_told(client, {coupon_id for _, coupon_id, _, _ in cancelled})
    with unit_of_work() as session:
        for redemption_id, coupon_id, order_id, seen in cancelled:
            coupon = found.get(coupon_id)
            if coupon_id in untold:
                continue
            if coupon is None or coupon.usage_count:  # deleted outright, or still used
                if seen is not None:  # not asked again until the order is seen again
                    ledger.confirm_used(session, redemption_id, seen)
                continue
            counts.given_back += ledger.mark_unused(session, redemption_id, order_id, now=now)


def _record_refunds(
    client: StoreClient,
    unit_of_work: UnitOfWork,
    store_id: int,
    refunds: list[_Refund],
    counts: LifecycleCounts,
    now: datetime,
) -> None:
    """Refunded orders carrying the code of a redemption no order uses: WooCommerce keeps a
    refunded order's use, unless the order was cancelled before (the cancel gave it back, the
    refund counts none again). So the coupon is read: a use it still counts (or a coupon not
    readable, or deleted outright: as before, and as `_issue_again` decides a 404) makes the
    redemption used, refunded by that order; a coupon that reads unused leaves it as it is. (It
    was marked used unread: a coupon given back by a cancel, expired unused with its points
    returned, took them again when the cancelled order was refunded, for a coupon nobody used;
    found by tests/e2e/test_soak_redemptions.py.)"""
    found, untold = _coupons_told(client, {refund.coupon_id for refund in refunds})
    kept = [
        refund
        for refund in refunds
        if refund.coupon_id in untold
        or (coupon := found.get(refund.coupon_id)) is None
        or coupon.usage_count > 0
    ]
    if not kept:
        return
    with unit_of_work() as session:  # a use may take points returned: the holders first
        ledger.lock_holders(session, store_id, [r.redemption_id for r in kept], now=now)
        for refund in kept:
            counts.refunded += ledger.record_refund(
                session,
                refund.redemption_id,
                refund.order_id,
                now=now,
                instead_of=refund.instead_of,
            )


def _coupons_told(
    client: StoreClient, coupon_ids: set[int]
) -> tuple[dict[int, StoreCoupon], set[int]]:
    """The coupons the store has (live, or in the trash), read a batch a request
    (`_read_coupons`), and those it did not tell of (a batch not answered, an item unreadable:
    asked again by the next run); the others were deleted outright."""
    ordered = sorted(coupon_ids)
    found: dict[int, StoreCoupon] = {}
    untold: set[int] = set()
    for start in range(0, len(ordered), client.per_page):
        batch = ordered[start : start + client.per_page]
        try:
            read = _read_coupons(client, batch)
        except StoreError:
            untold.update(batch)
            continue
        found |= read.found
        untold |= read.unreadable
    return found, untold


@dataclass
class _CouponsRead:
    """Coupons asked for by id: what the store answered of each."""

    found: dict[int, StoreCoupon]  # live, or in the trash
    unreadable: set[int]  # not told: answered unreadably (quarantined), or not answered
    parsed: list[tuple[StoreCoupon, Any]]
    rejected: list[Rejected]  # the unreadable items, for the quarantine
    # the others were deleted outright (404)


def _read_coupons(client: StoreClient, coupon_ids: list[int]) -> _CouponsRead:
    """A batch of coupons by id (`include=`, one request; StoreError when it fails). `include=`
    leaves out the trash: each coupon missing is asked for by id, where the trash answers
    (used before it was trashed, it stays used) and 404 means deleted. An item without a usable
    id may be any of the coupons asked for: then none missing is taken for deleted (a coupon
    answered with `"id": "44"` gave its points back while live and used)."""
    items = client.get_by_ids("coupons", coupon_ids, _BY_ID, unusable_missing=True)
    parsed, rejected = parse_page(SOURCE, items, read_coupon)
    found = {coupon.id: coupon for coupon, _ in parsed}
    unreadable = {coupon_id for item in rejected if (coupon_id := valid_id(item.raw)) is not None}
    blind = any(valid_id(item.raw) is None for item in rejected)
    for coupon_id in coupon_ids:
        if coupon_id in found or coupon_id in unreadable:
            continue
        if blind:
            unreadable.add(coupon_id)
            continue
        try:
            coupon = fetch_coupon(client, coupon_id)
        except StoreError:
            unreadable.add(coupon_id)  # asked again next time
            continue
        if coupon is not None:
            found[coupon_id] = coupon
    return _CouponsRead(found, unreadable, parsed, rejected)


def _issued(session: Session, store_id: int) -> list[tuple[int, int, datetime]]:
    rows = session.execute(
        select(Redemption.id, Redemption.coupon_id, Redemption.expires_at)
        .where(
            Redemption.store_id == store_id,
            Redemption.status == ledger.ISSUED,
            Redemption.coupon_id.is_not(None),
        )
        .order_by(Redemption.id)
    ).all()
    return [(int(r), int(c), e) for r, c, e in rows if c is not None]
