"""Acceptance 1: every object the sandbox serves has the shape of WooCommerce's own payloads.

Each resource of a generated store (plus objects the write methods make) is walked against the
matching samples in tests/samples/woocommerce/ (a copy of ../shared/woocommerce-samples/): the
same keys at every level (the union over the samples, so the real store's newer keys are required
too) and the same JSON types. A null in a sample matches anything; list elements are compared with
every element of the samples' lists.
Meta `value`s are "mixed" in WooCommerce's schema, so only dict values are compared as shapes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sandbox.generator import generate_store
from sandbox.resources.comments import COMMENT_EDIT_ONLY
from sandbox.resources.refunds import refund_with_parent
from sandbox.store import SandboxStore
from tests.samples import WOOCOMMERCE_SAMPLES

SAMPLES = WOOCOMMERCE_SAMPLES
WC9 = Path(__file__).parent / "wc9"
# Sample-style WooCommerce 9 lines (tests/sandbox/wc9), for the keys the 7.x samples lack.
WC9_LINES = {
    "orders": [json.loads((WC9 / "order-lines.json").read_text())],
    "refunds": [json.loads((WC9 / "refund-lines.json").read_text())],
}
ANCHOR = datetime(2025, 1, 1, tzinfo=UTC)
META_ENTRY = re.compile(r"meta_data\[\d+\]$")


SAMPLE_FILES = {
    "orders": ["real-order.json", "order.json", "orders-list.json", "order-create-response.json",
               "orders-batch-response.json"],
    "refunds": ["real-order-refund.json", "order-refund.json", "order-refunds-list.json",
                "order-refund-create-response.json"],
    "customers": ["real-customer.json", "customer.json", "customers-list.json",
                  "customer-update-response.json", "batch-response.json"],
    "coupons": ["real-coupon.json", "coupon.json", "coupons-list.json", "coupon-create-response.json",
                "coupons-batch-response.json"],
    "reviews": ["real-product-review.json", "product-review.json", "product-reviews-list.json",
                "product-reviews-batch-response.json"],
    "comments": ["wp-comment.json", "wp-comments-list.json"],
}  # fmt: skip

# A simple product from the docs' "Retrieve a product" example (no product sample is shipped).
DOCS_PRODUCT: dict[str, Any] = {
    "id": 794, "name": "Premium Quality", "slug": "premium-quality-19", "permalink": "https://example.com/p/",
    "date_created": "2017-03-23T17:01:14", "date_created_gmt": "2017-03-23T20:01:14",
    "date_modified": "2017-03-23T17:01:14", "date_modified_gmt": "2017-03-23T20:01:14",
    "type": "simple", "status": "publish", "featured": False, "catalog_visibility": "visible",
    "description": "<p>x</p>\n", "short_description": "<p>x</p>\n", "sku": "", "price": "21.99",
    "regular_price": "21.99", "sale_price": "", "date_on_sale_from": None, "date_on_sale_from_gmt": None,
    "date_on_sale_to": None, "date_on_sale_to_gmt": None, "price_html": "<span>21.99</span>",
    "on_sale": False, "purchasable": True, "total_sales": 0, "virtual": False, "downloadable": False,
    "downloads": [], "download_limit": -1, "download_expiry": -1, "external_url": "", "button_text": "",
    "tax_status": "taxable", "tax_class": "", "manage_stock": False, "stock_quantity": None,
    "stock_status": "instock", "backorders": "no", "backorders_allowed": False, "backordered": False,
    "sold_individually": False, "weight": "", "dimensions": {"length": "", "width": "", "height": ""},
    "shipping_required": True, "shipping_taxable": True, "shipping_class": "", "shipping_class_id": 0,
    "reviews_allowed": True, "average_rating": "0.00", "rating_count": 0, "related_ids": [53, 40],
    "upsell_ids": [], "cross_sell_ids": [], "parent_id": 0, "purchase_note": "",
    "categories": [{"id": 9, "name": "Clothing", "slug": "clothing"}], "tags": [],
    "images": [], "attributes": [], "default_attributes": [], "variations": [], "grouped_products": [],
    "menu_order": 0, "meta_data": [],
}  # fmt: skip


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object", type(None): "null"}[type(value)]


def shape_errors(actual: Any, samples: list[Any], path: str = "$") -> list[str]:
    """How `actual` differs in keys or JSON types from the sample values found at `path`."""
    present = [s for s in samples if s is not None]
    if not present:
        return []  # null in every sample: anything nullable fits
    if actual is None:
        return [] if len(present) < len(samples) else [f"{path}: null where samples never are"]
    kinds = sorted({json_type(s) for s in present})
    if json_type(actual) not in kinds:
        return [f"{path}: {json_type(actual)}, samples have {kinds}"]
    if isinstance(actual, dict):
        return dict_errors(actual, [s for s in present if isinstance(s, dict)], path)
    if isinstance(actual, list):
        elements = [e for s in present if isinstance(s, list) for e in s]
        if not elements:
            return []
        return [
            err
            for n, item in enumerate(actual)
            for err in shape_errors(item, elements, f"{path}[{n}]")
        ]
    return []


def dict_errors(actual: dict[str, Any], samples: list[dict[str, Any]], path: str) -> list[str]:
    expected = set().union(*(s.keys() for s in samples))
    errors = []
    if missing := sorted(expected - actual.keys()):
        errors.append(f"{path}: missing keys {missing}")
    if extra := sorted(actual.keys() - expected):
        errors.append(f"{path}: keys not in any sample {extra}")
    for key in sorted(actual.keys() & expected):
        values = [s[key] for s in samples if key in s]
        structured = isinstance(actual[key], dict) and all(isinstance(v, dict) for v in values)
        if META_ENTRY.search(path) and key in ("value", "display_value") and not structured:
            continue  # a meta value may be any JSON; compare shapes only of structured ones
        errors += shape_errors(actual[key], values, f"{path}.{key}")
    return errors


def sample_objects(files: list[str]) -> list[dict[str, Any]]:
    """The objects in the sample files, without `_links` (the server adds those).

    One docs erratum is set aside: the docs' orders embed refunds as {id, refund, total}, while
    WooCommerce's controller and the real store's recording (real-order.json) say {id, reason,
    total}; the docs' embedded refunds are dropped so the recording decides that shape.
    """
    objects: list[dict[str, Any]] = []
    for name in files:
        data = json.loads((SAMPLES / name).read_text())
        if isinstance(data, dict) and {"create", "update"} & data.keys():
            data = data.get("create", []) + data.get(
                "update", []
            )  # batch deletes answer other shapes
        for obj in data if isinstance(data, list) else [data]:
            clean = {k: v for k, v in obj.items() if k != "_links"}
            if not name.startswith("real-") and "refunds" in clean:
                clean["refunds"] = []
            objects.append(clean)
    return objects


@pytest.fixture(scope="module")
def store() -> SandboxStore:
    """A generated shop plus the objects only write methods make (meta on customers and coupons)."""
    shop = generate_store(seed=20240301, anchor=ANCHOR)
    customer = shop.all("customers")[0]
    shop.update_customer(
        customer["id"],
        {
            "meta_data": [
                {"key": "_loyalty_points", "value": "120"},
                {"key": "tiers", "value": ["gold"]},
            ]
        },
    )
    shop.create_customer({"email": "new.shopper@example.com", "billing": {"phone": "555"}})
    shop.create_coupon(
        {"code": "meta-coupon", "amount": "5", "meta_data": [{"key": "note", "value": "x"}]}
    )
    return shop


@pytest.mark.parametrize("resource", sorted(SAMPLE_FILES))
def test_every_served_object_has_the_samples_keys_and_json_types(
    store: SandboxStore, resource: str
) -> None:
    samples = sample_objects(SAMPLE_FILES[resource]) + WC9_LINES.get(resource, [])
    objects = store.all(resource)
    if resource == "comments":
        # context=edit fields stay in the store for the server to strip; `meta` is [] as WordPress
        # sends it without registered comment meta (the sample's key comes from a test fixture)
        objects = [
            {k: v for k, v in o.items() if k not in COMMENT_EDIT_ONLY and k != "meta"}
            for o in objects
        ]
        samples = [{k: v for k, v in s.items() if k != "meta"} for s in samples]
    assert objects, f"the generated store has no {resource}"
    errors = [f"{resource} {o['id']}: {e}" for o in objects for e in shape_errors(o, samples)]
    assert errors == []


def test_products_have_the_keys_and_types_of_the_docs_product(store: SandboxStore) -> None:
    errors = [
        f"product {p['id']}: {e}"
        for p in store.all("products")
        for e in shape_errors(p, [DOCS_PRODUCT])
    ]
    assert errors == []


def test_the_walk_covers_every_kind_of_line_and_refund(store: SandboxStore) -> None:
    orders, refunds = store.all("orders"), store.all("refunds")
    for kind in (
        "line_items",
        "tax_lines",
        "shipping_lines",
        "fee_lines",
        "coupon_lines",
        "refunds",
    ):
        assert any(o[kind] for o in orders), f"no order with {kind}"
    for kind in ("line_items", "shipping_lines", "tax_lines"):
        assert any(x[kind] for x in refunds), f"no refund with {kind}"
    assert any(c["meta_data"] for c in store.all("customers"))
    assert any(c["meta_data"] for c in store.all("coupons"))


def test_money_is_two_decimal_strings_and_only_line_price_is_a_number(store: SandboxStore) -> None:
    money = re.compile(r"^-?\d+\.\d\d$")
    order = next(o for o in store.all("orders") if o["coupon_lines"])
    for key in ("total", "total_tax", "shipping_total", "discount_total", "cart_tax"):
        assert money.match(order[key]), key
    for line in order["line_items"]:
        assert all(money.match(line[k]) for k in ("subtotal", "subtotal_tax", "total", "total_tax"))
        assert isinstance(line["price"], int | float)


def test_dates_are_whole_seconds_without_zone_and_local_is_utc_minus_3(store: SandboxStore) -> None:
    stamp = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
    for order in store.all("orders"):
        local = datetime.fromisoformat(order["date_created"])
        gmt = datetime.fromisoformat(order["date_created_gmt"])
        assert stamp.match(order["date_modified_gmt"])
        assert stamp.match(order["date_created"])
        assert (gmt - local).total_seconds() == 3 * 3600


def test_refunds_route_shape_puts_parent_id_after_id(store: SandboxStore) -> None:
    refund = store.all("refunds")[0]
    served = refund_with_parent(refund, store.refund_parent(refund["id"]))
    assert list(served)[:3] == ["id", "parent_id", "date_created"]
    assert {k: v for k, v in served.items() if k != "parent_id"} == refund


def test_comments_keep_the_context_edit_fields_for_the_server(store: SandboxStore) -> None:
    comment = store.all("comments")[0]
    assert set(COMMENT_EDIT_ONLY) <= comment.keys()
    assert "@" in comment["author_email"]
    assert comment["meta"] == []


def test_order_refunds_embed_id_reason_and_a_negative_total(store: SandboxStore) -> None:
    refunded = [o for o in store.all("orders") if o["refunds"]]
    for order in refunded:
        for entry in order["refunds"]:
            assert list(entry) == ["id", "reason", "total"]
            assert Decimal(entry["total"]) < 0
            assert store.refund_parent(entry["id"]) == order["id"]
