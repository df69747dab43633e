"""Acceptance 2: the official `woocommerce` client works unchanged, and bad credentials get
WooCommerce's exact 401 bodies (class-wc-rest-authentication.php)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import quote, urlencode

import pytest
import requests
from woocommerce.oauth import OAuth

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import (
    CK,
    CS,
    READ_ONLY_CK,
    READ_ONLY_CS,
    WP_PASSWORD,
    WP_USER,
    ServerFactory,
    woo,
)


def auth_error(message: str, code: str = "woocommerce_rest_authentication_error") -> dict:
    return {"code": code, "message": message, "data": {"status": 401}}


CANNOT_LIST = {
    "code": "woocommerce_rest_cannot_view",
    "message": "Sorry, you cannot list resources.",
    "data": {"status": 401},
}


def signed_url(server: SandboxServer, endpoint: str, *, secret: str = CS, **oauth: int) -> str:
    """A URL signed by the official library's OAuth class (HMAC-SHA256)."""
    url = f"{server.api_url}/wc/v3/{endpoint}"
    return OAuth(url, CK, secret, version="wc/v3", method="GET", **oauth).get_oauth_url()


def sha1_signed_url(server: SandboxServer, endpoint: str, params: dict[str, str]) -> str:
    """An independent RFC 5849 HMAC-SHA1 signer: the store must accept SHA1 as WooCommerce does."""
    url = f"{server.api_url}/wc/v3/{endpoint}"
    oauth = {
        "oauth_consumer_key": CK,
        "oauth_nonce": "sha1nonce" + str(time.time_ns()),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(int(time.time())),
    }
    every = {**params, **oauth}
    enc = lambda s: quote(s, safe="-_.~")  # noqa: E731
    normalized = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(every.items()))
    base = "&".join(["GET", enc(url), enc(normalized)])
    digest = hmac.new(f"{CS}&".encode(), base.encode(), hashlib.sha1).digest()
    signature = base64.b64encode(digest).decode()
    return f"{url}?{urlencode({**every, 'oauth_signature': signature})}"


# --- the official client, both modes ------------------------------------------------------------


