"""Pending purchase points in the ledger: where they are held and when each order first earned.

An order's pending points are held by the reference `pending:order:{id}` (kind `pending`, outside
the spendable balance: `balances.pending`), its available ones by `order:{id}` as always. A
recalculation's difference beside the order (`recalc:order:{id}`) waits out the same window on
`pending:recalc:order:{id}`. The sync (`sync.order_points`, deciding with `rules.pending`) reads
here when each order first earned, to know when its window ends, and which orders hold pending
points whose window has ended.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.entries import holds_refs, refs_starting
from ledger.models import PointEntry

PENDING_PREFIX = "pending:"
ORDER_PREFIX = "order:"
#: A recalculation's difference beside `order:{id}` (`sync.order_recalc`).
RECALC_PREFIX = "recalc:order:"
CHUNK = 500


def holds_pending(session: Session, store_id: int) -> bool:
    """Whether any reference of the store has ever held pending points (an index range read)."""
    return holds_refs(session, store_id, PENDING_PREFIX)


def pending_ref(order_ref: str) -> str:
    """`pending:order:{id}` for `order:{id}`."""
    return f"{PENDING_PREFIX}{order_ref}"


def first_earned(
    session: Session, store_id: int, order_refs: Collection[str]
) -> dict[str, datetime]:
    """When each order first carried points, pending or available, its own or a recalculation's
    difference: the earliest entry of `order:{id}`, `recalc:order:{id}` or their `pending:`
    references. Orders that never earned are left out."""
    order_of = {
        ref: order
        for order in order_refs
        for own in (order, recalc_ref(order))
        for ref in (own, pending_ref(own))
    }
    refs = sorted(order_of)
    found: dict[str, datetime] = {}
    for start in range(0, len(refs), CHUNK):
        rows = session.execute(
            select(PointEntry.source_ref, func.min(PointEntry.occurred_at))
            .where(
                PointEntry.store_id == store_id,
                PointEntry.source_ref.in_(refs[start : start + CHUNK]),
            )
            .group_by(PointEntry.source_ref)
        )
        for ref, earliest in rows:
            order = order_of[ref]
            if order not in found or earliest < found[order]:
                found[order] = earliest
    return found


def recalc_ref(order_ref: str) -> str:
    """`recalc:order:{id}` for `order:{id}`."""
    return f"{RECALC_PREFIX}{order_ref.removeprefix(ORDER_PREFIX)}"


def matured_orders(session: Session, store_id: int, *, days: int, now: datetime) -> list[int]:
    """Order ids holding pending points (their own, or a recalculated difference's, which may be
    negative) whose window (`days` from when the order first earned) has ended by `now`,
    ascending. Read through the `(store_id, source_ref)` index."""
    holding: set[str] = set()
    for own in (ORDER_PREFIX, RECALC_PREFIX):
        prefix = pending_ref(own)
        rows = session.execute(
            select(PointEntry.source_ref)
            .where(PointEntry.store_id == store_id, refs_starting(prefix))
            .group_by(PointEntry.source_ref)
            .having(func.sum(PointEntry.points) != 0)
        ).scalars()
        holding.update(ORDER_PREFIX + ref.removeprefix(prefix) for ref in rows)
    earned = first_earned(session, store_id, holding)
    window = timedelta(days=days)
    return sorted(
        int(ref.removeprefix(ORDER_PREFIX))
        for ref in holding
        if ref in earned and earned[ref] + window <= now
    )
