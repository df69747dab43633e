"""Stamp cards, the coffee-shop model: buy 9, the 10th is free. Pure: stdlib only.

For the order sync, which asks how many stamps an order carries on each card (a total, not a
delta, reconciled per order like points), and for the issuing of rewards, which asks how many
cards a customer has filled and where the current card stands.

How an order is decided, per card:
- an order whose status is not one of the card's `statuses` (default completed) carries no stamp:
  a cancelled, refunded, failed or trashed order gives its stamps back, as a deleted one does;
- otherwise each unit of a matching line is a stamp: a line matches when its product or variation
  id is one of `product_ids`, or one of its categories is one of `category_ids`;
- refunded units (the quantities of itemised refund lines) take their stamps back. A refund that
  itemises no line (an amount only) says nothing about units: the stamps stay;
- a guest order that earns no points because its rules do not award guests
  (`rules.purchase.guest_barred`) carries no stamp either, for good: the same rule as its points.

Cards: every `stamps_for_reward` stamps fill a card and each full card earns one reward, issued
once. If stamps go back after a card was rewarded (a refund after the coupon), the reward stays
and nothing goes negative: the returned stamps are owed, and the next card starts filling only
once they are earned again (`CardState.owed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from rules.types import Order, OrderLine, Refund

DEFAULT_STAMPS_FOR_REWARD = 10
DEFAULT_STATUSES = frozenset({"completed"})
DEFAULT_COUPON_DAYS = 90
#: The amount of a free-item coupon: a 100 % discount on one unit of the card's products.
FREE_ITEM_PERCENT = Decimal(100)


class RewardKind(StrEnum):
    FREE_ITEM = "free_item"  # 100 % off one unit of the card's products
    AMOUNT = "amount"  # a fixed amount off the cart


@dataclass(frozen=True)
class StampCard:
    """One stamp card (`[[rewards.stamp_cards]]`)."""

    name: str
    product_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()
    stamps_for_reward: int = DEFAULT_STAMPS_FOR_REWARD
    reward: RewardKind = RewardKind.FREE_ITEM
    reward_amount: Decimal | None = None  # with RewardKind.AMOUNT only
    statuses: frozenset[str] = DEFAULT_STATUSES
    coupon_days: int = DEFAULT_COUPON_DAYS

    def __post_init__(self) -> None:
        if not self.product_ids and not self.category_ids:
            raise ValueError(f"stamp card {self.name!r} names no product and no category")
        if self.stamps_for_reward < 1:
            raise ValueError(f"stamp card {self.name!r}: stamps_for_reward must be >= 1")
        if (self.reward is RewardKind.AMOUNT) != (self.reward_amount is not None):
            raise ValueError(f"stamp card {self.name!r}: reward_amount goes with reward = amount")

    def matches(self, line: OrderLine) -> bool:
        """Whether a unit of this line earns a stamp on this card."""
        ids = {line.product_id, line.variation_id} - {0}
        return bool(ids & self.product_ids) or bool(line.category_ids & self.category_ids)


@dataclass(frozen=True)
class CardState:
    """Where a customer's card stands: for the meta the storefront shows, and for issuing."""

    stamps: int  # net stamps ever held on this card (every order's current stamps, summed)
    for_reward: int
    rewards_issued: int

    @property
    def cards_filled(self) -> int:
        return max(0, self.stamps) // self.for_reward

    @property
    def rewards_due(self) -> int:
        """Cards filled and not yet rewarded (never negative: a reward is never taken back)."""
        return max(0, self.cards_filled - self.rewards_issued)

    @property
    def owed(self) -> int:
        """Stamps given back after their card was rewarded: earned again before the next card."""
        return max(0, self.rewards_issued * self.for_reward - self.stamps)

    @property
    def on_card(self) -> int:
        """The stamps on the card being filled (0 while stamps are owed)."""
        return max(0, self.stamps - max(self.rewards_issued, self.cards_filled) * self.for_reward)

    def as_meta(self) -> dict[str, int]:
        return {
            "stamps": self.on_card,
            "for_reward": self.for_reward,
            "rewards_issued": self.rewards_issued,
            "owed": self.owed,
        }


def order_stamps(order: Order, card: StampCard, refunds: Sequence[Refund] | None = None) -> int:
    """The stamps `order` carries on `card` after `refunds` (default: `order.refunds`)."""
    if order.status not in card.statuses:
        return 0
    refunded = refunded_units(order.refunds if refunds is None else refunds)
    return sum(
        max(0, line.quantity - refunded.get(line.line_id, 0))
        for line in order.lines
        if card.matches(line)
    )


def refunded_units(refunds: Iterable[Refund]) -> dict[int, int]:
    """Units refunded per order line id, over every refund."""
    units: dict[int, int] = {}
    for refund in refunds:
        for line in refund.lines:
            units[line.refunded_item_id] = units.get(line.refunded_item_id, 0) + line.quantity
    return units


def cards_stamps(
    order: Order,
    cards: Sequence[StampCard],
    refunds: Sequence[Refund] | None = None,
    *,
    guest_barred: bool = False,
) -> dict[str, int]:
    """The stamps `order` carries on each card, by card name; none at all when `guest_barred`
    (a guest order its purchase rules do not award: `rules.purchase.guest_barred`)."""
    if guest_barred:
        return dict.fromkeys((card.name for card in cards), 0)
    return {card.name: order_stamps(order, card, refunds) for card in cards}
