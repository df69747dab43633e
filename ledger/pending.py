"""Pending purchase points in the ledger: where they are held and when each order first earned.

An order's pending points are held by the reference `pending:order:{id}` (kind `pending`, outside
the spendable balance: `balances.pending`), its available ones by `order:{id}` as always. The sync
(`sync.order_points`, deciding with `rules.pending`) reads here when each order first earned, to
know when its window ends, and which orders hold pending points whose window has ended.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.entries import holds_refs
from ledger.models import PointEntry

PENDING_PREFIX = "pending:"
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
    """When each order first carried points, pending or available: the earliest entry of
    `order:{id}` or `pending:order:{id}`. Orders that never earned are left out."""
    refs = sorted({*order_refs, *(pending_ref(r) for r in order_refs)})
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
            order = ref.removeprefix(PENDING_PREFIX)
            if order not in found or earliest < found[order]:
                found[order] = earliest
    return found


def matured_orders(session: Session, store_id: int, *, days: int, now: datetime) -> list[int]:
    """Order ids holding pending points whose window (`days` from when the order first earned)
    has ended by `now`, ascending. Read through the `(store_id, source_ref)` index."""
    prefix = pending_ref("order:")
    rows = session.execute(
        select(PointEntry.source_ref)
        .where(
            PointEntry.store_id == store_id,
            PointEntry.source_ref >= prefix,
            PointEntry.source_ref < prefix[:-1] + ";",
        )
        .group_by(PointEntry.source_ref)
        .having(func.sum(PointEntry.points) > 0)
    ).scalars()
    holding = [ref.removeprefix(PENDING_PREFIX) for ref in rows]
    earned = first_earned(session, store_id, holding)
    window = timedelta(days=days)
    return sorted(
        int(ref.split(":", 1)[1])
        for ref in holding
        if ref in earned and earned[ref] + window <= now
    )
