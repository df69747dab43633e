"""`[redemption]`: tiers, the rate and the coupon settings, validated at load with key names."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from rules.redemption import RedemptionRules, RedemptionTier
from tests.config.test_config import REPO, config_error, load_text

TIERS = '[redemption]\ntiers = [{name = "10-off", points = 1000, amount = "10.00"}]\n'


def test_defaults_redeem_nothing_and_name_the_documented_values(tmp_path: Path) -> None:
    rules = load_text(tmp_path, "").redemption
    assert rules == RedemptionRules()
    assert not rules.enabled
    assert (rules.coupon_days, rules.individual_use, rules.code_prefix) == (90, False, "")
    assert rules.return_points_on_expiry
    assert rules.auto_issue_tier is None


def test_every_key_is_read(tmp_path: Path) -> None:
    text = """
[redemption]
tiers = [{name = "10-off", points = 1000, amount = "10.00"}, {name = "40-off", points = 3400, amount = 40}]
points_per_unit = 100
minimum_points = 500
maximum_points = 20000
step = 100
coupon_days = 30
individual_use = true
code_prefix = "pts-"
return_points_on_expiry = false
auto_issue_tier = "10-off"
request_scan = 0
"""
    rules = load_text(tmp_path, text).redemption
    assert rules == RedemptionRules(
        tiers=(
            RedemptionTier("10-off", 1000, Decimal("10.00")),
            RedemptionTier("40-off", 3400, Decimal("40")),
        ),
        points_per_unit=100,
        minimum_points=500,
        maximum_points=20000,
        step=100,
        coupon_days=30,
        individual_use=True,
        code_prefix="pts-",
        return_points_on_expiry=False,
        auto_issue_tier="10-off",
        request_scan=0,
    )


def test_the_example_file_documents_tiers_and_the_rate() -> None:
    from loyalty.config import load_config

    rules = load_config(REPO / "config.example.toml", env={}).redemption
    assert [t.name for t in rules.tiers] == ["10-off", "40-off"]
    assert rules.points_per_unit == 100


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[redemption]\ntiers = [{name = "a", points = 0, amount = "1"}]',
            "redemption.tiers[0].points: expected an integer >= 1, got 0",
        ),
        (
            '[redemption]\ntiers = [{name = "a", points = 10}]',
            "redemption.tiers[0].amount: required: expected a number > 0",
        ),
        (
            '[redemption]\ntiers = [{name = "a", points = 10, amount = "0"}]',
            'redemption.tiers[0].amount: expected a number > 0, got "0"',
        ),
        (
            '[redemption]\ntiers = [{name = "a", points = 10, amount = "1.005"}]',
            'redemption.tiers[0].amount: expected an amount with at most 2 decimals, such as "10.00", got "1.005"',
        ),
        (
            '[redemption]\ntiers = [{name = "", points = 10, amount = "1"}]',
            'redemption.tiers[0].name: expected a non-empty string, got ""',
        ),
        (
            '[redemption]\ntiers = [{name = "a", points = 10, amount = "1"}, {name = "a", points = 20, amount = "2"}]',
            'redemption.tiers[1].name: expected a name no other tier in redemption.tiers uses, got "a"',
        ),
        (
            '[redemption]\ntiers = [{name = "a", point = 10, amount = "1"}]',
            'redemption.tiers[0].point: unknown key; did you mean "points"?',
        ),
        (
            "[redemption]\ntiers = 3",
            "redemption.tiers: expected an array of tables [[redemption.tiers]], got 3",
        ),
        (
            "[redemption]\npoints_per_unit = 0",
            "redemption.points_per_unit: expected an integer >= 1, got 0",
        ),
        (
            '[redemption]\npoints_per_unit = "100"',
            'redemption.points_per_unit: expected an integer >= 1, got "100"',
        ),
        (
            "[redemption]\nminimum_points = -1",
            "redemption.minimum_points: expected an integer >= 0, got -1",
        ),
        (
            "[redemption]\nminimum_points = 500\nmaximum_points = 100",
            "redemption.maximum_points: expected a number >= redemption.minimum_points (500), got 100",
        ),
        ("[redemption]\nstep = 0", "redemption.step: expected an integer >= 1, got 0"),
        (
            "[redemption]\ncoupon_days = 0",
            "redemption.coupon_days: expected an integer from 1 to 3650, got 0",
        ),
        (
            "[redemption]\nindividual_use = 1",
            "redemption.individual_use: expected true or false, got 1",
        ),
        (
            '[redemption]\ncode_prefix = "PTS"',
            "redemption.code_prefix: expected lowercase letters, digits, - and _ only"
            ' (WooCommerce lowercases coupon codes), got "PTS"',
        ),
        (
            '[redemption]\nreturn_points_on_expiry = "yes"',
            'redemption.return_points_on_expiry: expected true or false, got "yes"',
        ),
        (
            TIERS + 'auto_issue_tier = "40-off"',
            'redemption.auto_issue_tier: expected the name of a tier in redemption.tiers: 10-off, got "40-off"',
        ),
        (
            '[redemption]\nauto_issue_tier = "x"',
            "redemption.auto_issue_tier: expected the name of a tier in redemption.tiers:"
            ' (no tiers configured), got "x"',
        ),
        (
            "[redemption]\nenabled = true",
            "redemption.enabled: unknown key; expected one of: tiers, points_per_unit",
        ),
    ],
)
def test_a_bad_value_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    assert config_error(tmp_path, text).startswith(f"{tmp_path / 'loyalty.toml'}: {message}")
