"""Points Sources: where points come from, and for purchases, which categories and products.

Sources are summed from the daily rollup; categories and products from the per-product rollup.
Each source shows what it credited (`earned`), what was taken back (`revoked`), the net, and its
share of all credited points. Category 0 is "not known" (the sync learns categories only when a
rule needs them); product 0 is shipping, fees and purchases recorded before products were.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.kinds import EARNING_SOURCES, OUTSIDE_BALANCE_KINDS, Source
from ledger.models import PointRollup, Product, ProductRollup
from reports.period import Period

#: Pending points are not earned until they mature (then they are appended as their source's kind).
_NOT_EARNED_YET = sorted(kind.value for kind in OUTSIDE_BALANCE_KINDS)


@dataclass(frozen=True)
class SourceRow:
    source: Source
    earned: int
    revoked: int
    net: int
    share: Decimal  # earned / all earned, 0..1, four places


@dataclass(frozen=True)
class ProductRow:
    product_id: int
    name: str
    points: int


@dataclass(frozen=True)
class CategoryRow:
    category_id: int
    points: int
    share: Decimal


@dataclass(frozen=True)
class SourcesReport:
    period: Period
    sources: list[SourceRow]
    categories: list[CategoryRow]
    products: list[ProductRow]

    @property
    def total_earned(self) -> int:
        return sum(row.earned for row in self.sources)


def points_sources(
    session: Session, store_id: int, period: Period, *, product_limit: int = 20
) -> SourcesReport:
    """Points Sources of one store over `period`; the top `product_limit` products by points."""
    sums = {
        source: (int(credit), int(debit))
        for source, credit, debit in session.execute(
            select(PointRollup.source, func.sum(PointRollup.credit), func.sum(PointRollup.debit))
            .where(PointRollup.store_id == store_id, *period.days(PointRollup.day))
            .where(PointRollup.kind.not_in(_NOT_EARNED_YET))
            .group_by(PointRollup.source)
        )
    }
    total = sum(sums.get(s.value, (0, 0))[0] for s in EARNING_SOURCES)
    sources = []
    for source in EARNING_SOURCES:
        credit, debit = sums.get(source.value, (0, 0))
        sources.append(SourceRow(source, credit, -debit, credit + debit, _share(credit, total)))
    return SourcesReport(
        period=period,
        sources=sources,
        categories=_categories(session, store_id, period),
        products=_products(session, store_id, period, product_limit),
    )


def _categories(session: Session, store_id: int, period: Period) -> list[CategoryRow]:
    rows = session.execute(
        select(ProductRollup.category_id, func.sum(ProductRollup.points).label("points"))
        .where(ProductRollup.store_id == store_id, *period.days(ProductRollup.day))
        .group_by(ProductRollup.category_id)
        .order_by(func.sum(ProductRollup.points).desc(), ProductRollup.category_id)
    ).all()
    total = sum(max(int(points), 0) for _, points in rows)
    return [CategoryRow(int(c), int(p), _share(max(int(p), 0), total)) for c, p in rows if p]


def _products(session: Session, store_id: int, period: Period, limit: int) -> list[ProductRow]:
    points = func.sum(ProductRollup.points)
    totals = (
        select(ProductRollup.product_id, points.label("points"))
        .where(ProductRollup.store_id == store_id, *period.days(ProductRollup.day))
        .group_by(ProductRollup.product_id)
        .having(points != 0)
        .order_by(points.desc(), ProductRollup.product_id)
        .limit(limit)
        .subquery()
    )
    rows = session.execute(
        select(totals.c.product_id, Product.name, totals.c.points)
        .outerjoin(
            Product,
            (Product.store_id == store_id) & (Product.product_id == totals.c.product_id),
        )
        .order_by(totals.c.points.desc(), totals.c.product_id)
    )
    return [ProductRow(int(pid), name or "", int(p)) for pid, name, p in rows]


def _share(part: int, total: int) -> Decimal:
    if not total:
        return Decimal("0.0000")
    return (Decimal(part) / Decimal(total)).quantize(Decimal("0.0001"))
