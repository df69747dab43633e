"""What a redemption is worth: points in, a coupon amount out, or a refusal saying why.

Pure decisions for the redemption service (`sync.redemptions`), the CLI and the storefront
requests: the shop's `[redemption]` settings as typed data, and `quote_redemption`, which turns a
request (a tier by name, or a number of points) and the points a customer can spend into a
`Quote` or a `Refusal` that says how many points are missing. Also the coupon code format: a
readable lowercase alphabet without look-alike characters, long enough for 64 bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from rules import notes

CENT = Decimal("0.01")

#: Lowercase (WooCommerce lowercases codes), without 0/o, 1/l/i: nothing a customer can misread.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_BITS = 64
#: Symbols needed for at least CODE_BITS bits of randomness (13 symbols: 64.4 bits).
CODE_LENGTH = math.ceil(CODE_BITS / math.log2(len(CODE_ALPHABET)))
CODE_GROUP = 4  # symbols between dashes, for reading a code out loud
PREFIX_ALPHABET = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
MAX_PREFIX = 20


@dataclass(frozen=True)
class RedemptionTier:
    """A fixed offer: `points` buy a coupon of `amount` (store currency)."""

    name: str
    points: int
    amount: Decimal


@dataclass(frozen=True)
class RedemptionRules:
    """The shop's `[redemption]` settings, validated by the config loader."""

    tiers: tuple[RedemptionTier, ...] = ()
    points_per_unit: int | None = None  # the rate: points per 1.00 of store currency
    minimum_points: int = 0
    maximum_points: int | None = None
    step: int = 1
    coupon_days: int = 90
    individual_use: bool = False
    code_prefix: str = ""
    return_points_on_expiry: bool = True
    auto_issue_tier: str | None = None
    #: Storefront requests: customers who cannot afford any redemption read per sync, in turn.
    request_scan: int = 500

    @property
    def enabled(self) -> bool:
        """Whether anything can be redeemed: a tier or a rate is configured."""
        return bool(self.tiers) or self.points_per_unit is not None

    def tier(self, name: str) -> RedemptionTier | None:
        return next((t for t in self.tiers if t.name == name), None)

    @property
    def cheapest_points(self) -> int | None:
        """The fewest points any redemption costs (None when nothing is redeemable)."""
        costs = [t.points for t in self.tiers]
        if self.points_per_unit is not None:
            costs.append(_smallest_rate_points(self))
        return min(costs) if costs else None


@dataclass(frozen=True)
class Quote:
    """A redemption that can go ahead: `points` are debited for a coupon of `amount`."""

    points: int
    amount: Decimal
    tier: str | None  # the tier's name, or None for a rate redemption


@dataclass(frozen=True)
class Refusal:
    """A redemption that cannot go ahead; `missing` is how many more points it would need."""

    reason: str
    missing: int = 0


def quote_redemption(
    rules: RedemptionRules,
    available: int,
    *,
    tier: str | None = None,
    points: int | None = None,
    owed: int = 0,
) -> Quote | Refusal:
    """Decide a request for a tier (by name) or for a number of points against `available`.

    A customer who owes points (`owed`: points revoked after they were spent, see `rules.debt`)
    is refused whatever they ask for, until the debt is paid."""
    if (tier is None) == (points is None):
        return Refusal(notes.REFUSED_TIER_OR_POINTS())
    if owed > 0:
        if owed == 1:
            return Refusal(notes.REFUSED_OWES_ONE())
        return Refusal(notes.REFUSED_OWES(owed=owed))
    if tier is not None:
        return _tier_quote(rules, available, tier)
    assert points is not None
    return _rate_quote(rules, available, points)


def _tier_quote(rules: RedemptionRules, available: int, name: str) -> Quote | Refusal:
    found = rules.tier(name)
    if found is None:
        known = ", ".join(t.name for t in rules.tiers)
        if not known:
            return Refusal(notes.REFUSED_NO_TIERS(name=repr(name)))
        return Refusal(notes.REFUSED_UNKNOWN_TIER(name=repr(name), known=known))
    if available < found.points:
        missing = found.points - available
        reason = notes.missing_points(
            notes.REFUSED_TIER_SHORT_ONE,
            notes.REFUSED_TIER_SHORT,
            missing,
            tier=found.name,
            points=found.points,
            balance=available,
        )
        return Refusal(reason, missing)
    return Quote(points=found.points, amount=found.amount, tier=found.name)


