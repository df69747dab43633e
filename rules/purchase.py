"""The purchase rule: how many points an order should carry, given its refunds. Pure: stdlib only.

For the order sync, which parses the order (`sync.order_data`), picks the rule version in force when
the order was created (`PurchaseRuleBook.for_order_created`) and reconciles the returned `Award`
(a total, not a delta) with the ledger.

How an order is decided, in order:
1. Gates, any of which gives 0: a status outside `earn_statuses`; a guest order (customer 0) when
   guests do not earn (`guest_barred`: not an account's order the store now shows as a guest
   order, `placed_by`) or have no billing email (an account's order earns without one, `placed_by`
   too); a coupon when `no_points_with_coupon`.
2. The earning base before refunds: each non-excluded line's `total` (plus `total_tax` with
   `include_tax`), plus shipping and fees when included (plus their tax with `include_tax`). Below
   `minimum_order_amount` gives 0: the minimum is about the purchase as made, so a later partial
   refund does not take a qualifying order's remaining points away.
3. Each line earns under its override: a product override (variation id first, then product id)
   wins over category overrides. Among several matching categories: excluded wins, else the highest
   multiplier, else the highest fixed points. A multiplier scales the line's amount at the rate;
   fixed points give `fixed_points * quantity` instead of the rate; excluded gives nothing.
4. Refunds: itemised refund lines reduce their order line (amount, and tax when tax is included);
   refunded shipping/fees reduce the shipping/fee part; fixed points shrink by the refunded share
   of the line's amount (by refunded quantity when the line's amount is 0). Refunds that itemise
   nothing scale everything by (1 - sum of their amounts / order total), never below 0.
5. Rounding (`rounding`) once on the order's Decimal total (rate * base + fixed), then the cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from rules import notes
from rules.types import (
    Award,
    ItemOverride,
    Order,
    OrderLine,
    ProductPoints,
    PurchaseRules,
    Refund,
    Rounding,
)

PURCHASE_REASON = "purchase"
FIRST_ORDER_REASON = "first_order"
FIRST_ORDER_RULE_VERSION = "default"

_ZERO = Decimal(0)
_ONE = Decimal(1)
_CENT = Decimal("0.01")
_PLAIN = ItemOverride()
_EXCLUDED = ItemOverride(excluded=True)
_ROUNDING_MODES = {
    Rounding.FLOOR: ROUND_FLOOR,
    Rounding.HALF_UP: ROUND_HALF_UP,
    Rounding.CEIL: ROUND_CEILING,
}


@dataclass(frozen=True)
class _Earning:
    """An order's earning parts: `rated` is earned at the rate, `fixed` is points as they are."""

    rated: Decimal = _ZERO
    fixed: Decimal = _ZERO

    def __add__(self, other: _Earning) -> _Earning:
        return _Earning(self.rated + other.rated, self.fixed + other.fixed)

    def scaled(self, factor: Decimal) -> _Earning:
        return _Earning(self.rated * factor, self.fixed * factor)


_NOTHING = _Earning()


def purchase_points(
    order: Order,
    rules: PurchaseRules,
    refunds: Sequence[Refund] | None = None,
    *,
    placed_by: int = 0,
) -> Award:
    """The points `order` should carry under `rules`, after `refunds` (default: `order.refunds`);
    `placed_by` as for `guest_barred`."""
    applied = tuple(order.refunds if refunds is None else refunds)
    refusal = _gate(order, rules, placed_by)
    if refusal:
        return _award(order, rules, 0, notes.PURCHASE_REFUSED(status=order.status, why=refusal))
    # Each line's override and earning once, for the base, the total and the split.
    overrides = [_override(line, rules) for line in order.lines]
    gross = _gross_base(order, rules, overrides)
    if gross < rules.minimum_order_amount:
        return _award(
            order,
            rules,
            0,
            notes.BELOW_MINIMUM(
                status=order.status, base=_fmt(gross), minimum=_fmt(rules.minimum_order_amount)
            ),
        )
    extras = _extras(order, rules, applied)
    earnings = [
        _line_earning(line, override, rules, applied)
        for line, override in zip(order.lines, overrides, strict=True)
    ]
    earning = _net_earning(order, extras, earnings, applied)
    raw = earning.rated * rules.points_per_unit + earning.fixed
    points = int(raw.quantize(_ONE, rounding=_ROUNDING_MODES[rules.rounding]))
    decided: dict[str, object] = {
        "status": order.status,
        "base": _fmt(earning.rated),
        "rate": rules.points_per_unit,
        "points": points,
        "rounding": rules.rounding.value,
    }
    if earning.fixed:
        decided["fixed"] = f"{earning.fixed.normalize():f}"
    cap = rules.max_points_per_order
    if cap is not None and points > cap:
        points = decided["cap"] = cap
    explanation = _EARNED["fixed" in decided, "cap" in decided](**decided)
    products = split_by_product(points, _product_weights(order, rules, extras, earnings))
    return _award(order, rules, points, explanation, products)


