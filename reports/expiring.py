"""Expiring points: the customers whose next expiry falls in a range, soonest first.

Read from `next_expiries` (kept by the sync and `loyalty expire`, see `sync.expiry`) through its
`(store_id, day)` index, with each customer's balance. `loyalty report expiring` asks for the
days from today to today + `[expiry] warn_days`: the customers the storefront should warn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models import Balance, Customer, NextExpiry
from reports.period import Period


@dataclass(frozen=True)
class ExpiringCustomer:
    customer_id: int | None  # WooCommerce id; None for a guest
    email: str | None
    points: int  # what expires on `date`
    date: date  # points expire at 00:00 UTC of this day
    balance: int


def expiring_customers(
    session: Session, store_id: int, period: Period, *, limit: int = 100
) -> list[ExpiringCustomer]:
    """Customers whose next expiry is in `period`, soonest first, then most points first."""
    query = (
        select(Customer.wc_id, Customer.email, NextExpiry.points, NextExpiry.day, Balance.balance)
        .join(Customer, Customer.id == NextExpiry.customer_id)
        .outerjoin(Balance, Balance.customer_id == NextExpiry.customer_id)
        .where(NextExpiry.store_id == store_id, *period.days(NextExpiry.day))
        .order_by(NextExpiry.day, NextExpiry.points.desc(), NextExpiry.customer_id)
        .limit(limit)
    )
    return [
        ExpiringCustomer(wc_id, email, int(points), day, int(balance or 0))
        for wc_id, email, points, day, balance in session.execute(query)
    ]