def test_official_client_lists_gets_updates_and_batch_updates_over_oauth_on_http(
    server: SandboxServer, store: SandboxStore
) -> None:
    api = woo(server)
    listing = api.get("orders", params={"per_page": 5, "status": "any", "orderby": "id"})
    assert listing.status_code == 200, listing.text
    assert len(listing.json()) == 5
    order_id = listing.json()[0]["id"]
    assert api.get(f"orders/{order_id}").json()["id"] == order_id

    customer_id = store.all("customers")[0]["id"]
    updated = api.put(f"customers/{customer_id}", {"first_name": "Oauthed"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["first_name"] == "Oauthed"

    batch = api.post("customers/batch", {"update": [{"id": customer_id, "last_name": "Batched"}]})
    assert batch.status_code == 200, batch.text
    assert batch.json()["update"][0]["last_name"] == "Batched"
    assert store.get("customers", customer_id)["last_name"] == "Batched"


def test_official_client_lists_gets_updates_and_batch_updates_over_basic_on_https(
    store: SandboxStore, make_server: ServerFactory
) -> None:
    server = make_server(store, tls=True)
    assert server.base_url.startswith("https://")
    api = woo(server)
    listing = api.get("customers", params={"role": "all", "orderby": "id", "per_page": 3})
    assert listing.status_code == 200, listing.text
    customer_id = listing.json()[0]["id"]
    assert api.get(f"customers/{customer_id}").status_code == 200
    assert api.put(f"customers/{customer_id}", {"first_name": "Tls"}).json()["first_name"] == "Tls"
    batch = api.post("customers/batch", {"update": [{"id": customer_id, "first_name": "Tls2"}]})
    assert batch.json()["update"][0]["first_name"] == "Tls2"
    query_keys = woo(server, query_string_auth=True).get("orders", params={"per_page": 1})
    assert query_keys.status_code == 200, query_keys.text


def test_list_parameters_signed_as_a_comma_string_pass_and_a_python_list_fails(
    server: SandboxServer, store: SandboxStore
) -> None:
    ids = [o["id"] for o in store.all("orders")[:3]]
    as_string = woo(server).get("orders", params={"include": ",".join(map(str, ids))})
    assert sorted(o["id"] for o in as_string.json()) == ids
    as_list = woo(server).get("orders", params={"include": ids})
    assert as_list.status_code == 401  # signed as "[1, 2, 3]", sent as include=1&include=2...


def test_hmac_sha1_signatures_are_accepted(server: SandboxServer) -> None:
    response = requests.get(sha1_signed_url(server, "orders", {"per_page": "2"}), timeout=30)
    assert response.status_code == 200, response.text
    assert len(response.json()) == 2


# --- the documented 401 bodies ------------------------------------------------------------------


def test_wrong_secret_over_oauth_gets_signature_mismatch(server: SandboxServer) -> None:
    response = woo(server, consumer_secret="cs_wrong").get("orders")
    assert response.status_code == 401
    assert response.json() == auth_error("Invalid signature - provided signature does not match.")


def test_stale_timestamp_gets_invalid_timestamp(server: SandboxServer) -> None:
    stale = int(time.time()) - 16 * 60
    response = requests.get(signed_url(server, "orders", oauth_timestamp=stale), timeout=30)
    assert response.status_code == 401
    assert response.json() == auth_error("Invalid timestamp.")


def test_timestamp_from_the_future_beyond_15_minutes_is_refused(server: SandboxServer) -> None:
    ahead = int(time.time()) + 16 * 60
    response = requests.get(signed_url(server, "orders", oauth_timestamp=ahead), timeout=30)
    assert response.json() == auth_error("Invalid timestamp.")


def test_reused_nonce_gets_nonce_already_used(server: SandboxServer) -> None:
    url = signed_url(server, "orders")
    assert requests.get(url, timeout=30).status_code == 200
    replay = requests.get(url, timeout=30)
    assert replay.status_code == 401
    assert replay.json() == auth_error("Invalid nonce - nonce has already been used.")


def test_unknown_consumer_key_over_oauth_is_invalid(server: SandboxServer) -> None:
    response = woo(server, consumer_key="ck_unknown").get("orders")
    assert response.json() == auth_error("Consumer key is invalid.")


def test_partial_oauth_parameters_name_the_missing_ones(server: SandboxServer) -> None:
    response = requests.get(
        f"{server.api_url}/wc/v3/orders", params={"oauth_consumer_key": CK}, timeout=30
    )
    assert response.status_code == 401
    missing = "oauth_timestamp, oauth_nonce, oauth_signature, oauth_signature_method"
    assert response.json() == auth_error(
        f"Missing OAuth parameters {missing}", "woocommerce_rest_authentication_missing_parameter"
    )


def test_no_credentials_at_all_is_anonymous_and_cannot_list(server: SandboxServer) -> None:
    response = requests.get(f"{server.api_url}/wc/v3/orders", timeout=30)
    assert response.status_code == 401
    assert response.json() == CANNOT_LIST


def test_wrong_secret_over_basic_on_https_is_invalid(
    store: SandboxStore, make_server: ServerFactory
) -> None:
    server = make_server(store, tls=True)
    response = woo(server, consumer_secret="cs_wrong").get("orders")
    assert response.status_code == 401
    assert response.json() == auth_error("Consumer secret is invalid.")
    by_query = woo(server, consumer_secret="cs_wrong", query_string_auth=True).get("orders")
    assert by_query.json() == auth_error("Consumer secret is invalid.")


def test_unknown_key_over_basic_on_https_runs_anonymously(
    store: SandboxStore, make_server: ServerFactory
) -> None:
    server = make_server(store, tls=True)
    response = woo(server, consumer_key="ck_unknown").get("orders")
    assert response.status_code == 401
    assert response.json() == CANNOT_LIST


def test_basic_and_query_keys_are_ignored_over_plain_http(server: SandboxServer) -> None:
    url = f"{server.api_url}/wc/v3/orders"
    basic = requests.get(url, auth=(CK, CS), timeout=30)
    query = requests.get(url, params={"consumer_key": CK, "consumer_secret": CS}, timeout=30)
    assert (basic.status_code, basic.json()) == (401, CANNOT_LIST)
    assert (query.status_code, query.json()) == (401, CANNOT_LIST)


def test_read_only_key_reads_but_cannot_write(server: SandboxServer, store: SandboxStore) -> None:
    api = woo(server, consumer_key=READ_ONLY_CK, consumer_secret=READ_ONLY_CS)
    assert api.get("orders").status_code == 200
    customer_id = store.all("customers")[0]["id"]
    response = api.put(f"customers/{customer_id}", {"first_name": "Nope"})
    assert response.status_code == 401
    assert response.json() == auth_error("The API key provided does not have write permissions.")
    assert store.get("customers", customer_id)["first_name"] != "Nope"


def test_application_password_authenticates_woocommerce_routes_too(server: SandboxServer) -> None:
    url = f"{server.api_url}/wc/v3/orders"
    response = requests.get(url, auth=(WP_USER, WP_PASSWORD.replace(" ", "")), timeout=30)
    assert response.status_code == 200


@pytest.mark.parametrize("endpoint", ["orders/999999", "orders/999999/refunds/1"])
def test_anonymous_request_for_a_missing_object_gets_the_invalid_id_error(
    server: SandboxServer, endpoint: str
) -> None:
    response = requests.get(f"{server.api_url}/wc/v3/{endpoint}", timeout=30)
    assert response.status_code == 404


def test_anonymous_request_for_an_existing_order_cannot_view_it(
    server: SandboxServer, store: SandboxStore
) -> None:
    order_id = store.all("orders")[0]["id"]
    response = requests.get(f"{server.api_url}/wc/v3/orders/{order_id}", timeout=30)
    assert response.status_code == 401
    assert response.json()["message"] == "Sorry, you cannot view this resource."


def test_nonces_expire_after_the_15_minute_window(
    store: SandboxStore, make_server: ServerFactory
) -> None:
    now = [time.time()]
    server = make_server(store, auth_clock=lambda: now[0])
    stamp = int(now[0])
    url = signed_url(server, "orders", oauth_timestamp=stamp)
    assert requests.get(url, timeout=30).status_code == 200
    now[0] += 10 * 60  # still inside the window: the nonce is remembered
    assert requests.get(url, timeout=30).json()["message"].startswith("Invalid nonce")
    now[0] += 6 * 60  # outside: the timestamp itself is now stale
    assert requests.get(url, timeout=30).json() == auth_error("Invalid timestamp.")


def test_no_secret_reaches_the_request_log_links_or_reprs(server: SandboxServer) -> None:
    response = woo(server).get("orders", params={"per_page": 2, "status": "any"})
    assert response.status_code == 200
    logged = repr(server.request_log.entries())
    for secret in (CK, CS, WP_PASSWORD):
        assert secret not in logged
        assert secret not in response.headers.get("Link", "")
    assert CS not in repr(server.authenticator._keys)
    assert WP_PASSWORD not in repr(server.authenticator._wp_user)
    assert "'oauth_signature':" not in logged
