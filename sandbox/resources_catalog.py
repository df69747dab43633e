"""Builders for products and coupons (and the coupon snapshot orders carry), shaped like WooCommerce's.

For the store: plain dicts with the keys, key order and JSON types of the samples (without `_links`,
which the server adds).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sandbox.resources_format import Json, fmt, wc_dates, wpautop


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
