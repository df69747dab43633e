"""What the server adds to the store's objects matches the samples: the same top-level keys as
the real-store records, `_links` built the same way from the base URL, comment contexts, the
store-wide refunds' `parent_id`, and JSON encoded as PHP does (escaped slashes, ASCII)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.samples import WOOCOMMERCE_SAMPLES
from tests.sandbox.conftest import WP_PASSWORD, WP_USER, wp

SAMPLES = WOOCOMMERCE_SAMPLES
Json = dict[str, Any]


def sample(name: str) -> Json:
    data = json.loads((SAMPLES / name).read_text())
    first: Json = data[0] if isinstance(data, list) else data
    return first


def get(server: SandboxServer, route: str, **params: Any) -> requests.Response:
    response = requests.get(
        f"{server.api_url}/wc/v3/{route}", params=params, auth=(WP_USER, WP_PASSWORD), timeout=30
    )
    assert response.status_code == 200, response.text
    return response


def link_shape(links: Json) -> dict[str, list[list[str]]]:
    """The rels and each link's attribute names, without the URLs."""
    return {rel: [list(link) for link in entries] for rel, entries in links.items()}


def expect_links(served: Json, expected: Json, base: str) -> None:
    assert link_shape(served["_links"]) == link_shape(expected)
    for entries in served["_links"].values():
        assert all(link["href"].startswith(f"{base}/wp-json/") for link in entries)


def test_orders_have_the_real_orders_keys_and_links(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    order = next(o for o in shared_store.all("orders") if o["customer_id"] and o["refunds"])
    served = get(shared_server, f"orders/{order['id']}").json()
    assert set(served) == set(sample("real-order.json"))
    expect_links(served, sample("real-order.json")["_links"], shared_server.base_url)
    assert served["_links"]["customer"][0]["href"].endswith(f"/customers/{order['customer_id']}")
    guest = next(o for o in shared_store.all("orders") if not o["customer_id"])
    assert "customer" not in get(shared_server, f"orders/{guest['id']}").json()["_links"]


def test_order_refunds_have_the_real_refunds_keys_and_links(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    refund = shared_store.all("refunds")[0]
    parent = shared_store.refund_parent(refund["id"])
    served = get(shared_server, f"orders/{parent}/refunds/{refund['id']}").json()
    assert set(served) == set(sample("real-order-refund.json"))
    expect_links(served, sample("real-order-refund.json")["_links"], shared_server.base_url)
    assert served["_links"]["up"][0]["href"].endswith(f"/wc/v3/orders/{parent}")


def test_store_wide_refunds_add_parent_id_and_refunded_by(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    served = get(shared_server, "refunds", per_page=1).json()[0]
    assert set(served) == set(sample("real-order-refund.json")) | {"parent_id"}
    refund_links = {
        **sample("real-order-refund.json")["_links"],
        "refunded_by": [{"embeddable": True, "href": ""}],
    }
    expect_links(served, refund_links, shared_server.base_url)


@pytest.mark.parametrize(
    ("route", "name"), [("customers", "real-customer.json"), ("coupons", "real-coupon.json")]
)
def test_customers_and_coupons_have_the_real_keys_and_links(
    shared_server: SandboxServer, route: str, name: str
) -> None:
    served = get(shared_server, route, per_page=1).json()[0]
    assert set(served) == set(sample(name))
    expect_links(served, sample(name)["_links"], shared_server.base_url)


def test_reviews_by_customers_link_their_reviewer(
    shared_server: SandboxServer, shared_store: SandboxStore
) -> None:
    reviews = get(shared_server, "products/reviews", status="all", per_page=100).json()
    by_customer = next(r for r in reviews if shared_store.customer_id_by_email(r["reviewer_email"]))
    assert set(by_customer) == set(sample("real-product-review.json"))
    expect_links(by_customer, sample("real-product-review.json")["_links"], shared_server.base_url)
    stranger = next(
        (r for r in reviews if not shared_store.customer_id_by_email(r["reviewer_email"])), None
    )
    if stranger is not None:
        assert "reviewer" not in stranger["_links"]


def test_comments_have_the_wordpress_keys_and_links(shared_server: SandboxServer) -> None:
    comments = wp(shared_server, "comments", moderator=True, status="any", per_page=100).json()
    served = next(
        c for c in comments if not c["author"] and not c["parent"] and "children" not in c["_links"]
    )
    served = wp(shared_server, f"comments/{served['id']}", moderator=True).json()
    assert set(served) == set(sample("wp-comments-list.json"))
    expect_links(served, sample("wp-comments-list.json")["_links"], shared_server.base_url)


def test_json_is_encoded_as_php_does(shared_server: SandboxServer) -> None:
    raw = get(shared_server, "products", per_page=1).content
    assert b"https:\\/\\/" in raw
    assert all(byte < 128 for byte in raw)
