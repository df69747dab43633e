"""Per product: which customers earned points on which product (the appointment-style shop that
rewards per service). Read from the entry lines: one grouped query, newest products' buyers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.models import Customer, EntryLine, Product
from reports.period import Period


@dataclass(frozen=True)
class ProductCustomer:
    product_id: int
    name: str
    customer_id: int | None  # WooCommerce id; None for a guest
    email: str | None
    points: int
    purchases: int  # orders of this product that hold points for the customer


def product_customers(
    session: Session,
    store_id: int,
    period: Period,
    *,
    product_id: int | None = None,
    limit: int = 100,
) -> list[ProductCustomer]:
    """Points per product and customer in `period`, product by product, most points first."""
    points = func.sum(EntryLine.points)
    query = (
        select(
            EntryLine.product_id,
            EntryLine.customer_id,
            points.label("points"),
            func.count(func.distinct(EntryLine.source_ref)).label("purchases"),
        )
        .where(EntryLine.store_id == store_id, EntryLine.product_id != 0)
        .where(*period.days(EntryLine.day))
        .group_by(EntryLine.product_id, EntryLine.customer_id)
        .having(points > 0)
    )
    if product_id is not None:
        query = query.where(EntryLine.product_id == product_id)
    grouped = query.order_by(EntryLine.product_id, points.desc(), EntryLine.customer_id).limit(
        limit
    )
    sub = grouped.subquery()
    rows = session.execute(
        select(sub, Product.name, Customer.wc_id, Customer.email)
        .join(Customer, Customer.id == sub.c.customer_id)
        .outerjoin(
            Product, (Product.store_id == store_id) & (Product.product_id == sub.c.product_id)
        )
        .order_by(sub.c.product_id, sub.c.points.desc(), sub.c.customer_id)
    )
    return [
        ProductCustomer(
            product_id=int(r.product_id),
            name=r.name or "",
            customer_id=r.wc_id,
            email=r.email,
            points=int(r.points),
            purchases=int(r.purchases),
        )
        for r in rows
    ]
