"""Products and their categories, as WooCommerce keeps and serves them.

For the store, the server and the generator:
- shape: `product` builds a simple product exactly as the docs' "Retrieve a product" example has
  it (keys, key order, JSON types; `_links` are added when served);
- state: `ProductsMixin` (part of `SandboxStore`): categories and published simple products, the
  catalogue the generator and tests build (ratings and sales counts are kept by reviews and
  orders);
- routes: `/wc/v3/products[/{id}]` (list and get).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.arguments import Param, wp_parse_list
from sandbox.errors import invalid_param
from sandbox.formats import Json, fmt, wc_dates, wpautop
from sandbox.listing import CRUD, Collection, Predicate, by, crud_orderby, crud_sorts, equals
from sandbox.resource import Resource
from sandbox.rest import Route, Served, wc_links
from sandbox.state import StoreBase, locked

INVALID_ID = ("woocommerce_rest_product_invalid_id", "Invalid ID.")


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


class ProductsMixin(StoreBase):
    """Categories and products: the catalogue's control actions."""

    @locked
    def add_category(self, name: str) -> Json:
        """A product category term: {id, name, slug} as products embed it."""
        category: Json = {
            "id": self._next("term"),
            "name": name,
            "slug": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"),
        }
        self._categories[category["id"]] = category
        return dict(category)

    @locked
    def categories(self) -> list[Json]:
        """Every product category term ({id, name, slug}), oldest first (copies)."""
        return [dict(c) for c in self._categories.values()]

    @locked
    def add_product(
        self,
        *,
        name: str,
        price: Decimal,
        category_ids: list[int],
        sku: str = "",
        virtual: bool = False,
        taxable: bool = True,
    ) -> Json:
        """A published simple product in the given categories."""
        missing = [c for c in category_ids if c not in self._categories]
        if missing:
            raise invalid_param("category_ids", f"category_ids has unknown category {missing[0]}.")
        pid = self._next("post")
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        obj = product(
            id=pid,
            name=name,
            slug=slug,
            sku=sku,
            price=price,
            created=self.now(),
            categories=[dict(self._categories[c]) for c in category_ids],
            site_url=self.site_url,
            virtual=virtual,
            taxable=taxable,
        )
        self._data["products"][pid] = obj
        return self._out(obj)


# ---- listing and routes ----


def _product_filters(args: dict[str, Any]) -> list[Predicate]:
    found: list[Predicate] = []
    if args["status"] != "any":
        status = args["status"]
        found.append(lambda p: p["status"] == status)
    else:
        found.append(lambda p: p["status"] != "trash")
    if args["category"]:
        wanted = {int(c) for c in wp_parse_list(args["category"]) if c.isdigit()}
        found.append(lambda p: any(c["id"] in wanted for c in p["categories"]))
    for key in ("sku", "type"):
        if args[key]:
            found.append(equals(key, args[key]))
    return found


COLLECTION = Collection(
    "products",
    {
        **CRUD,
        "orderby": crud_orderby("price", "popularity", "rating", "menu_order"),
        "status": Param(
            "enum", "any", ("any", "future", "trash", "draft", "pending", "private", "publish")
        ),
        "category": Param("string"),
        "sku": Param("string"),
        "type": Param("enum", None, ("simple", "grouped", "external", "variable")),
    },
    {
        **crud_sorts("date_created_gmt", "date_modified_gmt", "name"),
        "slug": by("slug"),
        "price": lambda p: float(p["price"] or 0),
        "popularity": by("total_sales"),
        "rating": lambda p: float(p["average_rating"]),
        "menu_order": by("menu_order"),
    },
    _product_filters,
    search_fields=("name", "sku"),
)


PRODUCT = Served("products", wc_links("products"), COLLECTION)

RESOURCE = Resource(
    "products",
    INVALID_ID,
    listings=(COLLECTION,),
    rest=(
        Route("GET", "/wc/v3/products", lambda api, c: api.serve_list(c, PRODUCT)),
        Route("GET", r"/wc/v3/products/(\d+)", lambda api, c: api.get(c, PRODUCT)),
    ),
)
