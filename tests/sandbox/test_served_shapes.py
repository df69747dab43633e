"""Acceptance 1 (issue 8): every object the sandbox serves, fetched over HTTP from every wc/v3
route a client reads (and wp/v2 comments), has WooCommerce 9's shape — keys and JSON types at
every level, from tests/sandbox/wc9/shapes.json — and the shape of the samples where samples
exist (tests/samples/woocommerce plus the WooCommerce 9 line fixtures in tests/sandbox/wc9).

The walk pages through every listing (per_page=100, every status), follows nested routes
(refunds and notes of each order, terms of each attribute, variations of each product,
locations and methods of each zone) and reads the single-object routes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import CK, CS, WP_PASSWORD, WP_USER, small_store
from tests.sandbox.test_shapes import SAMPLE_FILES, sample_objects
from tests.sandbox.test_shapes import shape_errors as sample_errors
from tests.sandbox.wc9_shapes import WC9, shape_errors

Json = dict[str, Any]

# kind served -> the sample files (and WooCommerce 9 line fixtures) it must also match
SAMPLED = {
    "order": [*SAMPLE_FILES["orders"], "wc9/order-lines.json"],
    "refund": [*SAMPLE_FILES["refunds"], "wc9/refund-lines.json"],
    "store_refund": [*SAMPLE_FILES["refunds"], "wc9/refund-lines.json"],
    "customer": SAMPLE_FILES["customers"],
    "coupon": SAMPLE_FILES["coupons"],
    "review": SAMPLE_FILES["reviews"],
    "comment": SAMPLE_FILES["comments"],
}


def samples_for(kind: str) -> list[Json]:
    files = SAMPLED[kind]
    objects = sample_objects([f for f in files if not f.startswith("wc9/")])
    objects += [json.loads((WC9 / f.removeprefix("wc9/")).read_text()) for f in files if "/" in f]
    if kind == "store_refund":
        objects = [{**o, "parent_id": 1} if "id" in o else o for o in objects]
    if kind == "comment":
        # WordPress sends `meta: []` without registered comment meta; the sample's object comes
        # from a test fixture that registers some (tests/sandbox/test_shapes.py does the same)
        objects = [{k: v for k, v in o.items() if k != "meta"} for o in objects]
    return objects


# Kinds a small shop of simple products has none of: their routes answer an empty list.
EMPTY_IN_A_SMALL_SHOP = {"variation"}


class Walker:
    """GETs over HTTP with the moderator's application password; lists every page."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.auth = (WP_USER, WP_PASSWORD)
        self.missing: list[str] = []

    def get(self, route: str, **params: Any) -> Any:
        response = self.session.get(f"{self.server.api_url}/{route}", params=params, timeout=30)
        if response.status_code == 404 and response.json().get("code") == "rest_no_route":
            self.missing.append(route)
            return None
        assert response.status_code == 200, f"{route}: {response.status_code} {response.text}"
        return response.json()

    def pages(self, route: str, **params: Any) -> Iterator[Json]:
        page = 1
        while True:
            items = self.get(route, per_page=100, page=page, **params)
            if not items:
                return
            yield from items
            if len(items) < 100:
                return
            page += 1


