"""Customer tiers (`[[tiers]]`): points earned lift a customer into a tier whose multiplier applies
to their purchase points.

Pure: a customer's earnings (when, how many points) and a moment in; the tier held then out.

- A tier is held at a moment when the points earned strictly before it reach the tier's
  `min_points`: over the customer's whole history, or over the last `window_days` days when set.
  The highest tier held wins (by `min_points`); no tier means no multiplier (1).
- An order earns at the tier held when it was created, so the order that crosses a threshold still
  earns at the old tier and the next one at the new tier. Decided from the ledger once, it is the
  same on every replay.
- `tier_moves` lists the moves up and down over time (a window's points dropping out move a
  customer down), for the record: they are events, not point entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal


@dataclass(frozen=True)
class Tier:
    """One `[[tiers]]` entry."""

    name: str
    min_points: int
    multiplier: Decimal = Decimal(1)
    window_days: int | None = None  # None: lifetime points


@dataclass(frozen=True)
class TierRules:
    tiers: tuple[Tier, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.tiers)

    def by_name(self, name: str | None) -> Tier | None:
        return next((t for t in self.tiers if t.name == name), None)


@dataclass(frozen=True)
class Earning:
    """Points that count toward tiers (earned, or revoked when negative), at an aware moment."""

    at: datetime
    points: int


@dataclass(frozen=True)
class TierMove:
    """At `at` the customer moved from `before` to `after` (tier names; None: no tier)."""

    at: datetime
    before: str | None
    after: str | None


def tier_at(earnings: Sequence[Earning], at: datetime, rules: TierRules) -> Tier | None:
    """The tier held at `at`: the highest whose requirement the earnings before `at` meet."""
    for tier in sorted(rules.tiers, key=lambda t: t.min_points, reverse=True):
        since = at - timedelta(days=tier.window_days) if tier.window_days else None
        earned = sum(e.points for e in earnings if e.at < at and (since is None or e.at >= since))
        if earned >= tier.min_points:
            return tier
    return None


def with_multiplier(points: int, tier: Tier | None) -> int:
    """Purchase points at the tier's multiplier, rounded down (never more than the rate gives)."""
    if tier is None or tier.multiplier == 1:
        return points
    scaled = (Decimal(points) * tier.multiplier).to_integral_value(rounding=ROUND_FLOOR)
    return int(scaled)


def tier_moves(earnings: Sequence[Earning], rules: TierRules, *, until: datetime) -> list[TierMove]:
    """Every change of tier up to `until` (inclusive), in time order.

    The tier can only change just after an earning, or when a window's oldest points drop out
    (`window_days` after they were earned); those moments are the ones looked at.
    """
    if not rules.enabled:
        return []
    windows = {t.window_days for t in rules.tiers if t.window_days}
    moments = {e.at for e in earnings}
    moments |= {e.at + timedelta(days=days) for e in earnings for days in windows}
    moves: list[TierMove] = []
    held: str | None = None
    for moment in sorted(m for m in moments if m <= until):
        # the tier held from just after `moment`: the earnings at `moment` count
        tier = tier_at(earnings, moment + timedelta(microseconds=1), rules)
        name = tier.name if tier else None
        if name != held:
            moves.append(TierMove(moment, held, name))
            held = name
    return moves
