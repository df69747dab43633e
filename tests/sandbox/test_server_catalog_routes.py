"""The routes other clients read besides the engine's (issue 8, Fidelity): each answers from the
generated shop with WooCommerce's paging, filters, single-object reads and errors, consistent
with the orders and products it serves; search terms are trimmed as WordPress trims them."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import WP_PASSWORD, WP_USER

Json = dict[str, Any]


def call(server: SandboxServer, method: str, route: str, **params: Any) -> requests.Response:
    return requests.request(
        method,
        f"{server.api_url}/wc/v3/{route}",
        params=params,
        auth=(WP_USER, WP_PASSWORD),
        timeout=30,
    )


def get(server: SandboxServer, route: str, **params: Any) -> requests.Response:
    response = call(server, "GET", route, **params)
    assert response.status_code == 200, response.text
    return response


def ids(response: requests.Response) -> list[Any]:
    return [item["id"] for item in response.json()]


def test_categories_count_the_published_products_in_each(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    categories = get(shared_server, "products/categories", per_page=100).json()
    products = shared_store.all("products")
    for category in categories:
        members = [p for p in products if any(c["id"] == category["id"] for c in p["categories"])]
        assert category["count"] == len(members), category["name"]
    assert [c["name"].lower() for c in categories] == sorted(c["name"].lower() for c in categories)


def test_categories_page_filter_and_get_one(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    first = get(shared_server, "products/categories", per_page=2, orderby="id")
    total = int(first.headers["X-WP-Total"])
    assert int(first.headers["X-WP-TotalPages"]) == -(-total // 2)
    assert 'rel="next"' in first.headers["Link"]
    every = ids(get(shared_server, "products/categories", per_page=100, orderby="id"))
    assert ids(first) == every[:2] == sorted(every)[:2]
    assert (
        ids(get(shared_server, "products/categories", offset=1, per_page=2, orderby="id"))
        == every[1:3]
    )
    product = shared_store.all("products")[0]
    of_product = get(shared_server, "products/categories", product=product["id"]).json()
    assert {c["id"] for c in of_product} == {c["id"] for c in product["categories"]}
    one = get(shared_server, f"products/categories/{every[0]}").json()
    assert one["id"] == every[0]
    assert one["_links"]["self"][0]["href"].endswith(f"/wc/v3/products/categories/{every[0]}")
    missing = call(shared_server, "GET", "products/categories/99999")
    assert (missing.status_code, missing.json()["code"]) == (404, "woocommerce_rest_term_invalid")


def test_tags_shipping_classes_and_attribute_terms_are_terms_nobody_uses_yet(
    shared_server: SandboxServer,
) -> None:
    tags = get(shared_server, "products/tags").json()
    assert tags
    assert all(t["count"] == 0 for t in tags)
    assert get(shared_server, "products/tags", hide_empty="true").json() == []
    assert [c["count"] for c in get(shared_server, "products/shipping_classes").json()] == [0]
    attributes = get(shared_server, "products/attributes").json()
    assert "X-WP-Total" not in get(shared_server, "products/attributes").headers
    for attribute in attributes:
        terms = get(shared_server, f"products/attributes/{attribute['id']}/terms", orderby="id")
        assert int(terms.headers["X-WP-Total"]) == len(terms.json()) > 0
    missing = call(shared_server, "GET", "products/attributes/99/terms")
    assert missing.status_code == 404


def test_simple_products_have_an_empty_variation_listing(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    product = shared_store.all("products")[0]
    listing = get(shared_server, f"products/{product['id']}/variations")
    assert listing.json() == []
    assert (listing.headers["X-WP-Total"], listing.headers["X-WP-TotalPages"]) == ("0", "0")


def test_order_notes_follow_the_orders_history_newest_first(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    order = next(
        o
        for o in shared_store.all("orders")
        if o["date_completed"] and o["date_paid"] and o["refunds"]
    )
    notes = get(shared_server, f"orders/{order['id']}/notes").json()
    assert len(notes) == 2 + len(order["refunds"])
    stamps = [n["date_created_gmt"] for n in notes]
    assert stamps == sorted(stamps, reverse=True)
    assert any("to Completed." in n["note"] for n in notes)
    assert sum(n["note"].startswith("Refunded $") for n in notes) == len(order["refunds"])
    assert all(n["author"] == "system" and n["customer_note"] is False for n in notes)
    assert get(shared_server, f"orders/{order['id']}/notes", type="customer").json() == []
    one = get(shared_server, f"orders/{order['id']}/notes/{notes[0]['id']}").json()
    assert one["note"] == notes[0]["note"]
    missing = call(shared_server, "GET", "orders/99999/notes")
    assert (missing.status_code, missing.json()["code"]) == (
        404,
        "woocommerce_rest_order_invalid_id",
    )


def test_gateways_zones_and_taxes_match_what_the_orders_carry(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    orders = shared_store.all("orders")
    gateways = {g["id"]: g for g in get(shared_server, "payment_gateways").json()}
    assert {o["payment_method"] for o in orders if o["payment_method"]} <= {
        gid for gid, g in gateways.items() if g["enabled"]
    }
    assert (
        get(shared_server, "payment_gateways/stripe").json()["title"] == gateways["stripe"]["title"]
    )
    zones = get(shared_server, "shipping/zones").json()
    assert [z["id"] for z in zones] == [0, 1]
    assert get(shared_server, "shipping/zones/1/locations").json()[0]["code"] == "US"
    assert get(shared_server, "shipping/zones/0/methods").json() == []
    methods = {
        m["method_id"]: m["instance_id"]
        for m in get(shared_server, "shipping/zones/1/methods").json()
    }
    carried = {(s["method_id"], s["instance_id"]) for o in orders for s in o["shipping_lines"]}
    assert carried <= {(method, str(instance)) for method, instance in methods.items()}
    assert {m["id"] for m in get(shared_server, "shipping_methods").json()} >= set(methods)
    rates = get(shared_server, "taxes").json()
    assert rates[0]["rate"] == f"{shared_store.tax_rate * 100:.4f}"
    lines = [t for o in orders for t in o["tax_lines"]]
    assert {(t["rate_id"], t["rate_percent"]) for t in lines} == {
        (rates[0]["id"], float(rates[0]["rate"]))
    }
    assert next(c["slug"] for c in get(shared_server, "taxes/classes").json()) == "standard"


def test_system_status_and_its_tools(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    status = get(shared_server, "system_status").json()
    assert status["environment"]["version"] == shared_store.all("orders")[0]["version"]
    tools = get(shared_server, "system_status/tools").json()
    assert "clear_transients" in [t["id"] for t in tools]
    ran = call(shared_server, "PUT", "system_status/tools/clear_transients")
    assert ran.status_code == 200
    assert ran.json()["success"] is True
    assert call(shared_server, "GET", "system_status/tools/no_such_tool").status_code == 404


@pytest.mark.parametrize(
    "route",
    ["system_status", "system_status/tools", "products/categories", "payment_gateways", "taxes"],
)
def test_the_new_routes_refuse_anonymous_callers(shared_server: SandboxServer, route: str) -> None:
    response = requests.get(f"{shared_server.api_url}/wc/v3/{route}", timeout=30)
    assert response.status_code == 401


def test_search_terms_are_trimmed_as_wordpress_does(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    customer = shared_store.all("customers")[0]
    exact = ids(get(shared_server, "customers", search=customer["last_name"]))
    assert customer["id"] in exact
    assert ids(get(shared_server, "customers", search=f" {customer['last_name']} ")) == exact
    category = shared_store.categories()[0]
    found = ids(get(shared_server, "products/categories", search=f"{category['name']} "))
    assert category["id"] in found