def walk(server: SandboxServer) -> tuple[dict[str, list[Json]], list[str]]:
    """Every served object by kind, and the routes that answered rest_no_route."""
    w = Walker(server)
    found: dict[str, list[Json]] = {}

    def add(kind: str, objects: Any) -> list[Json]:
        listed = [] if objects is None else list(objects)
        found.setdefault(kind, []).extend(listed)
        return listed

    orders = add("order", w.pages("wc/v3/orders", status="any"))
    add("order", w.pages("wc/v3/orders", status="trash"))
    for order in orders:
        if order["refunds"]:
            add("refund", w.pages(f"wc/v3/orders/{order['id']}/refunds"))
    for order in orders[:5]:
        add("order_note", w.get(f"wc/v3/orders/{order['id']}/notes"))
    add("store_refund", w.pages("wc/v3/refunds"))
    add("customer", w.pages("wc/v3/customers", role="all"))
    add("coupon", w.pages("wc/v3/coupons"))
    products = add("product", w.pages("wc/v3/products"))
    for product in products:
        add("variation", w.pages(f"wc/v3/products/{product['id']}/variations"))
    add("review", w.pages("wc/v3/products/reviews", status="all"))
    add("comment", w.pages("wp/v2/comments", status="all"))
    add("category", w.pages("wc/v3/products/categories"))
    add("tag", w.pages("wc/v3/products/tags"))
    add("shipping_class", w.pages("wc/v3/products/shipping_classes"))
    for attribute in add("attribute", w.get("wc/v3/products/attributes")):
        add("attribute_term", w.pages(f"wc/v3/products/attributes/{attribute['id']}/terms"))
    add("payment_gateway", w.get("wc/v3/payment_gateways"))
    for zone in add("shipping_zone", w.get("wc/v3/shipping/zones")):
        add("shipping_zone_location", w.get(f"wc/v3/shipping/zones/{zone['id']}/locations"))
        add("shipping_zone_method", w.get(f"wc/v3/shipping/zones/{zone['id']}/methods"))
    add("shipping_method", w.get("wc/v3/shipping_methods"))
    add("tax", w.pages("wc/v3/taxes"))
    add("tax_class", w.get("wc/v3/taxes/classes"))
    add("system_status_tool", w.get("wc/v3/system_status/tools"))
    status = w.get("wc/v3/system_status")
    add("system_status", [] if status is None else [status])
    return found, w.missing


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[dict[str, list[Json]], list[str]]]:
    store: SandboxStore = small_store()
    customer = store.all("customers")[0]
    store.update_customer(customer["id"], {"meta_data": [{"key": "tiers", "value": ["gold"]}]})
    store.create_coupon(
        {"code": "meta-coupon", "amount": "5", "meta_data": [{"key": "n", "value": "x"}]}
    )
    server = SandboxServer(
        store, consumer_key=CK, consumer_secret=CS, wp_username=WP_USER, wp_app_password=WP_PASSWORD
    ).start()
    try:
        yield walk(server)
    finally:
        server.stop()


def test_every_route_a_client_reads_is_served(
    served: tuple[dict[str, list[Json]], list[str]],
) -> None:
    assert served[1] == []


@pytest.mark.parametrize(
    "kind",
    sorted(k for k in json.loads((WC9 / "shapes.json").read_text()) if k not in ("about", "$defs")),
)
def test_every_served_object_has_the_woocommerce_9_shape(
    served: tuple[dict[str, list[Json]], list[str]], kind: str
) -> None:
    objects = served[0].get(kind, [])
    assert objects or kind in EMPTY_IN_A_SMALL_SHOP, f"nothing served as {kind}"
    errors = [f"{kind} {n}: {e}" for n, o in enumerate(objects) for e in shape_errors(o, kind)]
    assert errors == []


@pytest.mark.parametrize("kind", sorted(SAMPLED))
def test_every_served_object_has_the_samples_shape(
    served: tuple[dict[str, list[Json]], list[str]], kind: str
) -> None:
    samples = samples_for(kind)
    unsampled = {"_links", "meta"} if kind == "comment" else {"_links"}
    objects = [{k: v for k, v in o.items() if k not in unsampled} for o in served[0][kind]]
    assert objects, f"nothing served as {kind}"
    errors = [f"{kind} {o['id']}: {e}" for o in objects for e in sample_errors(o, samples)]
    assert errors == []


def test_refund_line_prices_are_positive_and_total_over_quantity_to_the_cent(
    served: tuple[dict[str, list[Json]], list[str]],
) -> None:
    """Acceptance 5: WooCommerce computes total / quantity, both negative on a refund line."""
    lines = [li for r in served[0]["refund"] for li in r["line_items"] if li["quantity"]]
    assert lines
    for line in lines:
        assert line["price"] > 0, line
        expected = Decimal(line["total"]) / line["quantity"]
        assert abs(Decimal(str(line["price"])) - expected) < Decimal("0.005"), line
