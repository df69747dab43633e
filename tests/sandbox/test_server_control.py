"""The control API: tests and the demo act as shoppers and admins, and every change shows through
the REST API with the modification dates WooCommerce would set. Also the request log."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
import requests

from sandbox.faults import FaultConfig
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import CK, CS, WP_PASSWORD, WP_USER, control, woo

Json = dict[str, Any]


def rest(server: SandboxServer, route: str, **params: Any) -> Any:
    response = woo(server).get(route, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def ok(response: requests.Response, status: int = 200) -> Json:
    assert response.status_code == status, response.text
    body: Json = response.json()
    return body


def product_ids(store: SandboxStore) -> list[int]:
    return [p["id"] for p in store.all("products")]


def test_the_index_lists_the_control_routes(server: SandboxServer) -> None:
    routes = ok(control(server, "GET", ""))["routes"]
    assert any(r.startswith("POST   /sandbox/orders ") for r in routes)
    assert any(r.startswith("GET    /sandbox/requests") for r in routes)


def test_credentials_are_readable_from_loopback(server: SandboxServer) -> None:
    creds = ok(control(server, "GET", "/credentials"))
    assert creds["consumer_key"] == CK
    assert creds["consumer_secret"] == CS
    assert (creds["wp_username"], creds["wp_app_password"]) == (WP_USER, WP_PASSWORD)
    assert creds["base_url"] == server.base_url


def test_a_guest_places_an_order_with_a_coupon_and_it_is_listed(
    server: SandboxServer, store: SandboxStore
) -> None:
    coupon = next(c for c in store.all("coupons") if c["status"] == "publish")
    items = [[product_ids(store)[0], 2], [product_ids(store)[1], 1]]
    body = {"email": "walk.in@example.org", "items": items, "coupon_code": coupon["code"].upper()}
    order = ok(control(server, "POST", "/orders", body), 201)
    assert order["customer_id"] == 0
    assert order["coupon_lines"][0]["code"] == coupon["code"]
    listed = rest(server, "orders", include=str(order["id"]))
    assert [o["id"] for o in listed] == [order["id"]]


def test_status_change_refunds_and_refund_deletion(
    server: SandboxServer, store: SandboxStore
) -> None:
    customer = store.all("customers")[0]["id"]
    placed = {
        "customer_id": customer,
        "items": [[product_ids(store)[2], 3]],
        "status": "processing",
    }
    order = ok(control(server, "POST", "/orders", placed), 201)
    done = ok(control(server, "POST", f"/orders/{order['id']}/status", {"status": "completed"}))
    assert done["status"] == "completed"
    assert done["date_modified_gmt"] >= order["date_modified_gmt"]

    line = order["line_items"][0]["id"]
    by_line = ok(
        control(server, "POST", f"/orders/{order['id']}/refunds", {"lines": [[line, 1]]}), 201
    )
    by_amount = ok(
        control(
            server, "POST", f"/orders/{order['id']}/refunds", {"amount": "1.50", "reason": "late"}
        ),
        201,
    )
    shipped = ok(control(server, "POST", f"/orders/{order['id']}/refunds", {"shipping": True}), 201)
    embedded = rest(server, f"orders/{order['id']}")["refunds"]
    assert [r["id"] for r in embedded] == [shipped["id"], by_amount["id"], by_line["id"]]
    assert by_amount["amount"] == "1.50"

    ok(control(server, "DELETE", f"/refunds/{by_amount['id']}"))
    listed = rest(server, f"orders/{order['id']}/refunds")
    assert by_amount["id"] not in [r["id"] for r in listed]


def test_touch_trash_and_delete_an_order(server: SandboxServer, store: SandboxStore) -> None:
    order = store.all("orders")[5]
    touched = ok(control(server, "POST", f"/orders/{order['id']}/touch"))
    assert touched["date_modified_gmt"] > order["date_modified_gmt"]
    ok(control(server, "POST", f"/orders/{order['id']}/trash"))
    trash = rest(server, "orders", status="trash", per_page=100)
    assert order["id"] in [o["id"] for o in trash]
    ok(control(server, "DELETE", f"/orders/{order['id']}"))
    assert woo(server).get(f"orders/{order['id']}").status_code == 404


def test_register_a_customer_who_used_to_be_a_guest(
    server: SandboxServer, store: SandboxStore
) -> None:
    guest_email = next(o["billing"]["email"] for o in store.all("orders") if not o["customer_id"])
    if store.customer_id_by_email(guest_email) is not None:
        pytest.skip("this seed's first guest already registered")
    body = {"email": guest_email, "first_name": "Was", "last_name": "Guest"}
    customer = ok(control(server, "POST", "/customers", body), 201)
    found = rest(server, "customers", email=guest_email)
    assert [c["id"] for c in found] == [customer["id"]]


def test_reviews_are_added_approved_and_spammed(server: SandboxServer, store: SandboxStore) -> None:
    body = {
        "product_id": product_ids(store)[0],
        "email": "fan@example.org",
        "name": "Fan",
        "rating": 5,
        "text": "Lovely.",
    }
    review = ok(control(server, "POST", "/reviews", body), 201)
    assert review["status"] == "hold"
    approved = rest(server, "products/reviews", per_page=100)
    assert review["id"] not in [r["id"] for r in approved]
    ok(control(server, "POST", f"/reviews/{review['id']}/status", {"status": "approved"}))
    approved = rest(server, "products/reviews", per_page=100)
    assert review["id"] in [r["id"] for r in approved]
    spammed = ok(control(server, "POST", f"/reviews/{review['id']}/status", {"status": "spam"}))
    assert spammed["date_created_gmt"] == review["date_created_gmt"]  # no date moves


def test_comments_are_added_and_moderated(server: SandboxServer) -> None:
    post = ok(control(server, "GET", "/posts"))["post_ids"][0]
    body = {"post_id": post, "email": "reader@example.org", "name": "Reader", "text": "Nice post"}
    comment = ok(control(server, "POST", "/comments", body), 201)
    public = requests.get(f"{server.api_url}/wp/v2/comments", params={"post": post}, timeout=30)
    assert comment["id"] not in [c["id"] for c in public.json()]
    ok(control(server, "POST", f"/comments/{comment['id']}/status", {"status": "approved"}))
    public = requests.get(f"{server.api_url}/wp/v2/comments", params={"post": post}, timeout=30)
    assert comment["id"] in [c["id"] for c in public.json()]


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("/orders", {"email": "a@example.org"}, "items"),
        ("/orders", {"email": "a@example.org", "items": [[1, "two"]]}, "items[0]"),
        ("/orders", {"email": "a@example.org", "items": [[1, 1]], "fee": "lots"}, "fee"),
        (
            "/reviews",
            {"product_id": "1", "email": "a@example.org", "name": "A", "rating": 5},
            "product_id",
        ),
        ("/customers", {}, "email"),
    ],
)
def test_bad_control_input_names_the_field(
    server: SandboxServer, route: str, body: Json, field: str
) -> None:
    response = control(server, "POST", route, body)
    assert response.status_code == 400
    assert response.json()["data"]["field"] == field
    assert field in response.json()["message"]


def test_store_errors_come_back_with_woocommerce_codes(server: SandboxServer) -> None:
    response = control(server, "POST", "/orders/999999/status", {"status": "completed"})
    assert response.status_code == 404
    assert response.json()["code"] == "woocommerce_rest_shop_order_invalid_id"
    unknown = control(server, "GET", "/nothing-here")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "sandbox_no_route")
    not_json = requests.post(f"{server.base_url}/sandbox/orders", data=b"{", timeout=30)
    assert not_json.json()["code"] == "sandbox_invalid_json"


# --- the request log ------------------------------------------------------------------------------


def test_the_request_log_counts_api_requests_by_path_and_method(server: SandboxServer) -> None:
    api = woo(server)
    api.get("orders")
    api.get("orders", params={"page": 2})
    api.get("customers")
    api.put("customers/999999", {})
    log = server.request_log
    assert log.count(path_prefix="/wp-json/wc/v3/orders") == 2
    assert log.count(path_prefix="/wp-json/", method="PUT") == 1
    entry = log.entries(path_prefix="/wp-json/wc/v3/orders")[1]
    assert (entry.method, entry.status, entry.query["page"]) == ("GET", 200, "2")
    assert entry.duration_ms > 0
    assert (
        entry.cpu_ms > 0
    )  # the server thread's CPU time for the request (bench_sandbox's measure)

    over_http = ok(control(server, "GET", "/requests?path_prefix=/wp-json/wc/v3/customers"))
    assert over_http["count"] == 2
    assert {e["status"] for e in over_http["entries"]} == {200, 404}
    ok(control(server, "DELETE", "/requests"))
    assert log.count(path_prefix="/wp-json/") == 0


# --- the Python side: hook and lifecycle --------------------------------------------------------


def test_before_request_sees_each_api_request_first_and_may_change_the_store(
    server: SandboxServer, store: SandboxStore
) -> None:
    order = store.all("orders")[0]
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def shop_while_paging(method: str, path: str, query: dict[str, Any]) -> None:
        calls.append((method, path, query))
        store.touch_order(order["id"])

    server.before_request = shop_while_paging
    served = rest(server, f"orders/{order['id']}")
    control(server, "GET", "/credentials")
    server.before_request = None
    assert served["date_modified_gmt"] > order["date_modified_gmt"]  # changed before serving
    assert [(m, p) for m, p, _ in calls] == [("GET", f"/wp-json/wc/v3/orders/{order['id']}")]
    assert "oauth_signature" not in calls[0][2]
    assert "oauth_consumer_key" not in calls[0][2]


def test_faults_a_hook_returns_are_for_that_request_alone(server: SandboxServer) -> None:
    """Requests are served in threads: faults set with `set_faults` from a hook would reach
    whichever request decides next, faults the hook returns only the request it saw."""

    def fail_the_orders_only(method: str, path: str, query: dict[str, Any]) -> str | None:
        return "5xx=1" if path.endswith("/orders") else None

    server.before_request = fail_the_orders_only
    failed = woo(server).get("orders")
    served = woo(server).get("customers")
    server.before_request = None

    assert failed.status_code in (500, 502, 503)
    assert served.status_code == 200
    assert server.injector.config.rates() == FaultConfig().rates()  # the store's faults unchanged


def test_a_hooks_faults_bring_their_own_settings(server: SandboxServer) -> None:
    """The hostile body a hook named was ignored: the store's own setting chose it (found by a
    review, 4 Dec)."""
    server.set_faults("hostile=0,hostile_body=html")

    def an_object_for_the_coupons(method: str, path: str, query: dict[str, Any]) -> str | None:
        return "hostile=1,hostile_body=object" if path.endswith("/coupons") else None

    server.before_request = an_object_for_the_coupons
    answered = woo(server).get("coupons")
    server.before_request = None

    assert answered.json() == {"id": 1, "items": []}


def test_connections_are_kept_alive_across_requests(server: SandboxServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for _ in range(3):
        connection.request("GET", "/wp-json/wp/v2/comments")
        response = connection.getresponse()
        assert response.status == 200
        json.loads(response.read())
    connection.close()


def test_stop_is_idempotent_and_closes_the_port(store: SandboxStore) -> None:
    server = SandboxServer(
        store, consumer_key=CK, consumer_secret=CS, wp_username=WP_USER, wp_app_password=WP_PASSWORD
    ).start()
    port = server.port
    assert requests.get(f"{server.base_url}/sandbox/credentials", timeout=30).status_code == 200
    server.stop()
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/sandbox/credentials", timeout=5)
