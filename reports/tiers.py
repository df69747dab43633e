"""Tier moves: when customers moved up or down a tier, newest first (`tier_events`, recorded by the
sync; events, not point entries). Read through the `(store_id, at, id)` index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

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
