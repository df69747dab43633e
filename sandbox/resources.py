"""Builders for the JSON objects the sandbox store serves, shaped exactly like WooCommerce's.

For the store (and its tests): every builder returns a plain dict with the keys, nesting, key order
and JSON types of the samples in ../shared/woocommerce-samples/ (without `_links`, which the server
adds). Money is a string with 2 decimals, except `line_items[].price`, a JSON number as WooCommerce
sends it. Dates come in pairs: `date_x` in the site's local time and `date_x_gmt` in UTC, both
without a zone suffix and in whole seconds. Nothing here holds state or reads a clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Json = dict[str, Any]

CENT = Decimal("0.01")
ZERO = Decimal(0)
SITE_TZ = timezone(timedelta(hours=-3))  # like the docs' samples: UTC-03:00, no DST
WC_VERSION = "9.4.2"
CURRENCY = "USD"
CURRENCY_SYMBOL = "$"
TAX_RATE_ID = 1
TAX_RATE_CODE = "US-SANDBOX-TAX-1"
TAX_LABEL = "Tax"

# WooCommerce never returns these customer meta keys (WC_Customer_Data_Store::exclude_internal_meta_keys).
HIDDEN_META_PREFIXES = (
    "_woocommerce_persistent_cart",
    "closedpostboxes_",
    "metaboxhidden_",
    "manageedit-",
)
TABLE_PREFIX = "wp_"


def money(value: Decimal | int | str) -> Decimal:
    """Round to cents, half up, as WooCommerce's wc_format_decimal does for display."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


_MONEY_TEXT: dict[str, str] = {}  # one shared str per amount: 100,000 orders repeat few amounts


def fmt(value: Decimal) -> str:
    """Money as WooCommerce serialises it: a string with exactly 2 decimals."""
    text = str(money(value))
    return _MONEY_TEXT.setdefault(text, text)


def neg(value: Decimal) -> str:
    """A refunded amount as refund lines carry it: negative, 2 decimals ("0.00" stays unsigned)."""
    amount = money(value)
    return fmt(-amount) if amount else "0.00"


def unit_price(total: Decimal, quantity: int) -> int | float:
    """`price` of a line: total / quantity as a JSON number (an int when whole, as PHP emits it)."""
    if not quantity:
        return 0
    value = total / abs(quantity)
    return int(value) if value == value.to_integral_value() else float(value)


def wc_dates(moment: datetime | None) -> tuple[str | None, str | None]:
    """The (local, gmt) pair for an aware UTC moment; (None, None) for an unset date."""
    if moment is None:
        return None, None
    local = moment.astimezone(SITE_TZ).replace(tzinfo=None).isoformat(timespec="seconds")
    gmt = moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    return local, gmt


def parse_gmt(text: str) -> datetime:
    """Read back a `*_gmt` field as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def gravatar(email: str, size: int = 96) -> str:
    """The avatar URL WordPress derives from an email address."""
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?s={size}&d=mm&r=g"


def avatar_urls(email: str) -> Json:
    return {str(size): gravatar(email, size) for size in (24, 48, 96)}


def wpautop(text: str) -> str:
    """Rendered comment/review content, as WordPress's wpautop leaves a single paragraph."""
    return f"<p>{text}</p>\n"


def is_hidden_customer_meta(key: str) -> bool:
    """True for customer meta keys WooCommerce stores but never returns over the API."""
    return (
        key.startswith(HIDDEN_META_PREFIXES)
        or TABLE_PREFIX in key
        or key.lower().startswith(TABLE_PREFIX)
    )


def address(
    *,
    first: str = "",
    last: str = "",
    street: str = "",
    city: str = "",
    state: str = "",
    postcode: str = "",
    country: str = "",
    phone: str = "",
    email: str | None = None,
) -> Json:
    """A billing (with `email`) or shipping (without) address, keys in WooCommerce's order."""
    data: Json = {
        "first_name": first,
        "last_name": last,
        "company": "",
        "address_1": street,
        "address_2": "",
        "city": city,
        "state": state,
        "postcode": postcode,
        "country": country,
    }
    if email is not None:
        data["email"] = email
    data["phone"] = phone
    return data


