"""Tiers in the ledger: the earnings tiers are decided on, and the moves between tiers.

`earnings` reads the lifetime-kind entries (what counts toward tiers: earned, and revoked when
negative) of some customers, through the `(customer_id, occurred_at, id, kind, points)` index.
`tier_events` holds each customer's moves (events, not point entries); the latest one's `after`
is the tier held, and each move's `entry_id` places it in Points History. Decisions are
`rules.tiers`'; the sync (`sync.tiers`, `sync.order_points`) reads and records here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.kinds import LIFETIME_KINDS
from ledger.models import PointEntry, TierEvent

CHUNK = 500
_LIFETIME = sorted(kind.value for kind in LIFETIME_KINDS)


def earnings(
    session: Session, customer_ids: Collection[int], *, before: datetime | None = None
) -> dict[int, list[tuple[datetime, int]]]:
    """(when, points) of each customer's lifetime-kind entries (before `before`), in time order."""
    ids = sorted(set(customer_ids))
    found: dict[int, list[tuple[datetime, int]]] = {c: [] for c in ids}
    for start in range(0, len(ids), CHUNK):
        query = (
            select(PointEntry.customer_id, PointEntry.occurred_at, PointEntry.points)
            .where(
                PointEntry.customer_id.in_(ids[start : start + CHUNK]),
                PointEntry.kind.in_(_LIFETIME),
            )
            .order_by(PointEntry.customer_id, PointEntry.occurred_at, PointEntry.id)
        )
        if before is not None:
            query = query.where(PointEntry.occurred_at < before)
        for customer, at, points in session.execute(query):
            found[int(customer)].append((at, int(points)))
    return found


def held_tiers(
    session: Session, customer_ids: Collection[int]
) -> dict[int, tuple[str | None, datetime]]:
    """Each customer's latest move: (the tier held since, when); customers never moved left out."""
    ids = sorted(set(customer_ids))
    found: dict[int, tuple[str | None, datetime]] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        latest = (
            select(TierEvent.customer_id, func.max(TierEvent.at).label("at"))
            .where(TierEvent.customer_id.in_(chunk))
            .group_by(TierEvent.customer_id)
            .subquery()
        )
        rows = session.execute(
            select(TierEvent.customer_id, TierEvent.after, TierEvent.at).join(
                latest,
                (latest.c.customer_id == TierEvent.customer_id) & (latest.c.at == TierEvent.at),
            )
        )
        for customer, after, at in rows:
            found[int(customer)] = (after, at)
    return found


def record_moves(
    session: Session,
    store_id: int,
    moves: Sequence[tuple[int, datetime, str | None, str | None]],
    *,
    now: datetime,
) -> None:
    """Record (customer, at, before, after) moves, each placed in Points History right after the
    customer's last entry at its moment (`TierEvent.entry_id`)."""
    for customer, at, before, after in moves:
        session.add(
            TierEvent(
                store_id=store_id,
                customer_id=customer,
                at=at,
                before=before,
                after=after,
                recorded_at=now,
                entry_id=entry_at(session, customer, at),
            )
        )
    session.flush()


def entry_at(session: Session, customer_id: int, at: datetime) -> int:
    """The customer's last entry (highest id) that occurred at or before `at`; 0 when none.
    Read through the `(customer_id, occurred_at, id, ...)` index."""
    found = session.execute(
        select(func.max(PointEntry.id)).where(
            PointEntry.customer_id == customer_id, PointEntry.occurred_at <= at
        )
    ).scalar_one()
    return int(found or 0)
