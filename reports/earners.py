"""Who earned most over a range of days, for Top Earning Customers.

Two plans, chosen by what the range holds (read from the daily rollup, a few hundred rows):

- **Seek** (the usual one): per customer of the store, the running total of `customer_earnings`
  through the range's last day minus the one through the day before its first: at most two index
  seeks per customer, whatever the number of entries. When no day after the range has entries, the
  first total is the customer's cached lifetime and only one seek is left. Its cost follows the
  store's customers, not its ledger.
- **Group** (a short range): the range's entries grouped by customer. Taken only when the range
  holds fewer earning entries than a tenth of the store's customers, where reading them is
  clearly cheaper than seeking every customer (a day of a big store).

Both give the same figures (tests/reports run both on the same ledger).
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.kinds import LIFETIME_KINDS
from ledger.models import Balance, CustomerEarning, PointEntry, PointRollup
from ledger.rollup_types import as_date
from reports.period import Period

_LIFETIME = sorted(kind.value for kind in LIFETIME_KINDS)
#: The seek plan costs about as much per customer as grouping costs per entry; below a tenth,
#: grouping wins by far, in between the seek plan keeps the cost bounded by the customers.
GROUP_BELOW_CUSTOMERS_FRACTION = 10


class Plan(StrEnum):
    SEEK = "seek"
    GROUP = "group"


def ranked_in_range(
    session: Session, store_id: int, period: Period, limit: int, *, plan: Plan | None = None
) -> list[tuple[int, int]]:
    """(ledger customer id, points earned) of the `limit` best earners of `period`, most first
    (ties: lower ledger id first); customers who earned nothing or lost points are left out."""
    chosen = plan or _choose(session, store_id, period)
    if chosen is Plan.GROUP:
        return _grouped(session, store_id, period, limit)
    return _sought(session, store_id, period, limit)


def _choose(session: Session, store_id: int, period: Period) -> Plan:
    entries = session.execute(
        select(func.coalesce(func.sum(PointRollup.entries), 0)).where(
            PointRollup.store_id == store_id,
            PointRollup.kind.in_(_LIFETIME),
            *period.days(PointRollup.day),
        )
    ).scalar_one()
    customers = session.execute(
        select(func.count()).select_from(Balance).where(Balance.store_id == store_id)
    ).scalar_one()
    return Plan.GROUP if entries * GROUP_BELOW_CUSTOMERS_FRACTION < customers else Plan.SEEK


def _sought(session: Session, store_id: int, period: Period, limit: int) -> list[tuple[int, int]]:
    def total_through(last_day: date | None) -> Any:
        query = select(CustomerEarning.total).where(
            CustomerEarning.customer_id == Balance.customer_id
        )
        if last_day is not None:
            query = query.where(CustomerEarning.day <= last_day)
        return func.coalesce(
            query.order_by(CustomerEarning.day.desc()).limit(1).scalar_subquery(), 0
        )

    last_day = session.execute(
        select(func.max(PointRollup.day)).where(PointRollup.store_id == store_id)
    ).scalar_one_or_none()
    if period.end is None or last_day is None or period.end >= as_date(last_day):
        earned: Any = Balance.lifetime  # nothing was earned after the range
    else:
        earned = total_through(period.end)
    if period.start is not None:
        earned = earned - total_through(period.start - timedelta(days=1))
    # Materialized, so each customer's seeks run once (not again for the filter and the sort).
    per_customer = (
        select(Balance.customer_id, earned.label("earned"))
        .where(Balance.store_id == store_id)
        .cte("per_customer")
        .prefix_with("MATERIALIZED")
    )
    rows = session.execute(
        select(per_customer.c.customer_id, per_customer.c.earned)
        .where(per_customer.c.earned > 0)
        .order_by(per_customer.c.earned.desc(), per_customer.c.customer_id)
        .limit(limit)
    )
    return [(int(cid), int(points)) for cid, points in rows]


def _grouped(session: Session, store_id: int, period: Period, limit: int) -> list[tuple[int, int]]:
    earned = func.sum(PointEntry.points)
    rows = session.execute(
        select(PointEntry.customer_id, earned)
        .where(
            PointEntry.store_id == store_id,
            PointEntry.kind.in_(_LIFETIME),
            *period.moments(PointEntry.occurred_at),
        )
        .group_by(PointEntry.customer_id)
        .having(earned > 0)
        .order_by(earned.desc(), PointEntry.customer_id)
        .limit(limit)
    )
    return [(int(cid), int(points)) for cid, points in rows]
