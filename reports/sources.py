"""Points Sources: where points come from, and for purchases, which categories and products.

Sources are summed from the daily rollup; categories and products from the product spans
(`ledger.product_spans`): the few spans that make up the range, a few rows per product whatever
the range and the ledger.
Each source shows what it credited (`earned`), what was taken back (`revoked`), the net, and its
share of all credited points. Category 0 is "not known" (the sync learns categories only when a
rule needs them); a category carries its name when the sync read it, else "" (shown by id).
Product 0 is shipping, fees and purchases recorded before products were.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.kinds import EARNING_SOURCES, OUTSIDE_BALANCE_KINDS, Source
from ledger.models import Category, PointRollup, Product, ProductSpan
from ledger.product_spans import spans_between
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
    name: str = ""  # "" when the sync never read the category's name


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
    categories, products = _purchases(session, store_id, period, product_limit)
    return SourcesReport(period=period, sources=sources, categories=categories, products=products)


def _purchases(
    session: Session, store_id: int, period: Period, limit: int
) -> tuple[list[CategoryRow], list[ProductRow]]:
    """Purchases by category (all of them) and by product (the top `limit`), each one grouped
    query over the range's spans."""
    span = ProductSpan
    in_range = (span.store_id == store_id, span.span.in_(spans_between(period.start, period.end)))
    points = func.sum(span.points)
    by_category = [
        (int(category), int(total))
        for category, total in session.execute(
            select(span.category_id, points)
            .where(*in_range)
            .group_by(span.category_id)
            .having(points != 0)
            .order_by(points.desc(), span.category_id)
        )
    ]
    top = [
        (int(product), int(total))
        for product, total in session.execute(
            select(span.product_id, points)
            .where(*in_range)
            .group_by(span.product_id)
            .having(points != 0)
            .order_by(points.desc(), span.product_id)
            .limit(limit)
        )
    ]
    positive = sum(max(p, 0) for _, p in by_category)
    labels = _names(session, Category, Category.category_id, store_id, [c for c, _ in by_category])
    categories = [
        CategoryRow(c, p, _share(max(p, 0), positive), labels.get(c, "")) for c, p in by_category
    ]
    names = _names(session, Product, Product.product_id, store_id, [pid for pid, _ in top])
    return categories, [ProductRow(pid, names.get(pid, ""), p) for pid, p in top]


def _names(
    session: Session, model: type[Product | Category], key: Any, store_id: int, ids: list[int]
) -> dict[int, str]:
    found = session.execute(select(key, model.name).where(model.store_id == store_id, key.in_(ids)))
    return {int(i): name for i, name in found}


def _share(part: int, total: int) -> Decimal:
    if not total:
        return Decimal("0.0000")
    return (Decimal(part) / Decimal(total)).quantize(Decimal("0.0001"))
