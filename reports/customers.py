"""Top Earning Customers (Points History is `reports.history`).

Top: ranked by points earned in the range (the lifetime kinds: purchases and other earnings, net
of their revocations, and points moved from the customer's own guest profile), not by balance.
Over all time that is the cached lifetime, read through its index; over a range, see
`reports.earners`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.models import Balance, Customer, TrackedOrder
from reports.earners import ranked_in_range
from reports.period import Period


@dataclass(frozen=True)
class TopCustomer:
    rank: int
    customer_id: int | None  # the WooCommerce id; None for a guest
    email: str | None
    earned: int  # in the range
    earning_orders: int  # orders carrying points for the customer now (all time)
    balance: int
    lifetime: int


def top_customers(
    session: Session, store_id: int, period: Period, *, limit: int = 10
) -> list[TopCustomer]:
    """The `limit` customers who earned most in `period` (ties: lower ledger id first)."""
    if period.start is None and period.end is None:
        ranked = [
            (cid, int(lifetime))
            for cid, lifetime in session.execute(
                select(Balance.customer_id, Balance.lifetime)
                .where(Balance.store_id == store_id, Balance.lifetime > 0)
                .order_by(Balance.lifetime.desc(), Balance.customer_id)
                .limit(limit)
            )
        ]
    else:
        ranked = ranked_in_range(session, store_id, period, limit)
    ids = [cid for cid, _ in ranked]
    people = {
        c.id: (c, b)
        for c, b in session.execute(
            select(Customer, Balance)
            .outerjoin(Balance, Balance.customer_id == Customer.id)
            .where(Customer.id.in_(ids))
        )
    }
    orders = _earning_orders(session, ids)
    top = []
    for rank, (cid, points) in enumerate(ranked, 1):
        customer, balance = people[cid]
        top.append(
            TopCustomer(
                rank=rank,
                customer_id=customer.wc_id,
                email=customer.email,
                earned=points,
                earning_orders=orders.get(cid, 0),
                balance=balance.balance if balance else 0,
                lifetime=balance.lifetime if balance else 0,
            )
        )
    return top


def _earning_orders(session: Session, customer_ids: list[int]) -> dict[int, int]:
    """Orders that carry points for each customer now (a registered guest's orders included)."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(TrackedOrder.customer_id, func.count())
        .where(
            TrackedOrder.customer_id.in_(customer_ids),
            TrackedOrder.points > 0,
            TrackedOrder.deleted.is_(False),
        )
        .group_by(TrackedOrder.customer_id)
    )
    return {int(cid): int(n) for cid, n in rows if cid is not None}
