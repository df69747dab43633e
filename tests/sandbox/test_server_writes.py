"""Acceptance 4 over HTTP: customer meta semantics, coupon rules, batch limits and per-item errors,
order updates and deletes, through the REST routes with the official client."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from woocommerce import API

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import WP_PASSWORD, WP_USER, woo

Json = dict[str, Any]


@pytest.fixture
def api(server: SandboxServer) -> API:
    return woo(server)


@pytest.fixture
def customer_id(store: SandboxStore) -> int:
    return int(store.all("customers")[0]["id"])


def put_meta(api: API, customer_id: int, *entries: Json) -> list[Json]:
    response = api.put(f"customers/{customer_id}", {"meta_data": list(entries)})
    assert response.status_code == 200, response.text
    meta: list[Json] = response.json()["meta_data"]
    return meta


def rows(meta: list[Json], key: str) -> list[Json]:
    return [m for m in meta if m["key"] == key]


# --- customer meta ------------------------------------------------------------------------------


def test_key_only_meta_update_adds_a_row_then_updates_it_in_place(
    api: API, customer_id: int
) -> None:
    first = rows(
        put_meta(api, customer_id, {"key": "loyalty_points", "value": "10"}), "loyalty_points"
    )
    second = rows(
        put_meta(api, customer_id, {"key": "loyalty_points", "value": "25"}), "loyalty_points"
    )
    assert len(first) == len(second) == 1
    assert second[0]["id"] == first[0]["id"]
    assert second[0]["value"] == "25"


def test_meta_update_by_id_changes_that_row(api: API, customer_id: int) -> None:
    row = rows(put_meta(api, customer_id, {"key": "tier", "value": "silver"}), "tier")[0]
    meta = put_meta(api, customer_id, {"id": row["id"], "key": "tier", "value": "gold"})
    assert rows(meta, "tier") == [{"id": row["id"], "key": "tier", "value": "gold"}]


def test_key_only_update_replaces_duplicate_rows_of_that_key(
    api: API, store: SandboxStore, customer_id: int
) -> None:
    store.add_meta("customers", customer_id, "dup_key", "a")
    store.add_meta("customers", customer_id, "dup_key", "b")
    before = rows(api.get(f"customers/{customer_id}").json()["meta_data"], "dup_key")
    assert len(before) == 2
    after = rows(put_meta(api, customer_id, {"key": "dup_key", "value": "c"}), "dup_key")
    assert after == [{"id": before[0]["id"], "key": "dup_key", "value": "c"}]


def test_null_value_deletes_the_row(api: API, customer_id: int) -> None:
    row = rows(put_meta(api, customer_id, {"key": "to_delete", "value": "x"}), "to_delete")[0]
    meta = put_meta(api, customer_id, {"id": row["id"], "key": "to_delete", "value": None})
    assert rows(meta, "to_delete") == []


def test_hidden_keys_are_never_returned_and_a_key_only_write_adds_a_duplicate_each_time(
    api: API, store: SandboxStore, customer_id: int
) -> None:
    for value in ("1", "2"):
        meta = put_meta(api, customer_id, {"key": "wp_loyalty", "value": value})
        assert rows(meta, "wp_loyalty") == []
    hidden = [m for m in store.hidden_meta("customers", customer_id) if m["key"] == "wp_loyalty"]
    assert [m["value"] for m in hidden] == ["1", "2"]


def test_underscore_keys_are_returned_and_writable(api: API, customer_id: int) -> None:
    meta = put_meta(api, customer_id, {"key": "_loyalty_balance", "value": "7"})
    assert rows(meta, "_loyalty_balance")[0]["value"] == "7"


def test_meta_write_bumps_date_modified_gmt(
    api: API, store: SandboxStore, customer_id: int
) -> None:
    before = store.get("customers", customer_id)["date_modified_gmt"]
    updated = api.put(
        f"customers/{customer_id}", {"meta_data": [{"key": "k", "value": "v"}]}
    ).json()
    assert updated["date_modified_gmt"] > before


def test_customer_update_with_a_bad_id_is_404_and_batch_reports_400_in_place(api: API) -> None:
    direct = api.put("customers/999999", {"first_name": "x"})
    assert (direct.status_code, direct.json()["code"]) == (404, "wc_user_invalid_id")
    batch = api.post("customers/batch", {"update": [{"id": 999999, "first_name": "x"}]})
    assert batch.status_code == 200
    assert batch.json() == {
        "update": [
            {
                "id": 999999,
                "error": {
                    "code": "woocommerce_rest_invalid_id",
                    "message": "Invalid resource ID.",
                    "data": {"status": 400},
                },
            }
        ]
    }


def test_batch_mixes_successes_and_per_item_errors_in_a_200(
    api: API, store: SandboxStore, customer_id: int
) -> None:
    body = {
        "create": [{"email": "new.buyer@example.org"}, {"email": "not-an-email"}],
        "update": [{"id": customer_id, "meta_data": [{"key": "loyalty_points", "value": "5"}]}],
    }
    response = api.post("customers/batch", body)
    assert response.status_code == 200, response.text
    created, failed = response.json()["create"]
    assert created["email"] == "new.buyer@example.org"
    assert "_links" in created
    assert failed["id"] == 0
    assert failed["error"]["data"]["status"] == 400
    assert rows(response.json()["update"][0]["meta_data"], "loyalty_points")[0]["value"] == "5"


def test_batch_of_more_than_100_items_is_413(api: API, customer_id: int) -> None:
    items = [{"id": customer_id, "first_name": f"n{i}"} for i in range(60)]
    response = api.post("customers/batch", {"update": items, "delete": list(range(1, 42))})
    assert response.status_code == 413
    assert response.json() == {
        "code": "woocommerce_rest_request_entity_too_large",
        "message": "Unable to accept more than 100 items for this request.",
        "data": {"status": 413},
    }


def test_batch_of_exactly_100_items_is_accepted(api: API, customer_id: int) -> None:
    items = [{"id": customer_id, "first_name": f"n{i}"} for i in range(100)]
    response = api.post("customers/batch", {"update": items})
    assert response.status_code == 200
    assert response.json()["update"][-1]["first_name"] == "n99"


# --- coupons ------------------------------------------------------------------------------------


def test_coupon_codes_are_lowercased_and_unique(api: API) -> None:
    created = api.post(
        "coupons", {"code": "Spring-SALE", "amount": "10", "discount_type": "percent"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["code"] == "spring-sale"
    assert created.headers["Location"].endswith(f"/wp-json/wc/v3/coupons/{created.json()['id']}")
    again = api.post("coupons", {"code": "SPRING-sale", "amount": "5"})
    assert again.status_code == 400
    assert again.json()["code"] == "woocommerce_rest_coupon_code_already_exists"
    found = api.get("coupons", params={"code": "SPRING-SALE"}).json()
    assert [c["id"] for c in found] == [created.json()["id"]]


def test_coupon_update_delete_and_batch(api: API, store: SandboxStore) -> None:
    coupon = api.post("coupons", {"code": "loyalty-500", "amount": "5.00"}).json()
    updated = api.put(f"coupons/{coupon['id']}", {"amount": "7.50"})
    assert updated.json()["amount"] == "7.50"
    batch = api.post(
        "coupons/batch",
        {"create": [{"code": "LOYALTY-500"}, {"code": "loyalty-1000", "amount": "10"}]},
    ).json()
    assert batch["create"][0]["error"]["code"] == "woocommerce_rest_coupon_code_already_exists"
    assert batch["create"][1]["code"] == "loyalty-1000"
    trashed = api.delete(f"coupons/{coupon['id']}")
    assert trashed.status_code == 200
    assert store.get("coupons", coupon["id"])["status"] == "trash"
    assert api.get("coupons", params={"code": "loyalty-500"}).json() == []
    gone = api.delete(f"coupons/{batch['create'][1]['id']}", params={"force": "true"})
    assert gone.status_code == 200
    assert api.get(f"coupons/{batch['create'][1]['id']}").status_code == 404


# --- orders -------------------------------------------------------------------------------------


def test_order_status_update_bumps_date_modified(api: API, store: SandboxStore) -> None:
    order = next(o for o in store.all("orders") if o["status"] == "processing")
    response = api.put(f"orders/{order['id']}", {"status": "completed"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    assert response.json()["date_modified_gmt"] > order["date_modified_gmt"]


def test_order_update_with_a_bad_id_is_400(api: API) -> None:
    response = api.put("orders/999999", {"status": "completed"})
    assert (response.status_code, response.json()["code"]) == (
        400,
        "woocommerce_rest_shop_order_invalid_id",
    )


def test_deleting_an_order_trashes_it_then_force_removes_it(api: API, store: SandboxStore) -> None:
    order_id = next(o["id"] for o in store.all("orders") if o["status"] == "completed")
    assert api.delete(f"orders/{order_id}").json()["status"] == "completed"  # the order before
    assert order_id in [o["id"] for o in api.get("orders", params={"status": "trash"}).json()]
    assert order_id not in [
        o["id"] for o in api.get("orders", params={"include": str(order_id)}).json()
    ]
    assert api.delete(f"orders/{order_id}", params={"force": "true"}).status_code == 200
    assert api.get(f"orders/{order_id}").status_code == 404
    listed = api.get("orders", params={"include": str(order_id), "status": "trash"}).json()
    assert listed == []


def test_invalid_json_body_is_wordpress_400(server: SandboxServer) -> None:
    response = requests.put(
        f"{server.api_url}/wc/v3/customers/2",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        auth=(WP_USER, WP_PASSWORD),
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "rest_invalid_json"
