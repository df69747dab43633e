"""The typed shapes the rules read and decide on.

The sync parses WooCommerce JSON into these (strictly: money as Decimal, times as aware UTC)
and the config builds the rule objects; the rules never see raw API data or TOML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType


class Rounding(StrEnum):
    FLOOR = "floor"
    HALF_UP = "half-up"
    CEIL = "ceil"


@dataclass(frozen=True)
class ItemOverride:
    """How one product or category earns, instead of the plain rate.

    Exactly one of: a multiplier on the rate, fixed points per item, or excluded.
    """

    multiplier: Decimal | None = None
    fixed_points: int | None = None
    excluded: bool = False


def _frozen_map() -> Mapping[int, ItemOverride]:
    return MappingProxyType({})


@dataclass(frozen=True)
class PurchaseRules:
    """One version of the purchase rule, in force for orders created from `effective_from` on."""

    version: str = "default"
    effective_from: date = date(1970, 1, 1)
    points_per_unit: Decimal = Decimal(1)
    rounding: Rounding = Rounding.FLOOR
    include_shipping: bool = False
    include_tax: bool = False
    include_fees: bool = False
    earn_statuses: frozenset[str] = frozenset({"completed"})
    minimum_order_amount: Decimal = Decimal(0)
    no_points_with_coupon: bool = False
    max_points_per_order: int | None = None
    award_guests: bool = True
    product_overrides: Mapping[int, ItemOverride] = field(default_factory=_frozen_map)
    category_overrides: Mapping[int, ItemOverride] = field(default_factory=_frozen_map)


@dataclass(frozen=True)
class PurchaseRuleBook:
    """Every version of the purchase rule; an order is decided under the one in force when it was created."""

    versions: tuple[PurchaseRules, ...] = (PurchaseRules(),)

    def for_order_created(self, created: datetime) -> PurchaseRules:
        return self.in_force(created)

    def by_version(self, version: str) -> PurchaseRules | None:
        """The rule set named `version`, if the book still holds it."""
        return next((r for r in self.versions if r.version == version), None)

    def in_force(self, at: datetime) -> PurchaseRules:
        """The rule set in force at `at`: the latest whose `effective_from` has come."""
        in_force = [r for r in self.versions if r.effective_from <= at.date()]
        if not in_force:  # an order older than every rule set earns under the oldest one
            return min(self.versions, key=lambda r: r.effective_from)
        return max(in_force, key=lambda r: r.effective_from)


@dataclass(frozen=True)
class OrderLine:
    line_id: int
    product_id: int
    variation_id: int
    quantity: int
    subtotal: Decimal  # before discounts
    total: Decimal  # after discounts, before tax
    total_tax: Decimal
    category_ids: frozenset[int] = frozenset()
    name: str = ""


@dataclass(frozen=True)
class RefundLine:
    """A refunded order line. Amounts and quantity are positive here (the API sends them negative)."""

    refunded_item_id: int  # the order line's id, from meta `_refunded_item_id`
    quantity: int
    total: Decimal
    total_tax: Decimal


@dataclass(frozen=True)
class Refund:
    refund_id: int
    amount: Decimal  # positive, as `amount` in the refund resource
    lines: tuple[RefundLine, ...] = ()
    shipping_total: Decimal = Decimal(0)  # positive; from the refund's shipping_lines
    shipping_tax: Decimal = Decimal(0)
    fee_total: Decimal = Decimal(0)  # positive; from the refund's fee_lines
    fee_tax: Decimal = Decimal(0)

    @property
    def itemised(self) -> bool:
        return bool(self.lines) or self.shipping_total > 0 or self.fee_total > 0


@dataclass(frozen=True)
class Order:
    order_id: int
    status: str
    customer_id: int  # 0 for a guest order
    billing_email: str  # lowercased, stripped
    created_at: datetime  # aware UTC, from date_created_gmt
    modified_at: datetime  # aware UTC, from date_modified_gmt
    currency: str
    total: Decimal
    total_tax: Decimal
    shipping_total: Decimal
    shipping_tax: Decimal
    fee_total: Decimal
    fee_tax: Decimal
    discount_total: Decimal
    lines: tuple[OrderLine, ...]
    coupon_codes: tuple[str, ...] = ()
    refunds: tuple[Refund, ...] = ()


@dataclass(frozen=True)
class ProductPoints:
    """The share of an award carried by one product; product 0 is shipping and fees."""

    product_id: int
    category_id: int  # the product's lowest category id when known, else 0
    points: int


@dataclass(frozen=True)
class Award:
    """What one source object should carry in the ledger, in total (not a delta)."""

    points: int
    reason: str  # "purchase", "first_order", ...
    key: str  # the source reference the points belong to: "order:1042"
    rule_version: str
    explanation: str = ""
    #: For purchases: `points` split over the products that earned them (sums to `points`).
    products: tuple[ProductPoints, ...] = ()