def split_by_product(
    points: int, weights: dict[tuple[int, int], Decimal]
) -> tuple[ProductPoints, ...]:
    """`points` shared over (product, category) keys in proportion to their weights, as integers
    that add up to `points` exactly (largest remainder; ties go to the lower key)."""
    if points == 0:
        return ()
    positive = {key: weight for key, weight in weights.items() if weight > 0}
    if len(positive) == 1:  # one product earned it all (what the general case gives too)
        ((product, category),) = positive
        return (ProductPoints(product, category, points),)
    total = sum(positive.values(), _ZERO)
    if total <= 0:
        return (ProductPoints(0, 0, points),)
    exact = {key: Decimal(points) * weight / total for key, weight in positive.items()}
    shares = {
        key: int(value.to_integral_value(rounding=ROUND_FLOOR)) for key, value in exact.items()
    }
    left = points - sum(shares.values())
    for key in sorted(exact, key=lambda k: (-(exact[k] - shares[k]), k))[:left]:
        shares[key] += 1
    return tuple(
        ProductPoints(product, category, share)
        for (product, category), share in sorted(shares.items())
        if share
    )


def _product_weights(
    order: Order, rules: PurchaseRules, extras: Decimal, earnings: Sequence[_Earning]
) -> dict[tuple[int, int], Decimal]:
    """Each product's earning (at the rate, plus fixed points) before rounding; product 0 holds
    shipping and fees (`extras`). The unitemised-refund factor scales all alike, so it is left out.
    `earnings` are the lines' (`_line_earning`), in order."""
    weights: dict[tuple[int, int], Decimal] = {}
    if extras:
        weights[(0, 0)] = extras * rules.points_per_unit
    for line, earning in zip(order.lines, earnings, strict=True):
        key = (line.product_id, min(line.category_ids) if line.category_ids else 0)
        weight = earning.rated * rules.points_per_unit + earning.fixed
        weights[key] = weights.get(key, _ZERO) + weight
    return weights


def first_order_points(bonus: int, has_earning_order: bool, owner_ref: str) -> Award:
    """The one-off bonus for a customer's first earning order, keyed to the customer, not an order.

    `owner_ref` names the customer ("customer:17" or a guest's email ref); the sync decides
    `has_earning_order` from the ledger and the store, and reconciles like any other award.
    """
    return Award(
        points=bonus if has_earning_order else 0,
        reason=FIRST_ORDER_REASON,
        key=f"first_order:{owner_ref}",
        rule_version=FIRST_ORDER_RULE_VERSION,
        explanation=notes.FIRST_ORDER() if has_earning_order else notes.NO_EARNING_ORDER(),
    )


#: The explanation of points earned, by (a fixed amount was added, the order's cap applied).
_EARNED = {
    (False, False): notes.EARNED,
    (True, False): notes.EARNED_FIXED,
    (False, True): notes.EARNED_CAPPED,
    (True, True): notes.EARNED_FIXED_CAPPED,
}


def guest_barred(order: Order, rules: PurchaseRules, *, placed_by: int = 0) -> bool:
    """Whether `order` is a guest order under rules that do not award guests: it earns nothing,
    points or stamps (`rules.stamps.cards_stamps`), ever. A guest who registers later leaves its
    orders guest orders (WooCommerce keeps their `customer_id` 0), so they never earn.

    `placed_by` is the account that placed the order when the store now shows it as a guest order
    (0: none known): WordPress turns a deleted account's orders into guest orders. Such an order
    is an account's order still and earns as one, whatever became of the account."""
    return order.customer_id == 0 and not placed_by and not rules.award_guests


# -- the steps --------------------------------------------------------------------------------


def _gate(order: Order, rules: PurchaseRules, placed_by: int) -> str | None:
    """Why the order earns nothing at all, or None when it may earn."""
    if order.status not in rules.earn_statuses:
        return notes.STATUS_DOES_NOT_EARN()
    if guest_barred(order, rules, placed_by=placed_by):
        return notes.GUEST_ORDERS_DO_NOT_EARN()
    if order.customer_id == 0 and not placed_by and not order.billing_email:
        return notes.GUEST_WITHOUT_EMAIL()
    if rules.no_points_with_coupon and order.coupon_codes:
        return notes.COUPON_USED(codes=", ".join(order.coupon_codes))
    return None


def _gross_base(order: Order, rules: PurchaseRules, overrides: Sequence[ItemOverride]) -> Decimal:
    """The earning amount before refunds and multipliers, for the minimum order amount.
    `overrides` are the lines' (`_override`), in order."""
    lines = _ZERO
    for line, override in zip(order.lines, overrides, strict=True):
        if not override.excluded:
            lines += _line_amount(line, rules)
    return max(_ZERO, lines + _extras(order, rules, ()))