def customer(
    *,
    id: int,
    email: str,
    first: str,
    last: str,
    username: str,
    created: datetime,
    billing: Json,
    shipping: Json,
) -> Json:
    created_local, created_gmt = wc_dates(created)
    return {
        "id": id,
        "date_created": created_local,
        "date_created_gmt": created_gmt,
        "date_modified": created_local,
        "date_modified_gmt": created_gmt,
        "email": email,
        "first_name": first,
        "last_name": last,
        "role": "customer",
        "username": username,
        "billing": billing,
        "shipping": shipping,
        "is_paying_customer": False,
        "avatar_url": gravatar(email),
        "meta_data": [],
    }


def product(
    *,
    id: int,
    name: str,
    slug: str,
    sku: str,
    price: Decimal,
    created: datetime,
    categories: list[Json],
    site_url: str,
    virtual: bool = False,
    taxable: bool = True,
) -> Json:
    """A simple published product, shaped like the docs' "Retrieve a product" example."""
    local, gmt = wc_dates(created)
    amount = fmt(price)
    return {
        "id": id,
        "name": name,
        "slug": slug,
        "permalink": f"{site_url}/product/{slug}/",
        "date_created": local,
        "date_created_gmt": gmt,
        "date_modified": local,
        "date_modified_gmt": gmt,
        "type": "simple",
        "status": "publish",
        "featured": False,
        "catalog_visibility": "visible",
        "description": wpautop(f"{name}, from the sandbox shop."),
        "short_description": wpautop(name),
        "sku": sku,
        "price": amount,
        "regular_price": amount,
        "sale_price": "",
        "date_on_sale_from": None,
        "date_on_sale_from_gmt": None,
        "date_on_sale_to": None,
        "date_on_sale_to_gmt": None,
        "price_html": f'<span class="woocommerce-Price-amount amount">&#36;{amount}</span>',
        "on_sale": False,
        "purchasable": True,
        "total_sales": 0,
        "virtual": virtual,
        "downloadable": False,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "external_url": "",
        "button_text": "",
        "tax_status": "taxable" if taxable else "none",
        "tax_class": "",
        "manage_stock": False,
        "stock_quantity": None,
        "stock_status": "instock",
        "backorders": "no",
        "backorders_allowed": False,
        "backordered": False,
        "sold_individually": False,
        "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_required": not virtual,
        "shipping_taxable": not virtual,
        "shipping_class": "",
        "shipping_class_id": 0,
        "reviews_allowed": True,
        "average_rating": "0.00",
        "rating_count": 0,
        "related_ids": [],
        "upsell_ids": [],
        "cross_sell_ids": [],
        "parent_id": 0,
        "purchase_note": "",
        "categories": categories,
        "tags": [],
        "images": [],
        "attributes": [],
        "default_attributes": [],
        "variations": [],
        "grouped_products": [],
        "menu_order": 0,
        "meta_data": [],
    }


COUPON_DEFAULTS: Json = {
    "amount": "0.00",
    "status": "publish",
    "discount_type": "fixed_cart",
    "description": "",
    "date_expires": None,
    "date_expires_gmt": None,
    "usage_count": 0,
    "individual_use": False,
    "product_ids": [],
    "excluded_product_ids": [],
    "usage_limit": None,
    "usage_limit_per_user": None,
    "limit_usage_to_x_items": None,
    "free_shipping": False,
    "product_categories": [],
    "excluded_product_categories": [],
    "exclude_sale_items": False,
    "minimum_amount": "0.00",
    "maximum_amount": "0.00",
    "email_restrictions": [],
    "used_by": [],
    "meta_data": [],
}
COUPON_KEY_ORDER = (
    "id",
    "code",
    "amount",
    "status",
    "date_created",
    "date_created_gmt",
    "date_modified",
    "date_modified_gmt",
    "discount_type",
    "description",
    "date_expires",
    "date_expires_gmt",
    "usage_count",
    "individual_use",
    "product_ids",
    "excluded_product_ids",
    "usage_limit",
    "usage_limit_per_user",
    "limit_usage_to_x_items",
    "free_shipping",
    "product_categories",
    "excluded_product_categories",
    "exclude_sale_items",
    "minimum_amount",
    "maximum_amount",
    "email_restrictions",
    "used_by",
    "meta_data",
)


def coupon(*, id: int, code: str, created: datetime, fields: Json) -> Json:
    """A coupon like real-coupon.json; `fields` are already validated and formatted."""
    local, gmt = wc_dates(created)
    data = {**COUPON_DEFAULTS, **fields, "id": id, "code": code}
    data.update(
        date_created=local, date_created_gmt=gmt, date_modified=local, date_modified_gmt=gmt
    )
    for key in (
        "product_ids",
        "excluded_product_ids",
        "product_categories",
        "excluded_product_categories",
        "email_restrictions",
        "used_by",
        "meta_data",
    ):
        data[key] = list(data[key])  # never share the defaults' lists between coupons
    return {key: data[key] for key in COUPON_KEY_ORDER}


