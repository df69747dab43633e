"""Tiers, as tables: earnings and a moment in; the tier held, the multiplied points and the moves
out. Time is passed in."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rules.tiers import Earning, Tier, TierMove, TierRules, tier_at, tier_moves, with_multiplier

SILVER = Tier("silver", 500, Decimal("1.5"))
GOLD = Tier("gold", 2000, Decimal(2))
LIFETIME = TierRules((SILVER, GOLD))
RECENT = Tier("recent", 300, Decimal("1.25"), window_days=30)
WINDOWED = TierRules((RECENT,))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def earned(points: int, when: str) -> Earning:
    return Earning(at(when), points)


@pytest.mark.parametrize(
    ("rules", "earnings", "moment", "expected"),
    [
        (TierRules(), [earned(5000, "2025-01-01T00:00")], at("2025-02-01T00:00"), None),
        (LIFETIME, [], at("2025-02-01T00:00"), None),
        (LIFETIME, [earned(499, "2025-01-01T00:00")], at("2025-02-01T00:00"), None),
        (LIFETIME, [earned(500, "2025-01-01T00:00")], at("2025-02-01T00:00"), SILVER),
        # only what was earned strictly before the moment counts: the crossing order itself not
        (LIFETIME, [earned(500, "2025-01-01T00:00")], at("2025-01-01T00:00"), None),
        (LIFETIME, [earned(500, "2025-01-01T00:00")], at("2025-01-01T00:00:01"), SILVER),
        # the highest tier held wins; a revoke can take a customer down
        (LIFETIME, [earned(1500, "2025-01-01T00:00"), earned(600, "2025-01-02T00:00")],
         at("2025-01-03T00:00"), GOLD),
        (LIFETIME, [earned(2100, "2025-01-01T00:00"), earned(-200, "2025-01-02T00:00")],
         at("2025-01-03T00:00"), SILVER),
        # a rolling window: points older than window_days no longer count
        (WINDOWED, [earned(300, "2025-01-01T00:00")], at("2025-01-30T23:59"), RECENT),
        (WINDOWED, [earned(300, "2025-01-01T00:00")], at("2025-01-31T00:00:01"), None),
        (WINDOWED, [earned(200, "2024-12-01T00:00"), earned(200, "2025-01-20T00:00")],
         at("2025-01-25T00:00"), None),
    ],
)  # fmt: skip
def test_tier_at(
    rules: TierRules, earnings: list[Earning], moment: datetime, expected: Tier | None
) -> None:
    assert tier_at(earnings, moment, rules) == expected


@pytest.mark.parametrize(
    ("points", "tier", "expected"),
    [(100, None, 100), (100, SILVER, 150), (33, SILVER, 49), (100, GOLD, 200), (0, GOLD, 0)],
)
def test_with_multiplier_rounds_down(points: int, tier: Tier | None, expected: int) -> None:
    assert with_multiplier(points, tier) == expected


def test_moves_up_and_down_are_listed_in_time_order() -> None:
    earnings = [
        earned(400, "2025-01-01T00:00"),
        earned(200, "2025-01-05T00:00"),  # 600: silver
        earned(1500, "2025-01-09T00:00"),  # 2100: gold
        earned(-300, "2025-01-12T00:00"),  # 1800: back to silver
    ]
    assert tier_moves(earnings, LIFETIME, until=at("2025-02-01T00:00")) == [
        TierMove(at("2025-01-05T00:00"), None, "silver"),
        TierMove(at("2025-01-09T00:00"), "silver", "gold"),
        TierMove(at("2025-01-12T00:00"), "gold", "silver"),
    ]
    assert tier_moves(earnings, LIFETIME, until=at("2025-01-08T00:00")) == [
        TierMove(at("2025-01-05T00:00"), None, "silver")
    ]


def test_a_window_dropping_points_moves_a_customer_down_when_they_drop_out() -> None:
    earnings = [earned(300, "2025-01-01T00:00")]
    assert tier_moves(earnings, WINDOWED, until=at("2025-03-01T00:00")) == [
        TierMove(at("2025-01-01T00:00"), None, "recent"),
        TierMove(at("2025-01-31T00:00"), "recent", None),
    ]
