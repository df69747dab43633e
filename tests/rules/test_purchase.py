"""The purchase rule, as tables: each row is an order (and its refunds) and the points it carries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType

import pytest

from rules.purchase import first_order_points, purchase_points
from rules.types import (
    Award,
    ItemOverride,
    Order,
    OrderLine,
    ProductPoints,
    PurchaseRuleBook,
    PurchaseRules,
    Refund,
    RefundLine,
    Rounding,
)

D = Decimal
WHEN = datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)


def line(
    line_id: int = 1,
    total: str = "84.00",
    *,
    tax: str = "0",
    quantity: int = 1,
    product_id: int = 100,
    variation_id: int = 0,
    categories: frozenset[int] = frozenset(),
) -> OrderLine:
    return OrderLine(
        line_id=line_id,
        product_id=product_id,
        variation_id=variation_id,
        quantity=quantity,
        subtotal=D(total),
        total=D(total),
        total_tax=D(tax),
        category_ids=categories,
    )


def order(*lines: OrderLine, **changes: object) -> Order:
    """A completed, registered customer's order; `total` is the lines' totals and tax unless given."""
    chosen = lines or (line(),)
    base = Order(
        order_id=1042,
        status="completed",
        customer_id=7,
        billing_email="ann@example.com",
        created_at=WHEN,
        modified_at=WHEN,
        currency="EUR",
        total=sum((ln.total + ln.total_tax for ln in chosen), D(0)),
        total_tax=sum((ln.total_tax for ln in chosen), D(0)),
        shipping_total=D(0),
        shipping_tax=D(0),
        fee_total=D(0),
        fee_tax=D(0),
        discount_total=D(0),
        lines=chosen,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def rules(**changes: object) -> PurchaseRules:
    return replace(PurchaseRules(), **changes)  # type: ignore[arg-type]


def refund(
    refund_id: int = 1,
    amount: str = "0",
    *lines: RefundLine,
    shipping: str = "0",
    shipping_tax: str = "0",
    fee: str = "0",
    fee_tax: str = "0",
) -> Refund:
    return Refund(
        refund_id=refund_id,
        amount=D(amount),
        lines=lines,
        shipping_total=D(shipping),
        shipping_tax=D(shipping_tax),
        fee_total=D(fee),
        fee_tax=D(fee_tax),
    )


def refunded(item_id: int, total: str, *, tax: str = "0", quantity: int = 0) -> RefundLine:
    return RefundLine(refunded_item_id=item_id, quantity=quantity, total=D(total), total_tax=D(tax))


def overrides(**by_id: ItemOverride) -> MappingProxyType[int, ItemOverride]:
    return MappingProxyType({int(k.lstrip("_")): v for k, v in by_id.items()})


SHIPPED = order(
    line(1, "84.00", tax="8.40"),
    shipping_total=D("10.00"),
    shipping_tax=D("1.00"),
    fee_total=D("5.00"),
    fee_tax=D("0.50"),
    total=D("108.90"),
)


def test_award_names_the_order_reason_rule_version_and_arithmetic() -> None:
    award = purchase_points(order(), rules(version="2024-spring"))

    assert award == Award(
        points=84,
        reason="purchase",
        key="order:1042",
        rule_version="2024-spring",
        explanation="completed; base 84.00 × 1 = 84 (floor)",
        products=(ProductPoints(product_id=100, category_id=0, points=84),),
    )
    assert type(award.points) is int


@pytest.mark.parametrize(
    ("status", "earn_statuses", "points"),
    [
        ("completed", frozenset({"completed"}), 84),
        ("processing", frozenset({"completed"}), 0),
        ("processing", frozenset({"completed", "processing"}), 84),
        ("cancelled", frozenset({"completed", "processing"}), 0),
        ("refunded", frozenset({"completed", "processing"}), 0),
        ("failed", frozenset({"completed", "processing"}), 0),
        ("trash", frozenset({"completed", "processing"}), 0),
        ("pending", frozenset({"completed", "processing"}), 0),
        ("on-hold", frozenset({"completed", "processing"}), 0),
        ("checkout-draft", frozenset({"completed"}), 0),
    ],
)
def test_only_earning_statuses_earn(
    status: str, earn_statuses: frozenset[str], points: int
) -> None:
    award = purchase_points(order(status=status), rules(earn_statuses=earn_statuses))

    assert award.points == points


@pytest.mark.parametrize(
    ("customer_id", "email", "award_guests", "placed_by", "points"),
    [
        (7, "ann@example.com", False, 0, 84),
        (7, "", False, 0, 84),
        (0, "guest@example.com", True, 0, 84),
        (0, "guest@example.com", False, 0, 0),
        (0, "", True, 0, 0),
        # an account's order the store shows as a guest order (the account deleted): an
        # account's order still, under either setting
        (0, "ann@example.com", False, 7, 84),
        (0, "ann@example.com", True, 7, 84),
        # and whatever its billing email: an account's order needs none
        (0, "", False, 7, 84),
        (0, "", True, 7, 84),
    ],
)
def test_guest_orders_earn_only_when_allowed_and_with_an_email(
    customer_id: int, email: str, award_guests: bool, placed_by: int, points: int
) -> None:
    an_order = order(customer_id=customer_id, billing_email=email)
    award = purchase_points(an_order, rules(award_guests=award_guests), placed_by=placed_by)

    assert award.points == points


@pytest.mark.parametrize(
    ("include_tax", "include_shipping", "include_fees", "points"),
    [
        (False, False, False, 84),  # line totals after discounts, before tax
        (True, False, False, 92),  # + line tax 8.40 -> 92.40
        (False, True, False, 94),  # + shipping 10
        (True, True, False, 103),  # + line tax + shipping + shipping tax -> 103.40
        (False, False, True, 89),  # + fees 5
        (True, False, True, 97),  # + line tax + fees + fee tax -> 97.90
        (True, True, True, 108),  # everything -> 108.90
    ],
)
def test_base_options_add_tax_shipping_and_fees(
    include_tax: bool, include_shipping: bool, include_fees: bool, points: int
) -> None:
    chosen = rules(
        include_tax=include_tax, include_shipping=include_shipping, include_fees=include_fees
    )

    assert purchase_points(SHIPPED, chosen).points == points


@pytest.mark.parametrize(
    ("total", "rounding", "points"),
    [
        ("10.50", Rounding.FLOOR, 10),
        ("10.50", Rounding.HALF_UP, 11),
        ("10.50", Rounding.CEIL, 11),
        ("10.49", Rounding.HALF_UP, 10),
        ("10.01", Rounding.CEIL, 11),
        ("10.99", Rounding.FLOOR, 10),
        ("10.00", Rounding.FLOOR, 10),
        ("10.00", Rounding.HALF_UP, 10),
        ("10.00", Rounding.CEIL, 10),
        ("0.50", Rounding.HALF_UP, 1),
        ("0.49", Rounding.CEIL, 1),
    ],
)
def test_each_rounding_mode_rounds_the_order_total(
    total: str, rounding: Rounding, points: int
) -> None:
    assert purchase_points(order(line(total=total)), rules(rounding=rounding)).points == points


@pytest.mark.parametrize(
    ("totals", "rounding", "points"),
    [
        (("0.50", "0.50", "0.50"), Rounding.FLOOR, 1),  # per line: 0 + 0 + 0
        (("0.40", "0.40", "0.40"), Rounding.HALF_UP, 1),  # per line: 0 + 0 + 0
        (("0.50", "0.50", "0.50"), Rounding.HALF_UP, 2),  # per line: 1 + 1 + 1
        (("0.10", "0.10", "0.10"), Rounding.CEIL, 1),  # per line: 1 + 1 + 1
    ],
)
def test_rounding_happens_once_per_order_not_per_line(
    totals: tuple[str, ...], rounding: Rounding, points: int
) -> None:
    lines = tuple(line(i, t) for i, t in enumerate(totals, start=1))

    assert purchase_points(order(*lines), rules(rounding=rounding)).points == points


@pytest.mark.parametrize(
    ("points_per_unit", "points"),
    [(D("0.1"), 8), (D("2"), 168), (D("1.25"), 105)],
)
def test_points_per_unit_scales_the_base(points_per_unit: Decimal, points: int) -> None:
    assert purchase_points(order(), rules(points_per_unit=points_per_unit)).points == points


DOUBLE = ItemOverride(multiplier=D(2))
TRIPLE = ItemOverride(multiplier=D(3))
FIXED_50 = ItemOverride(fixed_points=50)
FIXED_70 = ItemOverride(fixed_points=70)
EXCLUDED = ItemOverride(excluded=True)


@pytest.mark.parametrize(
    ("product_overrides", "category_overrides", "points"),
    [
        ({}, {}, 84),
        ({100: DOUBLE}, {}, 168),
        ({100: EXCLUDED}, {}, 0),
        ({100: FIXED_50}, {}, 100),  # 50 per item x quantity 2
        ({}, {5: DOUBLE}, 168),
        ({}, {5: EXCLUDED}, 0),
        ({100: DOUBLE}, {5: EXCLUDED}, 168),  # the product override wins over its category
        ({100: EXCLUDED}, {5: TRIPLE}, 0),
        ({200: DOUBLE}, {}, 168),  # a variation id matches like a product id
        ({200: TRIPLE, 100: DOUBLE}, {}, 252),  # the variation is more specific than its parent
        ({}, {5: DOUBLE, 6: TRIPLE}, 252),  # several categories: the highest multiplier
        ({}, {5: DOUBLE, 6: EXCLUDED}, 0),  # several categories: excluded wins
        ({}, {5: FIXED_50, 6: DOUBLE}, 168),  # several categories: a multiplier beats fixed
        ({}, {5: FIXED_50, 6: FIXED_70}, 140),  # several categories: the highest fixed points
        ({}, {9: EXCLUDED}, 84),  # a category the line is not in does nothing
    ],
)
def test_product_override_wins_over_category_override(
    product_overrides: dict[int, ItemOverride],
    category_overrides: dict[int, ItemOverride],
    points: int,
) -> None:
    the_line = line(total="84.00", quantity=2, variation_id=200, categories=frozenset({5, 6}))
    chosen = rules(
        product_overrides=MappingProxyType(product_overrides),
        category_overrides=MappingProxyType(category_overrides),
    )

    assert purchase_points(order(the_line), chosen).points == points


def test_overrides_apply_per_line_and_fixed_points_skip_the_rate() -> None:
    lines = (line(1, "10.00", product_id=1), line(2, "10.00", product_id=2, quantity=3))
    chosen = rules(
        points_per_unit=D(2),
        product_overrides=MappingProxyType({1: ItemOverride(multiplier=D("1.5")), 2: FIXED_50}),
    )

    award = purchase_points(order(*lines), chosen)

    assert award.points == 30 + 150
    assert award.explanation == "completed; base 15.00 × 2 + fixed 150 = 180 (floor)"


@pytest.mark.parametrize(
    ("refunds", "points"),
    [
        ((), 100),
        ((refund(1, "40.00", refunded(1, "40.00", quantity=1)),), 50),  # half the amount
        ((refund(1, "20.00", refunded(1, "20.00")),), 75),  # a quarter of the amount refunded
        ((refund(1, "80.00", refunded(1, "80.00", quantity=2)),), 0),
        ((refund(1, "99.00", refunded(1, "99.00", quantity=2)),), 0),  # never below 0
    ],
)
def test_fixed_points_shrink_by_the_refunded_share_of_the_line(
    refunds: tuple[Refund, ...], points: int
) -> None:
    the_line = line(1, "80.00", quantity=2)
    chosen = rules(product_overrides=MappingProxyType({100: FIXED_50}))

    assert purchase_points(order(the_line), chosen, refunds).points == points


@pytest.mark.parametrize(
    ("refunded_quantity", "points"),
    [(0, 40), (1, 30), (4, 0), (5, 0)],
)
def test_fixed_points_on_a_free_line_shrink_by_refunded_quantity(
    refunded_quantity: int, points: int
) -> None:
    free_line = line(1, "0.00", quantity=4)
    chosen = rules(product_overrides=MappingProxyType({100: ItemOverride(fixed_points=10)}))
    refunds = (refund(1, "0.00", refunded(1, "0", quantity=refunded_quantity)),)

    assert purchase_points(order(free_line), chosen, refunds).points == points


@pytest.mark.parametrize(
    ("include_tax", "refund_lines", "points"),
    [
        (False, (refunded(1, "30.00", tax="3.00", quantity=1),), 54 + 20),
        (True, (refunded(1, "30.00", tax="3.00", quantity=1),), 59 + 22),  # 92.40-33 + 22
        (False, (refunded(2, "20.00", tax="2.00", quantity=1),), 84),
        (False, (refunded(1, "84.00"), refunded(2, "20.00")), 0),
        (False, (refunded(1, "500.00"),), 20),  # a line never goes below 0
    ],
)
def test_line_item_refund_reduces_only_that_line(
    include_tax: bool, refund_lines: tuple[RefundLine, ...], points: int
) -> None:
    an_order = order(line(1, "84.00", tax="8.40"), line(2, "20.00", tax="2.00"))
    amount = str(sum((r.total + r.total_tax for r in refund_lines), D(0)))

    award = purchase_points(
        an_order, rules(include_tax=include_tax), (refund(1, amount, *refund_lines),)
    )

    assert award.points == points


@pytest.mark.parametrize(
    ("include_shipping", "points"),
    [(False, 84), (True, 84)],
)
def test_shipping_only_refund_takes_only_shipping_points(
    include_shipping: bool, points: int
) -> None:
    shipping_refund = refund(9, "10.00", shipping="10.00")
    chosen = rules(include_shipping=include_shipping)

    assert purchase_points(SHIPPED, chosen, (shipping_refund,)).points == points


def test_partial_shipping_refund_reduces_the_shipping_part_when_shipping_earns() -> None:
    chosen = rules(include_shipping=True, include_tax=True)
    shipping_refund = refund(9, "5.50", shipping="5.00", shipping_tax="0.50")

    assert purchase_points(SHIPPED, chosen, (shipping_refund,)).points == 97  # 103.40 - 5.50


@pytest.mark.parametrize(
    ("include_fees", "points"),
    [(False, 84), (True, 84)],
)
def test_fee_only_refund_takes_only_fee_points(include_fees: bool, points: int) -> None:
    fee_refund = refund(9, "5.00", fee="5.00")

    assert (
        purchase_points(SHIPPED, rules(include_fees=include_fees), (fee_refund,)).points == points
    )


@pytest.mark.parametrize(
    ("amounts", "points"),
    [
        (("25.00",), 75),  # a quarter of a 100.00 order
        (("10.00", "15.00"), 75),  # several un-itemised refunds add up
        (("100.00",), 0),
        (("150.00",), 0),  # never below 0
    ],
)
def test_unitemised_refund_reduces_the_whole_base_proportionally(
    amounts: tuple[str, ...], points: int
) -> None:
    refunds = tuple(refund(i, a) for i, a in enumerate(amounts, start=1))

    assert purchase_points(order(line(total="100.00")), rules(), refunds).points == points


def test_unitemised_refund_also_scales_fixed_points() -> None:
    chosen = rules(product_overrides=MappingProxyType({100: FIXED_50}))

    assert purchase_points(order(line(total="100.00")), chosen, (refund(1, "50.00"),)).points == 25


def test_unitemised_refund_on_a_zero_total_order_reduces_nothing() -> None:
    free = order(line(total="0.00"), total=D(0))
    chosen = rules(product_overrides=MappingProxyType({100: FIXED_50}))

    assert purchase_points(free, chosen, (refund(1, "5.00"),)).points == 50


def test_multiple_refunds_itemised_and_unitemised_combine() -> None:
    an_order = order(line(1, "60.00"), line(2, "40.00"))
    refunds = (
        refund(1, "20.00", refunded(1, "20.00", quantity=1)),
        refund(2, "10.00", refunded(2, "10.00")),
        refund(3, "10.00"),  # un-itemised: 10% of the 100.00 order
    )

    assert purchase_points(an_order, rules(), refunds).points == 63  # (40 + 30) x 0.9


EVERYTHING = rules(include_tax=True, include_shipping=True, include_fees=True)
FULL_ITEMISED = refund(
    1,
    "108.90",
    refunded(1, "84.00", tax="8.40", quantity=1),
    shipping="10.00",
    shipping_tax="1.00",
    fee="5.00",
    fee_tax="0.50",
)


@pytest.mark.parametrize(
    ("refunds", "chosen"),
    [
        ((FULL_ITEMISED,), rules()),
        ((FULL_ITEMISED,), EVERYTHING),
        ((refund(1, "108.90"),), rules()),
        ((refund(1, "108.90"),), EVERYTHING),
        (
            (refund(1, "40.00", refunded(1, "40.00")), refund(2, "44.00", refunded(1, "44.00"))),
            rules(),
        ),
    ],
)
def test_full_refund_leaves_no_points(refunds: tuple[Refund, ...], chosen: PurchaseRules) -> None:
    assert purchase_points(SHIPPED, chosen, refunds).points == 0


def test_refunds_default_to_the_orders_own() -> None:
    refunded_order = order(line(total="100.00"), refunds=(refund(1, "50.00"),))

    assert purchase_points(refunded_order, rules()).points == 50
    assert purchase_points(refunded_order, rules(), ()).points == 100


@pytest.mark.parametrize(
    ("minimum", "refunds", "points"),
    [
        ("50.00", (), 84),
        ("84.00", (), 84),
        ("84.01", (), 0),
        ("50.00", (refund(1, "50.00", refunded(1, "50.00")),), 34),  # judged before refunds
    ],
)
def test_minimum_order_amount_is_compared_with_the_base_before_refunds(
    minimum: str, refunds: tuple[Refund, ...], points: int
) -> None:
    chosen = rules(minimum_order_amount=D(minimum))

    assert purchase_points(order(), chosen, refunds).points == points


def test_minimum_order_amount_counts_included_shipping_but_not_excluded_lines() -> None:
    an_order = order(
        line(1, "30.00", product_id=1), line(2, "50.00", product_id=2), shipping_total=D("25.00")
    )
    chosen = rules(
        minimum_order_amount=D("50.00"),
        include_shipping=True,
        product_overrides=MappingProxyType({2: EXCLUDED}),
    )

    assert purchase_points(an_order, chosen).points == 55
    assert purchase_points(an_order, replace(chosen, include_shipping=False)).points == 0


@pytest.mark.parametrize(
    ("coupon_codes", "no_points_with_coupon", "points"),
    [
        ((), True, 84),
        (("spring10",), True, 0),
        (("spring10",), False, 84),
    ],
)
def test_coupon_rule_refuses_points_to_orders_with_a_coupon(
    coupon_codes: tuple[str, ...], no_points_with_coupon: bool, points: int
) -> None:
    an_order = order(coupon_codes=coupon_codes)

    assert (
        purchase_points(an_order, rules(no_points_with_coupon=no_points_with_coupon)).points
        == points
    )


@pytest.mark.parametrize(
    ("cap", "rounding", "points"),
    [
        (None, Rounding.CEIL, 85),
        (100, Rounding.CEIL, 85),
        (85, Rounding.CEIL, 85),
        (50, Rounding.CEIL, 50),
    ],
)
def test_cap_applies_after_rounding(cap: int | None, rounding: Rounding, points: int) -> None:
    award = purchase_points(
        order(line(total="84.10")), rules(max_points_per_order=cap, rounding=rounding)
    )

    assert award.points == points


def test_capped_award_says_so() -> None:
    award = purchase_points(order(), rules(max_points_per_order=50))

    assert award.explanation == "completed; base 84.00 × 1 = 84 (floor), capped at 50"


@pytest.mark.parametrize(
    ("status", "explanation"),
    [("cancelled", "cancelled; status does not earn")],
)
def test_zero_award_explains_why(status: str, explanation: str) -> None:
    award = purchase_points(order(status=status), rules(version="v3"))

    assert (award.points, award.key, award.rule_version, award.explanation) == (
        0,
        "order:1042",
        "v3",
        explanation,
    )


SPRING = PurchaseRules(version="spring", effective_from=date(2024, 3, 1))
SUMMER = PurchaseRules(version="summer", effective_from=date(2024, 6, 1), points_per_unit=D(2))
BOOK = PurchaseRuleBook(versions=(SUMMER, SPRING))


@pytest.mark.parametrize(
    ("created", "version", "points"),
    [
        (datetime(2024, 2, 29, 23, 59, tzinfo=UTC), "spring", 84),  # older than all: the oldest
        (datetime(2024, 3, 1, 0, 0, tzinfo=UTC), "spring", 84),
        (datetime(2024, 5, 31, 23, 59, tzinfo=UTC), "spring", 84),
        (datetime(2024, 6, 1, 0, 0, tzinfo=UTC), "summer", 168),
        (datetime(2025, 1, 1, tzinfo=UTC), "summer", 168),
    ],
)
def test_rule_book_selects_the_version_in_force_when_the_order_was_created(
    created: datetime, version: str, points: int
) -> None:
    an_order = order(created_at=created, modified_at=datetime(2025, 6, 1, tzinfo=UTC))

    award = purchase_points(an_order, BOOK.for_order_created(an_order.created_at))

    assert (award.rule_version, award.points) == (version, points)


@pytest.mark.parametrize(
    ("bonus", "has_earning_order", "points"),
    [(50, True, 50), (50, False, 0), (0, True, 0)],
)
def test_first_order_bonus_is_keyed_to_the_customer(
    bonus: int, has_earning_order: bool, points: int
) -> None:
    award = first_order_points(bonus, has_earning_order, "customer:7")

    assert (award.points, award.reason, award.key) == (
        points,
        "first_order",
        "first_order:customer:7",
    )


@pytest.mark.parametrize(
    ("total", "multiplier", "base"),
    [
        ("10.01", "1.25", "12.5125"),  # digits past the cents are shown
        ("10.00", "1.25", "12.50"),  # at least two decimals
        ("10", "2", "20.00"),
        ("0.10", "1.5", "0.15"),
        ("3.333", "1", "3.333"),
        ("0.00", "1", "0.00"),
    ],
)
def test_the_explanation_shows_the_base_with_two_decimals_or_all_that_carry_something(
    total: str, multiplier: str, base: str
) -> None:
    doubled = rules(product_overrides=overrides(_100=ItemOverride(multiplier=D(multiplier))))

    award = purchase_points(order(line(1, total)), doubled)

    assert award.explanation.startswith(f"completed; base {base} × 1 = ")


@pytest.mark.parametrize(("minimum", "shown"), [("50", "50.00"), ("49.999", "49.999")])
def test_a_base_below_the_minimum_is_explained_in_the_same_form(minimum: str, shown: str) -> None:
    award = purchase_points(order(line(1, "12.3")), rules(minimum_order_amount=D(minimum)))

    assert award.explanation == f"completed; base 12.30 below minimum {shown}"
