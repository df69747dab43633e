"""The shape of orders and their lines (line items, shipping, fees, taxes, coupons) and totals.

For `sandbox.resources.orders` (and `refunds`, whose lines are negative copies of these): plain
dicts with the keys, key order and JSON types of real-order.json (without `_links`, which the
server adds). `line_items[].price` is a JSON
number as WooCommerce sends it; every other amount is a string with 2 decimals.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.formats import Json, fmt, neg, sum_money, unit_price, wc_dates

WC_VERSION = "9.4.2"
CURRENCY = "USD"
CURRENCY_SYMBOL = "$"
TAX_RATE_ID = 1
TAX_RATE_CODE = "US-SANDBOX-TAX-1"
TAX_LABEL = "Tax"
# The instance ids of the shipping zone methods (sandbox.resources.shipping_zones) lines name.
FLAT_RATE_INSTANCE = 1
FREE_SHIPPING_INSTANCE = 2


# Never modified in place, so every stored line shares it (readers get copies).
NO_IMAGE: Json = {"id": "", "src": ""}


def item_meta(meta_id: int, key: str, value: Any) -> Json:
    """An order item meta row; item meta carries display_key/display_value as in the samples."""
    return {"id": meta_id, "key": key, "value": value, "display_key": key, "display_value": value}


def tax_entry(total: Decimal, subtotal: Decimal | None) -> Json:
    return {
        "id": TAX_RATE_ID,
        "total": fmt(total),
        "subtotal": "" if subtotal is None else fmt(subtotal),
    }


def line_item(
    *,
    id: int,
    product_obj: Json,
    quantity: int,
    subtotal: Decimal,
    total: Decimal,
    subtotal_tax: Decimal,
    total_tax: Decimal,
) -> Json:
    taxable = product_obj["tax_status"] == "taxable"
    return {
        "id": id,
        "name": product_obj["name"],
        "product_id": product_obj["id"],
        "variation_id": 0,
        "quantity": quantity,
        "tax_class": "",
        "subtotal": fmt(subtotal),
        "subtotal_tax": fmt(subtotal_tax),
        "total": fmt(total),
        "total_tax": fmt(total_tax),
        "taxes": [tax_entry(total_tax, subtotal_tax)] if taxable else [],
        "meta_data": [],
        "sku": product_obj["sku"],
        "price": unit_price(total, quantity),
        "image": NO_IMAGE,
        "parent_name": None,
    }


def shipping_line(*, id: int, total: Decimal, tax: Decimal, free: bool) -> Json:
    return {
        "id": id,
        "method_title": "Free shipping" if free else "Flat rate",
        "method_id": "free_shipping" if free else "flat_rate",
        "instance_id": str(FREE_SHIPPING_INSTANCE if free else FLAT_RATE_INSTANCE),
        "total": fmt(total),
        "total_tax": fmt(tax),
        "taxes": [tax_entry(tax, None)] if tax else [],
        "meta_data": [],
    }


def fee_line(*, id: int, name: str, total: Decimal, tax: Decimal) -> Json:
    return {
        "id": id,
        "name": name,
        "tax_class": "",
        "tax_status": "taxable",
        "amount": fmt(total),
        "total": fmt(total),
        "total_tax": fmt(tax),
        "taxes": [tax_entry(tax, None)] if tax else [],  # fee taxes keep no subtotal
        "meta_data": [],
    }


def tax_line(
    *,
    id: int,
    tax_total: Decimal,
    shipping_tax_total: Decimal,
    rate: Decimal,
    sign: str = "",
) -> Json:
    """A tax line for the one rate; `rate_percent` (WooCommerce 3.7+) a number, as PHP's float."""
    show = neg if sign == "-" else fmt
    return {
        "id": id,
        "rate_code": TAX_RATE_CODE,
        "rate_id": TAX_RATE_ID,
        "label": TAX_LABEL,
        "compound": False,
        "tax_total": show(tax_total),
        "shipping_tax_total": show(shipping_tax_total),
        "rate_percent": float(rate * 100),
        "meta_data": [],
    }


def coupon_line(
    *, id: int, coupon: Json, discount: Decimal, discount_tax: Decimal, meta: Json
) -> Json:
    """A coupon line as WooCommerce 9 serves it: the `coupon_info` meta, and the coupon's type,
    nominal amount and free shipping read back from it."""
    return {
        "id": id,
        "code": coupon["code"],
        "discount": fmt(discount),
        "discount_tax": fmt(discount_tax),
        "meta_data": [meta],
        "discount_type": coupon["discount_type"],
        "nominal_amount": float(Decimal(coupon["amount"])),
        "free_shipping": coupon["free_shipping"],
    }


