"""Tiers: when customers moved up or down a tier, newest first, and how many customers hold each
tier (`tier_events`, recorded by the sync; events, not point entries).

Moves are read through the `(store_id, at, id)` index. The tier a customer holds is the `after` of
their latest move (as for the `loyalty_tier` meta); customers never moved hold none and are not
counted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ledger.models import Customer, TierEvent
from reports.period import Period


@dataclass(frozen=True)
class TierMoveRow:
    at: datetime
    customer_id: int | None  # WooCommerce id; None for a guest
    email: str | None
    before: str | None  # tier names; None: no tier
    after: str | None


def tier_moves(
    session: Session,
    store_id: int,
    period: Period,
    *,
    customer: Customer | None = None,
    limit: int = 100,
) -> list[TierMoveRow]:
    """The moves in `period` (of one customer), newest first."""
    query = (
        select(TierEvent.at, Customer.wc_id, Customer.email, TierEvent.before, TierEvent.after)
        .join(Customer, Customer.id == TierEvent.customer_id)
        .where(TierEvent.store_id == store_id, *period.moments(TierEvent.at))
        .order_by(TierEvent.at.desc(), TierEvent.id.desc())
        .limit(limit)
    )
    if customer is not None:
        query = query.where(TierEvent.customer_id == customer.id)
    return [TierMoveRow(*row) for row in session.execute(query)]


@dataclass(frozen=True)
class TierCount:
    tier: str | None  # None: moved down to no tier
    customers: int


def tier_distribution(session: Session, store_id: int, period: Period) -> list[TierCount]:
    """How many customers held each tier at the end of `period` (now when it has no end), most
    customers first: each customer's latest move by then, found through `(customer_id, at)`."""
    later = aliased(TierEvent)
    until = Period(None, period.end).moments
    newer = (
        select(later.id)
        .where(
            later.customer_id == TierEvent.customer_id, later.at > TierEvent.at, *until(later.at)
        )
        .exists()
    )
    rows = session.execute(
        select(TierEvent.after, func.count())
        .where(TierEvent.store_id == store_id, *until(TierEvent.at), ~newer)
        .group_by(TierEvent.after)
        .order_by(func.count().desc(), TierEvent.after.is_(None), TierEvent.after)
    )
    return [TierCount(tier, int(n)) for tier, n in rows]