def _rate_quote(rules: RedemptionRules, available: int, points: int) -> Quote | Refusal:
    rate = rules.points_per_unit
    if rate is None:
        return Refusal(notes.REFUSED_NO_RATE())
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        return Refusal(notes.REFUSED_NOT_WHOLE(points=repr(points)))
    lowest = _smallest_rate_points(rules)
    if points < lowest:
        return Refusal(notes.REFUSED_AT_LEAST(lowest=lowest, points=points))
    if rules.maximum_points is not None and points > rules.maximum_points:
        return Refusal(notes.REFUSED_AT_MOST(most=rules.maximum_points, points=points))
    if points % rules.step:
        return Refusal(notes.REFUSED_STEP(step=rules.step, points=points))
    amount = rate_amount(rules, points)
    if amount <= 0:
        return Refusal(notes.REFUSED_WORTHLESS(points=points, cent=CENT))
    if available < points:
        missing = points - available
        reason = notes.missing_points(
            notes.REFUSED_SHORT_ONE, notes.REFUSED_SHORT, missing, points=points, balance=available
        )
        return Refusal(reason, missing)
    return Quote(points=points, amount=amount, tier=None)


def rate_amount(rules: RedemptionRules, points: int) -> Decimal:
    """What `points` are worth at the rate, rounded down to the cent (never more than earned)."""
    assert rules.points_per_unit is not None
    return (Decimal(points) / Decimal(rules.points_per_unit)).quantize(CENT, rounding=ROUND_DOWN)


def _smallest_rate_points(rules: RedemptionRules) -> int:
    """The smallest redeemable multiple of `step` that is at least `minimum_points` (and > 0)."""
    floor = max(rules.minimum_points, 1)
    return -(-floor // rules.step) * rules.step


def auto_issue_due(rules: RedemptionRules, available: int) -> RedemptionTier | None:
    """The auto-issue tier when `available` reaches it, else None."""
    if rules.auto_issue_tier is None:
        return None
    found = rules.tier(rules.auto_issue_tier)
    return found if found is not None and available >= found.points else None


# --- coupon codes -------------------------------------------------------------------------------


def format_code(prefix: str, symbols: str) -> str:
    """A coupon code from a prefix and CODE_LENGTH symbols of CODE_ALPHABET, dashed in groups."""
    if len(symbols) != CODE_LENGTH or any(s not in CODE_ALPHABET for s in symbols):
        raise ValueError(f"expected {CODE_LENGTH} symbols of the code alphabet")
    groups = [symbols[i : i + CODE_GROUP] for i in range(0, len(symbols), CODE_GROUP)]
    return prefix + "-".join(groups)


#: What `format_code` puts after the prefix, as the lengths of its dashed groups (4, 4, 4, 1),
#: and how many characters that is with the dashes.
_TAIL_GROUPS = [len(group) for group in format_code("", CODE_ALPHABET[0] * CODE_LENGTH).split("-")]
CODE_TAIL = sum(_TAIL_GROUPS) + len(_TAIL_GROUPS) - 1


def has_code_shape(code: str) -> bool:
    """Whether `code` ends as every code `format_code` makes does, whatever its prefix: how the
    sync tells the coupons it may have issued from the shop's own (`summer10`) without a query."""
    tail = code[-CODE_TAIL:]
    if len(tail) != CODE_TAIL:
        return False
    groups = tail.split("-")
    return [len(group) for group in groups] == _TAIL_GROUPS and all(
        symbol in CODE_ALPHABET for group in groups for symbol in group
    )


def code_symbols(prefix: str, code: str) -> str:
    """The random symbols of a code made by `format_code` (for checks and tests)."""
    if not code.startswith(prefix):
        raise ValueError("the code does not start with the prefix")
    return code[len(prefix) :].replace("-", "")


def prefix_problem(prefix: str) -> str | None:
    """Why a code prefix is not usable, or None: lowercase letters, digits, - and _ only."""
    if len(prefix) > MAX_PREFIX:
        return f"at most {MAX_PREFIX} characters"
    if any(c not in PREFIX_ALPHABET for c in prefix):
        return "lowercase letters, digits, - and _ only (WooCommerce lowercases coupon codes)"
    return None
