"""Redemption decisions, as tables: a request and a balance in, a quote or a refusal out."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from rules.redemption import (
    CODE_ALPHABET,
    CODE_LENGTH,
    Quote,
    RedemptionRules,
    RedemptionTier,
    Refusal,
    auto_issue_due,
    code_symbols,
    format_code,
    has_code_shape,
    prefix_problem,
    quote_redemption,
)

D = Decimal
TIERED = RedemptionRules(
    tiers=(RedemptionTier("10-off", 1000, D("10.00")), RedemptionTier("40-off", 3400, D("40.00")))
)
RATE = RedemptionRules(points_per_unit=100, minimum_points=500, maximum_points=5000, step=100)


@pytest.mark.parametrize(
    ("rules", "available", "ask", "expected"),
    [
        # the seeds' figures
        (TIERED, 1000, {"tier": "10-off"}, Quote(1000, D("10.00"), "10-off")),
        (TIERED, 3400, {"tier": "40-off"}, Quote(3400, D("40.00"), "40-off")),
        (
            TIERED,
            999,
            {"tier": "10-off"},
            Refusal("the 10-off tier needs 1000 points, the balance is 999: 1 point missing", 1),
        ),
        (TIERED, 5000, {"tier": "40-off"}, Quote(3400, D("40.00"), "40-off")),
        (
            TIERED,
            0,
            {"tier": "40-off"},
            Refusal(
                "the 40-off tier needs 3400 points, the balance is 0: 3400 points missing", 3400
            ),
        ),
        (TIERED, 5000, {"tier": "5-off"}, Refusal("unknown tier '5-off' (tiers: 10-off, 40-off)")),
        (
            TIERED,
            5000,
            {"points": 1000},
            Refusal("redeeming a number of points needs points_per_unit; ask for a tier"),
        ),
        # the rate: minimum, maximum, step
        (RATE, 1000, {"points": 1000}, Quote(1000, D("10.00"), None)),
        (
            RATE,
            999,
            {"points": 1000},
            Refusal("1000 points asked for, the balance is 999: 1 point missing", 1),
        ),
        (
            RATE,
            9000,
            {"points": 400},
            Refusal("at least 500 points can be redeemed, asked for 400"),
        ),
        (
            RATE,
            9000,
            {"points": 5100},
            Refusal("at most 5000 points can be redeemed, asked for 5100"),
        ),
        (
            RATE,
            9000,
            {"points": 550},
            Refusal("points are redeemed in steps of 100, asked for 550"),
        ),
        (RATE, 9000, {"points": 0}, Refusal("points must be a positive whole number, got 0")),
        (
            RATE,
            9000,
            {"tier": "10-off"},
            Refusal("unknown tier '10-off' (tiers: none are configured)"),
        ),
        (RATE, 9000, {}, Refusal("ask for either a tier or a number of points")),
        (
            RATE,
            9000,
            {"tier": "x", "points": 500},
            Refusal("ask for either a tier or a number of points"),
        ),
        # amounts round down to the cent, never up
        (RedemptionRules(points_per_unit=3), 100, {"points": 100}, Quote(100, D("33.33"), None)),
        (
            RedemptionRules(points_per_unit=1000),
            100,
            {"points": 5},
            Refusal("5 points are worth less than 0.01"),
        ),
        # no minimum: one step is the least
        (
            RedemptionRules(points_per_unit=10, step=50),
            100,
            {"points": 50},
            Quote(50, D("5.00"), None),
        ),
    ],
)
def test_a_request_is_quoted_or_refused_with_the_points_missing(
    rules: RedemptionRules, available: int, ask: dict[str, object], expected: Quote | Refusal
) -> None:
    assert quote_redemption(rules, available, **ask) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rules", "cheapest"),
    [
        (TIERED, 1000),
        (RATE, 500),
        (RedemptionRules(points_per_unit=10, minimum_points=120, step=50), 150),
        (RedemptionRules(), None),
    ],
)
def test_the_cheapest_redemption_is_the_least_a_request_can_cost(
    rules: RedemptionRules, cheapest: int | None
) -> None:
    assert rules.cheapest_points == cheapest
    assert rules.enabled is (cheapest is not None)


@pytest.mark.parametrize(
    ("auto", "available", "due"),
    [(None, 5000, None), ("10-off", 999, None), ("10-off", 1000, "10-off"), ("40-off", 3399, None)],
)
def test_the_auto_issue_tier_is_due_once_the_balance_reaches_it(
    auto: str | None, available: int, due: str | None
) -> None:
    rules = RedemptionRules(tiers=TIERED.tiers, auto_issue_tier=auto)
    found = auto_issue_due(rules, available)
    assert (found.name if found else None) == due


def test_codes_carry_at_least_64_bits_in_a_lowercase_alphabet_without_look_alikes() -> None:
    assert CODE_LENGTH * math.log2(len(CODE_ALPHABET)) >= 64
    assert CODE_ALPHABET.lower() == CODE_ALPHABET
    assert not set(CODE_ALPHABET) & set("0o1li")
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET)


def test_a_code_is_the_prefix_and_the_symbols_in_dashed_groups() -> None:
    symbols = CODE_ALPHABET[:CODE_LENGTH]
    code = format_code("pts-", symbols)
    assert code == "pts-2345-6789-abcd-e"
    assert code_symbols("pts-", code) == symbols
    with pytest.raises(ValueError, match="symbols of the code alphabet"):
        format_code("", "0" * CODE_LENGTH)


@pytest.mark.parametrize("prefix", ["", "pts-", "loyal_2024", "x" * 20])
def test_every_code_made_has_the_code_shape_whatever_its_prefix(prefix: str) -> None:
    for n in range(20):
        symbols = "".join(CODE_ALPHABET[(n * 7 + i * 3) % len(CODE_ALPHABET)] for i in range(13))
        assert has_code_shape(format_code(prefix, symbols[:CODE_LENGTH]))


@pytest.mark.parametrize(
    "code",
    [
        "",
        "summer10",
        "free-shipping",
        "pts-2345-6789-abcd",  # a symbol short
        "pts-2345-6789-abcd-ef",  # a symbol too many in the last group
        "pts-2345-6789-abc0-e",  # 0 is not in the alphabet
        "pts-2345-6789abcd-e2",  # dashes elsewhere
        "pts-2345-6789-ABCD-e",  # codes are lowercased before the check
    ],
)
def test_other_coupons_do_not_have_the_code_shape(code: str) -> None:
    assert not has_code_shape(code)


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("", None),
        ("pts-", None),
        ("loyal_2024", None),
        ("PTS", "lowercase letters, digits, - and _ only (WooCommerce lowercases coupon codes)"),
        ("a b", "lowercase letters, digits, - and _ only (WooCommerce lowercases coupon codes)"),
        ("x" * 21, "at most 20 characters"),
    ],
)
def test_a_code_prefix_is_lowercase_and_short(prefix: str, problem: str | None) -> None:
    assert prefix_problem(prefix) == problem
