"""Strict parsing of WooCommerce order, refund and customer JSON into typed shapes.

For the order sync: it fetches raw JSON with `sync.client` and hands it here; the rules only ever
see the result. Money comes from the API's decimal strings only (never JSON numbers, which would
have passed through a float), times from the `*_gmt` fields as aware UTC. Anything malformed or
missing raises `InvalidSourceData` naming the JSON path (`line_items[1].total`), what was expected
and what came, so the sync can quarantine that one object and carry on.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from rules.types import Order, OrderLine, Refund, RefundLine
from sync.errors import InvalidSourceData
from sync.fields import (
    describe,
    gmt,
    gmt_at,
    holdable_email,
    integer,
    integer_at,
    invalid,
    join,
    member,
    obj_at,
    text,
    text_at,
)

# The strict readers (`sync.fields`), under the names this module has always used.
_join, _get, _object, _int, _text, _gmt, _invalid, _describe = (
    join,
    member,
    obj_at,
    integer,
    text,
    gmt,
    invalid,
    describe,
)

_MONEY = re.compile(r"-?\d+(?:\.\d+)?")
_DIGITS = re.compile(r"\d+")
_REFUNDED_ITEM_KEY = "_refunded_item_id"
_ZERO = Decimal(0)
#: Money amounts beyond this (either sign) are refused: no real order comes near it, and the points
#: an amount earns must stay far inside what the ledger holds. Documented in the README.
MAX_MONEY = Decimal(10**12)
#: Money strings already read (the format and the bound checked) and their amounts: a shop's pages
#: repeat the same few thousand amounts ("0.00", prices, taxes). Decimals are immutable, so sharing
#: one is safe; the table is emptied when full, so it stays small.
_AMOUNTS: dict[str, Decimal] = {}
_AMOUNTS_MAX = 8192
_MISSING: Any = object()

# What the sync reads of each object, asked for with WordPress's `_fields` (a query parameter every
# REST route of WordPress 4.9.8 and later honours): the store sends only these, and WooCommerce's
# order controller only builds these (not the tax and shipping lines, the meta data or the payment
# URL; the links it builds are dropped). At about a third of the bytes, a page costs a third of
# the decoding and of the memory it holds while read ahead. A store that ignores it sends
# everything, as before. Dotted names (`billing.email`) are honoured only since WordPress 5.3:
# before, they match nothing and the field is not sent at all, so a name the sync needs is never
# dotted (`billing` whole); the one dotted name, `_links.up`, is a fallback the refunds listing
# never needs (it sends `parent_id`). A name must not come after its parent's own name either: at
# that point WordPress stops reading the list (`break 2` in `rest_filter_response_fields`).
# Whatever a parser here (or a reader of the raw pages) starts to read must be named here too:
# tests/sync/test_fields_asked.py reads every sample both ways and compares.
#: `parse_order`'s fields; `sync.window` reads `id` and `date_modified_gmt`, the coupon uses
#: `coupon_lines`, the owner of an order `customer_id` and `billing`'s email.
ORDER_FIELDS = ",".join(
    (
        "id", "status", "customer_id", "billing", "date_created_gmt", "date_modified_gmt",
        "currency", "total", "total_tax", "shipping_total", "shipping_tax", "discount_total",
        "line_items", "fee_lines", "coupon_lines", "refunds",
    )
)  # fmt: skip
#: `parse_refund`'s fields, and the order a refund belongs to (`sync.refunds.refund_order_id`:
#: `parent_id`, else the `up` link).
REFUND_FIELDS = "id,parent_id,amount,line_items,shipping_lines,fee_lines,_links.up"
#: `parse_customer`'s and `parse_registration`'s fields.
CUSTOMER_FIELDS = "id,email,date_created_gmt"


def parse_order(raw: Mapping[str, Any]) -> Order:
    """An order resource (`GET /orders/{id}` or one item of `GET /orders`) as an `Order`.

    `refunds` holds the order's embedded refunds (`refunds[]`: id and total only) as un-itemised
    `Refund`s. When the sync fetched the refunds themselves (`parse_refund`), it replaces them
    (`dataclasses.replace(order, refunds=...)`) or passes them to the rule, which then uses those.
    """
    obj = _object(raw, "")
    fees = _list(obj, "fee_lines", "")
    billing = _object(_get(obj, "billing", ""), "billing")
    customer_id = integer_at(obj, "customer_id", "", minimum=0)
    return Order(
        order_id=integer_at(obj, "id", "", minimum=1),
        status=text_at(obj, "status", "", allow_empty=False),
        customer_id=customer_id,
        billing_email=_billing_email(billing, customer_id),
        created_at=gmt_at(obj, "date_created_gmt", ""),
        modified_at=gmt_at(obj, "date_modified_gmt", ""),
        currency=text_at(obj, "currency", "", allow_empty=False),
        total=_money_field(obj, "total", ""),
        total_tax=_money_field(obj, "total_tax", ""),
        shipping_total=_money_field(obj, "shipping_total", ""),
        shipping_tax=_money_field(obj, "shipping_tax", ""),
        fee_total=_fee_sum(fees, "total"),
        fee_tax=_fee_sum(fees, "total_tax"),
        discount_total=_money_field(obj, "discount_total", ""),
        lines=tuple([_order_line(line, i) for i, line in enumerate(_list(obj, "line_items", ""))]),
        coupon_codes=_coupon_codes(obj),
        refunds=tuple(
            Refund(refund_id=refund_id, amount=amount)
            for refund_id, amount in refund_totals_from_order(obj).items()
        ),
    )


def _billing_email(billing: Mapping[str, Any], customer_id: int) -> str:
    """The order's billing email, lowercased. A guest's order is held by it, so one the ledger
    cannot hold is the order's fault (`holdable_email`); an account's order is held by the
    account and its billing email is only read if the account is gone: one the ledger cannot
    hold is taken as none there (it was quarantined, its points never earned)."""
    email = text_at(billing, "email", "billing").strip().lower()
    if not customer_id:
        return holdable_email(email, "billing.email")
    try:
        return holdable_email(email, "billing.email")
    except InvalidSourceData:
        return ""


def parse_customer(raw: Any) -> tuple[int, str]:
    """A customer of the customers listing as (WooCommerce id, email); the email may be empty."""
    obj = _object(raw, "")
    customer_id = _int(_get(obj, "id", ""), "id", minimum=1)
    email = holdable_email(_text(obj.get("email", ""), "email"), "email")
    return customer_id, email


def parse_registration(raw: Any) -> tuple[int, datetime]:
    """A customer of the customers listing as (WooCommerce id, when the account was registered,
    from `date_created_gmt`)."""
    obj = _object(raw, "")
    customer_id = _int(_get(obj, "id", ""), "id", minimum=1)
    return customer_id, _gmt(_get(obj, "date_created_gmt", ""), "date_created_gmt")


def refund_totals_from_order(raw_order: Mapping[str, Any]) -> dict[int, Decimal]:
    """The order's embedded `refunds[]` (`{id, reason, total: "-10.00"}`) as id → positive amount.

    Lets the sync see which refunds an order has (and whether they changed) without fetching them.
    """
    obj = _object(raw_order, "")
    totals: dict[int, Decimal] = {}
    for i, item in enumerate(_list(obj, "refunds", "")):
        path = f"refunds[{i}]"
        entry = _object(item, path)
        refund_id = integer_at(entry, "id", path, minimum=1)
        totals[refund_id] = -_money_field(entry, "total", path, sign="negative")
    return totals


def parse_refund(raw: Mapping[str, Any]) -> Refund:
    """A refund resource (`GET /orders/{id}/refunds[/{rid}]`) as a `Refund` with positive amounts.

    The API sends refunded lines with negative quantities and totals; `shipping_lines` and
    `fee_lines` are missing in refunds from older stores, which is read as nothing refunded there.
    """
    obj = _object(raw, "")
    shipping = _optional_list(obj, "shipping_lines")
    fees = _optional_list(obj, "fee_lines")
    return Refund(
        refund_id=integer_at(obj, "id", "", minimum=1),
        amount=_money_field(obj, "amount", "", sign="positive"),
        lines=tuple(_refund_line(line, i) for i, line in enumerate(_list(obj, "line_items", ""))),
        shipping_total=_refunded_sum(shipping, "shipping_lines", "total"),
        shipping_tax=_refunded_sum(shipping, "shipping_lines", "total_tax"),
        fee_total=_refunded_sum(fees, "fee_lines", "total"),
        fee_tax=_refunded_sum(fees, "fee_lines", "total_tax"),
    )


# -- pieces -----------------------------------------------------------------------------------


def _order_line(raw: Any, index: int) -> OrderLine:
    try:
        return _order_line_at(raw, "line_items[]")  # no path built for a line that parses
    except InvalidSourceData:
        return _order_line_at(raw, f"line_items[{index}]")  # raises again, naming the line


def _order_line_at(raw: Any, path: str) -> OrderLine:
    line = _object(raw, path)
    return OrderLine(
        line_id=integer_at(line, "id", path, minimum=1),
        product_id=integer_at(line, "product_id", path, minimum=0),
        variation_id=integer_at(line, "variation_id", path, minimum=0),
        quantity=integer_at(line, "quantity", path, minimum=0),
        subtotal=_money_field(line, "subtotal", path),
        total=_money_field(line, "total", path),
        total_tax=_money_field(line, "total_tax", path),
        name=html.unescape(str(line.get("name") or ""))[:255],  # WooCommerce escapes names
    )


def _refund_line(raw: Any, index: int) -> RefundLine:
    path = f"line_items[{index}]"
    line = _object(raw, path)
    quantity = integer_at(line, "quantity", path, maximum=0)
    return RefundLine(
        refunded_item_id=_refunded_item_id(line, path),
        quantity=-quantity,
        total=-_money_field(line, "total", path, sign="negative"),
        total_tax=-_money_field(line, "total_tax", path, sign="negative"),
    )


def _refunded_item_id(line: Mapping[str, Any], path: str) -> int:
    """The order line a refunded line refers to: meta `_refunded_item_id` (a digit string)."""
    meta = _list(line, "meta_data", path)
    for i, item in enumerate(meta):
        entry = _object(item, f"{path}.meta_data[{i}]")
        if entry.get("key") == _REFUNDED_ITEM_KEY:
            value_path = f"{path}.meta_data[{i}].value"
            value = _get(entry, "value", f"{path}.meta_data[{i}]")
            if isinstance(value, str) and _DIGITS.fullmatch(value):
                value = int(value)
            return _int(value, value_path, minimum=1)
    raise _invalid(f"{path}.meta_data", f"an entry with key {_REFUNDED_ITEM_KEY!r}", meta)


def _coupon_codes(obj: Mapping[str, Any]) -> tuple[str, ...]:
    codes = []
    for i, item in enumerate(_list(obj, "coupon_lines", "")):
        path = f"coupon_lines[{i}]"
        codes.append(_text(_get(_object(item, path), "code", path), f"{path}.code"))
    return tuple(codes)


def _fee_sum(fees: list[Any], key: str) -> Decimal:
    """The sum of an order's `fee_lines[].total` (or `total_tax`); fees may be negative."""
    total = _ZERO
    for i, item in enumerate(fees):
        path = f"fee_lines[{i}]"
        total += _money_field(_object(item, path), key, path)
    return total