def order_key(order_id: int, created_gmt: str) -> str:
    """A stable, unguessable-looking order key: no randomness, so stores stay reproducible."""
    digest = hashlib.sha256(f"{order_id}:{created_gmt}".encode()).hexdigest()
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    number = int(digest, 16)
    chars = []
    for _ in range(13):
        number, rest = divmod(number, len(alphabet))
        chars.append(alphabet[rest])
    return "wc_order_" + "".join(chars)


def order_totals(order_obj: Json) -> None:
    """Recompute the order's money fields from its lines, as WooCommerce's calculate_totals does.

    line total = subtotal - discount; order total = lines + shipping + fees + all taxes.
    """
    lines, fees, ships = (
        order_obj["line_items"],
        order_obj["fee_lines"],
        order_obj["shipping_lines"],
    )
    line_total = sum_money(li["total"] for li in lines)
    line_tax = sum_money(li["total_tax"] for li in lines)
    fee_total = sum_money(f["total"] for f in fees)
    fee_tax = sum_money(f["total_tax"] for f in fees)
    ship_total = sum_money(s["total"] for s in ships)
    ship_tax = sum_money(s["total_tax"] for s in ships)
    discount = sum_money(li["subtotal"] for li in lines) - line_total
    discount_tax = sum_money(li["subtotal_tax"] for li in lines) - line_tax
    cart_tax = line_tax + fee_tax
    order_obj.update(
        discount_total=fmt(discount),
        discount_tax=fmt(discount_tax),
        shipping_total=fmt(ship_total),
        shipping_tax=fmt(ship_tax),
        cart_tax=fmt(cart_tax),
        total=fmt(line_total + fee_total + ship_total + cart_tax + ship_tax),
        total_tax=fmt(cart_tax + ship_tax),
    )


def order_flags(order_obj: Json, *, needs_processing: bool) -> None:
    """The derived booleans WooCommerce computes from status and contents."""
    status = order_obj["status"]
    order_obj["is_editable"] = status in ("pending", "on-hold", "auto-draft")
    order_obj["needs_payment"] = status in ("pending", "failed") and Decimal(order_obj["total"]) > 0
    order_obj["needs_processing"] = needs_processing


ORDER_KEY_ORDER = (
    "id",
    "parent_id",
    "status",
    "currency",
    "version",
    "prices_include_tax",
    "date_created",
    "date_modified",
    "discount_total",
    "discount_tax",
    "shipping_total",
    "shipping_tax",
    "cart_tax",
    "total",
    "total_tax",
    "customer_id",
    "order_key",
    "billing",
    "shipping",
    "payment_method",
    "payment_method_title",
    "transaction_id",
    "customer_ip_address",
    "customer_user_agent",
    "created_via",
    "customer_note",
    "date_completed",
    "date_paid",
    "cart_hash",
    "number",
    "meta_data",
    "line_items",
    "tax_lines",
    "shipping_lines",
    "fee_lines",
    "coupon_lines",
    "refunds",
    "payment_url",
    "is_editable",
    "needs_payment",
    "needs_processing",
    "date_created_gmt",
    "date_modified_gmt",
    "date_completed_gmt",
    "date_paid_gmt",
    "currency_symbol",
)


def order(
    *,
    id: int,
    status: str,
    customer_id: int,
    created: datetime,
    billing: Json,
    shipping: Json,
    payment: tuple[str, str],
    site_url: str,
    meta_data: list[Json],
    line_items: list[Json],
    shipping_lines: list[Json],
    fee_lines: list[Json],
    coupon_lines: list[Json],
) -> Json:
    """An order like real-order.json (every key of it and of order.json), totals computed."""
    local, gmt = wc_dates(created)
    assert gmt is not None
    key = order_key(id, gmt)
    data: Json = {
        "id": id,
        "parent_id": 0,
        "status": status,
        "currency": CURRENCY,
        "version": WC_VERSION,
        "prices_include_tax": False,
        "date_created": local,
        "date_modified": local,
        "customer_id": customer_id,
        "order_key": key,
        "billing": billing,
        "shipping": shipping,
        "payment_method": payment[0],
        "payment_method_title": payment[1],
        "transaction_id": "",
        "customer_ip_address": "",
        "customer_user_agent": "",
        "created_via": "checkout",
        "customer_note": "",
        "date_completed": None,
        "date_paid": None,
        "cart_hash": "",
        "number": str(id),
        "meta_data": meta_data,
        "line_items": line_items,
        "tax_lines": [],
        "shipping_lines": shipping_lines,
        "fee_lines": fee_lines,
        "coupon_lines": coupon_lines,
        "refunds": [],
        "payment_url": f"{site_url}/checkout/order-pay/{id}/?pay_for_order=true&key={key}",
        "date_created_gmt": gmt,
        "date_modified_gmt": gmt,
        "date_completed_gmt": None,
        "date_paid_gmt": None,
        "currency_symbol": CURRENCY_SYMBOL,
    }
    order_totals(data)
    return {name: data.get(name) for name in ORDER_KEY_ORDER}
