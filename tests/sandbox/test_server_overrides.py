"""The control API's served overrides and account deletion, as the sync's tests use them."""

from __future__ import annotations

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import control, woo


def test_a_served_override_replaces_an_order_in_listings_and_by_id_until_removed(
    server: SandboxServer, store: SandboxStore
) -> None:
    order = store.all("orders")[0]["id"]
    assert control(server, "PUT", f"/served/orders/{order}", {"item": None}).status_code == 200
    listed = woo(server).get("orders", params={"include": str(order)}).json()
    assert listed == [None]
    assert woo(server).get(f"orders/{order}").json() is None

    patch = {"patch": {"date_modified_gmt": None, "total": "1e26"}}
    assert control(server, "PUT", f"/served/orders/{order}", patch).status_code == 200
    served = woo(server).get(f"orders/{order}").json()
    assert "date_modified_gmt" not in served
    assert (served["total"], served["id"]) == ("1e26", order)

    assert control(server, "DELETE", f"/served/orders/{order}").json()["removed"] is True
    assert woo(server).get(f"orders/{order}").json()["total"] == store.get("orders", order)["total"]


def test_a_served_override_needs_an_item_or_a_patch_and_an_existing_object(
    server: SandboxServer, store: SandboxStore
) -> None:
    customer = store.all("customers")[0]["id"]
    assert control(server, "PUT", f"/served/customers/{customer}", {}).status_code == 400
    assert control(server, "PUT", "/served/customers/999999", {"item": 1}).status_code == 404


def test_deleting_an_account_turns_its_orders_into_guest_orders_with_billing_kept(
    server: SandboxServer, store: SandboxStore
) -> None:
    order = next(o for o in store.all("orders") if o["customer_id"])
    answer = control(server, "DELETE", f"/customers/{order['customer_id']}")
    assert answer.status_code == 200
    after = store.get("orders", order["id"])
    assert after["customer_id"] == 0
    assert after["billing"] == order["billing"]
    assert after["date_modified_gmt"] == order["date_modified_gmt"]
    gone = woo(server).get(f"customers/{order['customer_id']}")
    assert gone.status_code == 404
