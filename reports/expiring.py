"""Expiring points: the customers whose next expiry falls in a range, soonest first.

Read from `next_expiries` (kept by the sync and `loyalty expire`, see `sync.expiry`) through its
`(store_id, day)` index, with each customer's balance. `loyalty report expiring` asks for the
days from today to today + `[expiry] warn_days`: the customers the storefront should warn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
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


@dataclass(frozen=True)
class ExpiringTotal:
    points: int
    customers: int


def expiring_total(session: Session, store_id: int, period: Period) -> ExpiringTotal:
    """What expires in `period` in all (every customer, not only a listed page)."""
    points, customers = session.execute(
        select(func.coalesce(func.sum(NextExpiry.points), 0), func.count()).where(
            NextExpiry.store_id == store_id, *period.days(NextExpiry.day)
        )
    ).one()
    return ExpiringTotal(int(points), int(customers))


def warning_window(today: date, warn_days: int) -> Period:
    """The days `loyalty report expiring` and the dashboard show by default: today to today +
    `[expiry] warn_days` (from today on when warn_days is 0)."""
    return Period(today, today + timedelta(days=warn_days) if warn_days else None)