def _legacy_date(moment_gmt: str | None) -> Json | None:
    """A PHP DateTime as json_encode writes it, as in `coupon_data` of real-order.json."""
    if moment_gmt is None:
        return None
    return {"date": moment_gmt.replace("T", " ") + ".000000", "timezone_type": 3, "timezone": "UTC"}


def coupon_snapshot(coupon_obj: Json) -> Json:
    """The `coupon_data` meta WooCommerce (before 8.7) stores on each order's coupon line."""
    c = coupon_obj
    return {
        "id": c["id"],
        "code": c["code"],
        "amount": c["amount"],
        "status": c["status"],
        "date_created": _legacy_date(c["date_created_gmt"]),
        "date_modified": _legacy_date(c["date_modified_gmt"]),
        "date_expires": _legacy_date(c["date_expires_gmt"]),
        "discount_type": c["discount_type"],
        "description": c["description"],
        "usage_count": c["usage_count"],
        "individual_use": c["individual_use"],
        "product_ids": list(c["product_ids"]),
        "excluded_product_ids": list(c["excluded_product_ids"]),
        "usage_limit": c["usage_limit"] or 0,
        "usage_limit_per_user": c["usage_limit_per_user"] or 0,
        "limit_usage_to_x_items": c["limit_usage_to_x_items"],
        "free_shipping": c["free_shipping"],
        "product_categories": list(c["product_categories"]),
        "excluded_product_categories": list(c["excluded_product_categories"]),
        "exclude_sale_items": c["exclude_sale_items"],
        "minimum_amount": c["minimum_amount"],
        "maximum_amount": c["maximum_amount"],
        "email_restrictions": list(c["email_restrictions"]),
        "virtual": False,
        "meta_data": [],
    }


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
        "total": fmt(total),
        "total_tax": fmt(tax),
        "taxes": [tax_entry(tax, tax)] if tax else [],
        "meta_data": [],
    }


def tax_line(*, id: int, tax_total: Decimal, shipping_tax_total: Decimal, sign: str = "") -> Json:
    show = neg if sign == "-" else fmt
    return {
        "id": id,
        "rate_code": TAX_RATE_CODE,
        "rate_id": TAX_RATE_ID,
        "label": TAX_LABEL,
        "compound": False,
        "tax_total": show(tax_total),
        "shipping_tax_total": show(shipping_tax_total),
        "meta_data": [],
    }