def _refunded_sum(lines: list[Any], name: str, key: str) -> Decimal:
    """The positive sum of a refund's negative `shipping_lines`/`fee_lines` amounts."""
    total = _ZERO
    for i, item in enumerate(lines):
        path = f"{name}[{i}]"
        total -= _money_field(_object(item, path), key, path, sign="negative")
    return total


# -- strict readers -----------------------------------------------------------------------------


def _list(obj: Mapping[str, Any], key: str, parent: str) -> list[Any]:
    value = obj.get(key, _MISSING)
    if type(value) is list:
        return value
    value = _get(obj, key, parent)
    if not isinstance(value, list):
        raise _invalid(_join(parent, key), "a list", value)
    return value


def _optional_list(obj: Mapping[str, Any], key: str) -> list[Any]:
    return _list(obj, key, "") if key in obj else []


def _money_field(obj: Mapping[str, Any], key: str, parent: str, *, sign: str = "any") -> Decimal:
    """A money string: `"12.50"`, `"-3.00"`, `"0"`. JSON numbers are refused (float round trip).

    `sign` "negative" accepts <= 0 (refunded lines), "positive" accepts >= 0 (refund amounts).
    """
    value = obj.get(key, _MISSING)
    if type(value) is str:
        amount = _AMOUNTS.get(value)
        if amount is None and _MONEY.fullmatch(value):
            amount = Decimal(value)
            if -MAX_MONEY <= amount <= MAX_MONEY:
                if len(_AMOUNTS) >= _AMOUNTS_MAX:
                    _AMOUNTS.clear()
                _AMOUNTS[value] = amount
            else:
                amount = None
        if amount is not None and (
            sign == "any" or (amount <= 0 if sign == "negative" else amount >= 0)
        ):
            return amount  # the common case, before any message is built
    value = _get(obj, key, parent)
    path = _join(parent, key)
    if not isinstance(value, str) or not _MONEY.fullmatch(value):
        raise _invalid(path, 'a money string like "12.50"', value)
    amount = Decimal(value)
    if abs(amount) > MAX_MONEY:
        raise _invalid(path, f"a money amount within ±{MAX_MONEY:,}", value)
    if sign == "negative" and amount > 0:
        raise _invalid(path, 'a negative or zero money string like "-12.50"', value)
    if sign == "positive" and amount < 0:
        raise _invalid(path, 'a positive or zero money string like "12.50"', value)
    return amount
