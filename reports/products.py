"""Per product: which customers earned points on which product (the appointment-style shop that
rewards per service). Over all time it reads `product_customers` (the lines summed per product and
customer, moved with them) through its (store, product, points) index: the first `limit` rows,
whatever the size of the ledger. Over a range, one grouped query over the range's lines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from ledger.models import Customer, EntryLine, Product, ProductCustomerSum
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
    if period.start is None and period.end is None:
        grouped = _all_time(store_id, product_id, limit)
    else:
        grouped = _in_range(store_id, period, product_id, limit)
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


def _all_time(store_id: int, product_id: int | None, limit: int) -> Select[int, int, int, int]:
    pc = ProductCustomerSum
    query = select(
        pc.product_id, pc.customer_id, pc.points.label("points"), pc.purchases.label("purchases")
    ).where(pc.store_id == store_id, pc.product_id != 0, pc.points > 0)
    if product_id is not None:
        query = query.where(pc.product_id == product_id)
    return query.order_by(pc.product_id, pc.points.desc(), pc.customer_id).limit(limit)


def _in_range(
    store_id: int, period: Period, product_id: int | None, limit: int
) -> Select[int, int, int, int]:
    points = func.sum(EntryLine.points)
    bought: Any = EntryLine.source_ref  # an order counts where its first line of the product is
    if period.start is not None:  # a refund in the range of an order bought before: no purchase
        earlier = aliased(EntryLine)
        before = exists().where(
            earlier.store_id == EntryLine.store_id,
            earlier.source_ref == EntryLine.source_ref,
            earlier.product_id == EntryLine.product_id,
            earlier.customer_id == EntryLine.customer_id,
            earlier.day < period.start,
        )
        bought = case((~before, EntryLine.source_ref))
    query = (
        select(
            EntryLine.product_id,
            EntryLine.customer_id,
            points.label("points"),
            func.count(func.distinct(bought)).label("purchases"),
        )
        .where(EntryLine.store_id == store_id, EntryLine.product_id != 0)
        .where(*period.days(EntryLine.day))
        .group_by(EntryLine.product_id, EntryLine.customer_id)
        .having(points > 0)
    )
    if product_id is not None:
        query = query.where(EntryLine.product_id == product_id)
    return query.order_by(EntryLine.product_id, points.desc(), EntryLine.customer_id).limit(limit)