def _net_earning(
    order: Order, extras: Decimal, earnings: Sequence[_Earning], refunds: tuple[Refund, ...]
) -> _Earning:
    """Shipping and fees (`extras`) and the lines' earnings, at least 0, after unitemised refunds."""
    rated, fixed = extras, _ZERO
    for earning in earnings:
        rated += earning.rated
        fixed += earning.fixed
    total = _Earning(max(_ZERO, rated), max(_ZERO, fixed))
    return total.scaled(_unitemised_factor(order, refunds))


def _line_earning(
    line: OrderLine, override: ItemOverride, rules: PurchaseRules, refunds: tuple[Refund, ...]
) -> _Earning:
    """What one line earns under its override (`_override`), net of its itemised refunds."""
    if override.excluded:
        return _NOTHING
    amount = _line_amount(line, rules)
    refunded_amount, refunded_quantity = _line_refunds(line, rules, refunds)
    net = max(_ZERO, amount - refunded_amount)
    if override.fixed_points is not None:
        if amount > 0:
            kept = net / amount
        elif line.quantity > 0:
            kept = max(_ZERO, Decimal(line.quantity - refunded_quantity) / line.quantity)
        else:
            kept = _ZERO
        return _Earning(fixed=Decimal(override.fixed_points * line.quantity) * kept)
    multiplier = _ONE if override.multiplier is None else override.multiplier
    return _Earning(rated=net * multiplier)


def _line_amount(line: OrderLine, rules: PurchaseRules) -> Decimal:
    return line.total + (line.total_tax if rules.include_tax else _ZERO)


def _line_refunds(
    line: OrderLine, rules: PurchaseRules, refunds: tuple[Refund, ...]
) -> tuple[Decimal, int]:
    """The amount (with tax when tax earns) and quantity refunded from one order line."""
    amount, quantity = _ZERO, 0
    if not refunds:
        return amount, quantity
    for refund in refunds:
        for refunded in refund.lines:
            if refunded.refunded_item_id == line.line_id:
                amount += refunded.total + (refunded.total_tax if rules.include_tax else _ZERO)
                quantity += refunded.quantity
    return amount, quantity


def _extras(order: Order, rules: PurchaseRules, refunds: tuple[Refund, ...]) -> Decimal:
    """Shipping and fees as far as they earn, net of their itemised refunds."""
    tax = rules.include_tax
    extras = _ZERO
    if rules.include_shipping:
        gross = order.shipping_total + (order.shipping_tax if tax else _ZERO)
        refunded = sum(
            (r.shipping_total + (r.shipping_tax if tax else _ZERO) for r in refunds), _ZERO
        )
        extras += _net_part(gross, refunded)
    if rules.include_fees:
        gross = order.fee_total + (order.fee_tax if tax else _ZERO)
        refunded = sum((r.fee_total + (r.fee_tax if tax else _ZERO) for r in refunds), _ZERO)
        extras += _net_part(gross, refunded)
    return extras


def _net_part(gross: Decimal, refunded: Decimal) -> Decimal:
    """A part net of its refunds, never pushed below 0 (a negative fee, a discount, stays as is)."""
    return max(gross - refunded, min(gross, _ZERO))


def _unitemised_factor(order: Order, refunds: tuple[Refund, ...]) -> Decimal:
    """What is left after refunds that itemise nothing: 1 - sum(amounts) / order total, >= 0."""
    unitemised = sum((r.amount for r in refunds if not r.itemised), _ZERO)
    if order.total <= 0 or not unitemised:
        return _ONE
    return max(_ZERO, _ONE - unitemised / order.total)


def _override(line: OrderLine, rules: PurchaseRules) -> ItemOverride:
    """The override a line earns under: product (variation first) beats category; none = plain."""
    products = rules.product_overrides
    if products:
        for product_id in (line.variation_id, line.product_id):
            if product_id and product_id in products:
                return products[product_id]
    categories = rules.category_overrides
    if not categories or not line.category_ids:
        return _PLAIN
    matches = [categories[c] for c in line.category_ids if c in categories]
    if not matches:
        return _PLAIN
    if any(m.excluded for m in matches):
        return _EXCLUDED
    multipliers = [m.multiplier for m in matches if m.multiplier is not None]
    if multipliers:
        return ItemOverride(multiplier=max(multipliers))
    fixed = [m.fixed_points for m in matches if m.fixed_points is not None]
    return ItemOverride(fixed_points=max(fixed)) if fixed else ItemOverride()


def _award(
    order: Order,
    rules: PurchaseRules,
    points: int,
    explanation: str,
    products: tuple[ProductPoints, ...] = (),
) -> Award:
    return Award(
        points=points,
        reason=PURCHASE_REASON,
        key=f"order:{order.order_id}",
        rule_version=rules.version,
        explanation=explanation,
        products=products,
    )


def _fmt(amount: Decimal) -> str:
    """Money-like display: at least two decimals, more only when they carry something."""
    cents = amount.quantize(_CENT)
    if cents == amount:
        return f"{cents:f}"
    return f"{amount.normalize():f}"
