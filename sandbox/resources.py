"""The builders of the JSON objects the sandbox store serves, shaped exactly like WooCommerce's.

For the store (and its tests), one import place: `from sandbox import resources as r`. The builders
live by resource in `resources_customers`, `resources_catalog` (products, coupons),
`resources_orders` (orders, refunds), `resources_feedback` (reviews, comments), on top of
`resources_format` (money, dates, avatars) and `resources_meta` (meta rows).

Every builder returns a plain dict with the keys, nesting, key order and JSON types of the samples
in ../shared/woocommerce-samples/ (without `_links`, which the server adds). Money is a string with
2 decimals, except `line_items[].price`, a JSON number as WooCommerce sends it. Dates come in
pairs: `date_x` in the site's local time and `date_x_gmt` in UTC, both without a zone suffix and in
whole seconds. Nothing here holds state or reads a clock.
"""

from __future__ import annotations

from sandbox.resources_catalog import (
    COUPON_DEFAULTS,
    COUPON_KEY_ORDER,
    coupon,
    coupon_snapshot,
    product,
)
from sandbox.resources_customers import address, customer
from sandbox.resources_feedback import COMMENT_EDIT_ONLY, comment, review
from sandbox.resources_format import (
    CENT,
    SITE_TZ,
    ZERO,
    Json,
    avatar_urls,
    fmt,
    gravatar,
    money,
    neg,
    parse_gmt,
    sum_money,
    unit_price,
    wc_dates,
    wpautop,
)
from sandbox.resources_meta import (
    HIDDEN_META_PREFIXES,
    TABLE_PREFIX,
    apply_meta_updates,
    is_hidden_customer_meta,
)
from sandbox.resources_orders import (
    CURRENCY,
    CURRENCY_SYMBOL,
    NO_IMAGE,
    ORDER_KEY_ORDER,
    TAX_LABEL,
    TAX_RATE_CODE,
    TAX_RATE_ID,
    WC_VERSION,
    coupon_line,
    fee_line,
    item_meta,
    line_item,
    order,
    order_flags,
    order_key,
    order_totals,
    refund,
    refund_with_parent,
    refunded_line,
    refunded_shipping,
    shipping_line,
    tax_entry,
    tax_line,
)

__all__ = [
    "CENT",
    "COMMENT_EDIT_ONLY",
    "COUPON_DEFAULTS",
    "COUPON_KEY_ORDER",
    "CURRENCY",
    "CURRENCY_SYMBOL",
    "HIDDEN_META_PREFIXES",
    "NO_IMAGE",
    "ORDER_KEY_ORDER",
    "SITE_TZ",
    "TABLE_PREFIX",
    "TAX_LABEL",
    "TAX_RATE_CODE",
    "TAX_RATE_ID",
    "WC_VERSION",
    "ZERO",
    "Json",
    "address",
    "apply_meta_updates",
    "avatar_urls",
    "comment",
    "coupon",
    "coupon_line",
    "coupon_snapshot",
    "customer",
    "fee_line",
    "fmt",
    "gravatar",
    "is_hidden_customer_meta",
    "item_meta",
    "line_item",
    "money",
    "neg",
    "order",
    "order_flags",
    "order_key",
    "order_totals",
    "parse_gmt",
    "product",
    "refund",
    "refund_with_parent",
    "refunded_line",
    "refunded_shipping",
    "review",
    "shipping_line",
    "sum_money",
    "tax_entry",
    "tax_line",
    "unit_price",
    "wc_dates",
    "wpautop",
]
