"""How a purchase award is shared over the products that earned it (for per-product reports)."""

from __future__ import annotations

from decimal import Decimal as D
from types import MappingProxyType

import pytest

from rules.purchase import purchase_points, split_by_product
from rules.types import ItemOverride, ProductPoints, Refund, RefundLine
from tests.rules.test_purchase import line, order, rules


@pytest.mark.parametrize(
    ("points", "weights", "expected"),
    [
        (0, {(1, 0): D(5)}, ()),
        (10, {(1, 0): D(1), (2, 0): D(1)}, ((1, 0, 5), (2, 0, 5))),
        (10, {(1, 0): D(1), (2, 0): D(1), (3, 0): D(1)}, ((1, 0, 4), (2, 0, 3), (3, 0, 3))),
        (7, {(1, 9): D(3), (2, 0): D(0)}, ((1, 9, 7),)),
        (5, {(2, 0): D(-3), (1, 0): D(2)}, ((1, 0, 5),)),
        (3, {}, ((0, 0, 3),)),
        (100, {(1, 0): D("0.5"), (2, 0): D("99.5")}, ((1, 0, 1), (2, 0, 99))),
    ],
)
def test_split_is_proportional_and_adds_up_exactly(
    points: int, weights: dict[tuple[int, int], D], expected: tuple[tuple[int, int, int], ...]
) -> None:
    split = split_by_product(points, weights)

    assert split == tuple(ProductPoints(*e) for e in expected)
    assert sum(p.points for p in split) == points


def test_each_product_gets_its_lines_points_and_shipping_goes_to_product_zero() -> None:
    two = order(
        line(1, "30.00", product_id=100),
        line(2, "10.00", product_id=200, categories=frozenset({9, 4})),
        line(3, "20.00", product_id=100),
        shipping_total=D("5.00"),
        total=D("65.00"),
    )

    award = purchase_points(two, rules(include_shipping=True))

    assert award.points == 65
    assert award.products == (
        ProductPoints(0, 0, 5),
        ProductPoints(100, 0, 50),
        ProductPoints(200, 4, 10),
    )


def test_overrides_and_refunds_shape_the_split_and_the_cap_keeps_it_exact() -> None:
    two = order(line(1, "40.00", product_id=100), line(2, "40.00", product_id=200))
    doubled = rules(
        product_overrides=MappingProxyType({200: ItemOverride(multiplier=D(2))}),
        max_points_per_order=90,
    )
    refund = Refund(1, D("20.00"), lines=(RefundLine(1, 1, D("20.00"), D(0)),))

    award = purchase_points(two, doubled, refunds=[refund])

    assert award.points == 90  # 20 + 80 = 100, capped
    assert award.products == (ProductPoints(100, 0, 18), ProductPoints(200, 0, 72))


def test_an_order_that_earns_nothing_has_no_products() -> None:
    assert purchase_points(order(status="cancelled"), rules()).products == ()