def coupon_line(
    *, id: int, code: str, discount: Decimal, discount_tax: Decimal, meta: Json
) -> Json:
    return {
        "id": id,
        "code": code,
        "discount": fmt(discount),
        "discount_tax": fmt(discount_tax),
        "meta_data": [meta],
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


def sum_money(values: Iterable[str]) -> Decimal:
    return sum((Decimal(v) for v in values), ZERO)


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


def refund(
    *,
    id: int,
    created: datetime,
    amount: Decimal,
    reason: str,
    line_items: list[Json],
    shipping_lines: list[Json],
    tax_lines: list[Json],
) -> Json:
    """A refund like real-order-refund.json, as /orders/{id}/refunds serves it."""
    local, gmt = wc_dates(created)
    return {
        "id": id,
        "date_created": local,
        "date_created_gmt": gmt,
        "amount": fmt(amount),
        "reason": reason,
        "refunded_by": 1,
        "refunded_payment": False,
        "meta_data": [],
        "line_items": line_items,
        "shipping_lines": shipping_lines,
        "tax_lines": tax_lines,
        "fee_lines": [],
    }


def refund_with_parent(refund_obj: Json, parent_id: int) -> Json:
    """The refund as GET /wc/v3/refunds serves it: `parent_id` right after `id`."""
    items = list(refund_obj.items())
    return dict([items[0], ("parent_id", parent_id), *items[1:]])


def refunded_line(
    *,
    id: int,
    source: Json,
    quantity: int,
    total: Decimal,
    tax: Decimal,
    meta_id: int,
) -> Json:
    """A negative copy of an order line inside a refund (meta `_refunded_item_id` names the line)."""
    data = {
        **source,
        "id": id,
        "quantity": -quantity,
        "subtotal": neg(total),
        "subtotal_tax": neg(tax),
        "total": neg(total),
        "total_tax": neg(tax),
        "taxes": [{"id": TAX_RATE_ID, "total": neg(tax), "subtotal": neg(tax)}]
        if source["taxes"]
        else [],
        "meta_data": [item_meta(meta_id, "_refunded_item_id", str(source["id"]))],
        "image": NO_IMAGE,
    }
    data["price"] = unit_price(-money(total), quantity)
    return data


def refunded_shipping(*, id: int, source: Json, total: Decimal, tax: Decimal, meta_id: int) -> Json:
    return {
        **source,
        "id": id,
        "total": neg(total),
        "total_tax": neg(tax),
        "taxes": [{"id": TAX_RATE_ID, "total": neg(tax), "subtotal": ""}] if tax else [],
        "meta_data": [item_meta(meta_id, "_refunded_item_id", str(source["id"]))],
    }


def review(
    *,
    id: int,
    created: datetime,
    product_obj: Json,
    status: str,
    reviewer: str,
    email: str,
    text: str,
    rating: int,
    verified: bool,
) -> Json:
    """A product review like real-product-review.json."""
    local, gmt = wc_dates(created)
    return {
        "id": id,
        "date_created": local,
        "date_created_gmt": gmt,
        "product_id": product_obj["id"],
        "product_name": product_obj["name"],
        "product_permalink": product_obj["permalink"],
        "status": status,
        "reviewer": reviewer,
        "reviewer_email": email,
        "review": wpautop(text),
        "rating": rating,
        "verified": verified,
        "reviewer_avatar_urls": avatar_urls(email),
    }


def comment(
    *,
    id: int,
    post: int,
    parent: int,
    author: int,
    name: str,
    email: str,
    created: datetime,
    text: str,
    status: str,
    site_url: str,
    ip: str,
    user_agent: str,
) -> Json:
    """A blog comment like wp-comment.json, plus the context=edit fields the server strips.

    `meta` is [] as WordPress sends it when no comment meta is registered (the sample's
    {"meta_key": ...} comes from a key registered by WordPress's own test suite).
    """
    local, gmt = wc_dates(created)
    return {
        "id": id,
        "post": post,
        "parent": parent,
        "author": author,
        "author_name": name,
        "author_url": "",
        "date": local,
        "date_gmt": gmt,
        "content": {"rendered": wpautop(text)},
        "link": f"{site_url}/?p={post}#comment-{id}",
        "status": status,
        "type": "comment",
        "author_avatar_urls": avatar_urls(email),
        "meta": [],
        "author_email": email,
        "author_ip": ip,
        "author_user_agent": user_agent,
    }


COMMENT_EDIT_ONLY = ("author_email", "author_ip", "author_user_agent")


def apply_meta_updates(
    visible: list[Json],
    hidden: list[Json],
    updates: list[Json],
    next_id: Callable[[], int],
    is_hidden: Callable[[str], bool],
) -> list[Json]:
    """Apply a PUT's `meta_data` as WC_Data::update_meta_data + save_meta_data do.

    - an entry with an `id` found among the returned rows updates that row (key and value);
    - an entry without one updates the first returned row with that key and removes the other
      rows of that key; with none found (or an unknown `id`) every row of that key is removed
      and one new row added (add_meta_data with $unique);
    - `value: null` (or no value) deletes; a hidden key is never among the returned rows, so a
      key-only write of it adds one more row each time.
    Returns the new visible rows; new hidden rows are appended to `hidden`.
    """
    rows = [dict(row) for row in visible]
    for entry in updates:
        key, value, meta_id = entry["key"], entry.get("value"), entry.get("id")
        if meta_id:
            target = next((row for row in rows if row["id"] == meta_id), None)
        else:
            matches = [row for row in rows if row["key"] == key]
            for row in matches[1:]:
                row["value"] = None
            target = matches[0] if matches else None
        if target is None:
            for row in rows:
                if row["key"] == key:
                    row["value"] = None
            rows.append({"id": None, "key": key, "value": value})
        else:
            target.update(key=key, value=value)
    kept: list[Json] = []
    for row in rows:
        if row["value"] is None:
            continue  # a saved row is deleted; an unsaved one is simply never written
        if row["id"] is None:
            row["id"] = next_id()
        (hidden if is_hidden(row["key"]) else kept).append(row)
    return kept
