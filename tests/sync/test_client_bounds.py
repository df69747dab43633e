"""The client against answers no WooCommerce gives: redirects, errors with 200, wrong shapes, size.

Faked with `responses`, like tests/sync/test_client.py (whose helpers these reuse). The same
answers over real HTTP, through the real CLI, are in tests/e2e/test_hostile_store.py.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
import woocommerce.api

from loyalty.errors import StoreAnswerUnusable, StoreRejected
from sync.client import StoreClient
from tests.sync.test_client import HTTP, HTTPS, KEY, ORDERS, PLAIN_ORDERS, SECRET, make_client
from tests.sync.test_client import mock as mock  # the fixture, used by name

BASIC = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()


# -- redirects -----------------------------------------------------------------------------------


def test_a_redirect_within_the_origin_is_followed_and_counted(
    mock: responses.RequestsMock,
) -> None:
    mock.get(ORDERS, status=301, headers={"Location": "/shop/wp-json/wc/v3/orders?page=2"})
    mock.get(f"{HTTPS}/shop/wp-json/wc/v3/orders", json=[{"id": 1}])
    client, _ = make_client()

    page = client.get("orders", {"page": 2})

    assert page.items == [{"id": 1}]
    assert client.requests_made == 2
    assert mock.calls[1].request.headers["Authorization"] == BASIC


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("https://evil.test/wp-json/wc/v3/orders", "https://evil.test:443"),
        ("https://shop.test:8443/wp-json/wc/v3/orders", "https://shop.test:8443"),
        ("http://shop.test/wp-json/wc/v3/orders", "http://shop.test:80"),  # a downgrade
        ("ftp://shop.test/orders", "an unusable address"),
    ],
    ids=["other-host", "other-port", "https-to-http", "not-http"],
)
def test_a_redirect_outside_the_origin_is_refused_without_following_it(
    mock: responses.RequestsMock, location: str, shown: str
) -> None:
    mock.get(ORDERS, status=301, headers={"Location": location})
    client, _ = make_client()

    with pytest.raises(StoreAnswerUnusable) as caught:
        client.get("orders")

    assert str(caught.value) == (
        f"GET /wp-json/wc/v3/orders: the store redirected (HTTP 301) to {shown}, outside"
        " https://shop.test:443; redirects are followed only within the store's own origin"
        " (http to https allowed): check [store] url"
    )
    assert client.requests_made == 1


def test_a_refused_redirect_is_not_the_stores_answer_the_listings_started_ahead_wait_for(
    mock: responses.RequestsMock,
) -> None:
    # Its Date would release the listings waiting for the store's clock: they would ask the
    # store that has just been refused (tests/e2e/test_hostile_store.py, the redirect).
    date = "Wed, 02 Dec 2026 09:00:00 GMT"
    mock.get(ORDERS, status=301, headers={"Location": "https://evil.test/x", "Date": date})
    client, _ = make_client()

    with pytest.raises(StoreAnswerUnusable):
        client.get("orders")

    assert not client.store_clock.wait_answered(0)


def test_an_upgrade_to_https_is_followed_with_basic_auth_and_no_oauth_query(
    mock: responses.RequestsMock,
) -> None:
    # WordPress's canonical redirect echoes the query: the signed OAuth parameters with it.
    def to_https(request: object) -> tuple[int, dict[str, str], str]:
        url = str(request.url)  # type: ignore[attr-defined]
        return 301, {"Location": url.replace("http://", "https://", 1)}, ""

    mock.add_callback(responses.GET, PLAIN_ORDERS, callback=to_https)
    mock.get(ORDERS, json=[])
    client, _ = make_client(HTTP)

    client.get("orders", {"status": "any"})

    upgraded = mock.calls[1].request
    query = parse_qs(urlsplit(str(upgraded.url)).query)
    assert query == {"status": ["any"]}
    assert upgraded.headers["Authorization"] == BASIC
    assert "oauth_signature" in str(mock.calls[0].request.url)


def test_a_307_keeps_the_method_and_body_of_a_write(mock: responses.RequestsMock) -> None:
    mock.post(
        f"{HTTPS}/wp-json/wc/v3/customers/batch",
        status=307,
        headers={"Location": "/index.php?rest_route=/wc/v3/customers/batch"},
    )
    mock.post(f"{HTTPS}/index.php", json={"update": []})
    client, _ = make_client()

    client.post("customers/batch", {"update": [{"id": 5}]})

    assert json.loads(mock.calls[1].request.body) == {"update": [{"id": 5}]}
    assert client.requests_made == 2


def test_a_303_to_a_write_is_refused(mock: responses.RequestsMock) -> None:
    mock.put(f"{HTTPS}/wp-json/wc/v3/customers/5", status=303, headers={"Location": "/done"})
    client, _ = make_client()

    with pytest.raises(StoreAnswerUnusable, match=r"HTTP 303 \(see other\) to a PUT"):
        client.put("customers/5", {"meta_data": []})


def test_a_redirect_loop_stops(mock: responses.RequestsMock) -> None:
    mock.get(ORDERS, status=302, headers={"Location": ORDERS})
    client, _ = make_client()

    with pytest.raises(StoreAnswerUnusable, match="redirected more than 5 times"):
        client.get("orders")

    assert client.requests_made == 6


# -- answers of the wrong kind -------------------------------------------------------------------


def test_an_error_body_with_status_200_is_a_rejection_naming_its_code(
    mock: responses.RequestsMock,
) -> None:
    body = {"code": "rest_maintenance", "message": "Briefly unavailable.", "data": {"status": 503}}
    mock.get(ORDERS, json=body)
    client, _ = make_client()

    with pytest.raises(StoreRejected) as caught:
        client.get("orders")

    assert str(caught.value) == (
        "GET /wp-json/wc/v3/orders: the store answered an error with status 200:"
        " rest_maintenance: Briefly unavailable."
    )
    assert (caught.value.status, caught.value.code) == (200, "rest_maintenance")
    assert client.requests_made == 1


def test_an_object_with_a_code_and_an_id_is_data_while_one_without_an_id_is_an_error(
    mock: responses.RequestsMock,
) -> None:
    coupon = {"id": 7, "code": "loyalty-ab12", "message": "", "amount": "5.00"}
    mock.get(f"{HTTPS}/wp-json/wc/v3/coupons/7", json=coupon)
    mock.get(f"{HTTPS}/wp-json/wc/v3/coupons/8", json={"code": "x", "message": "gone"})
    client, _ = make_client()

    assert client.get("coupons/7").items == coupon
    with pytest.raises(StoreRejected, match="an error with status 200: x: gone"):
        client.get("coupons/8")


@pytest.mark.parametrize(
    ("body", "kind"),
    [({"id": 1}, "a JSON object"), ("orders", "a JSON string"), (None, "null"), (3, "a JSON int")],
)
def test_a_collection_that_is_not_an_array_is_refused_naming_the_endpoint(
    mock: responses.RequestsMock, body: object, kind: str
) -> None:
    mock.get(ORDERS, body=json.dumps(body), content_type="application/json")
    client, _ = make_client()

    with pytest.raises(StoreAnswerUnusable) as caught:
        client.get_list("orders", {"page": 1})

    assert str(caught.value) == (
        f"GET /wp-json/wc/v3/orders: expected a JSON array of items, the store answered {kind}"
    )


def test_deeply_nested_json_is_refused_at_once(mock: responses.RequestsMock) -> None:
    mock.get(ORDERS, body="[" * 5000 + "]" * 5000, content_type="application/json")
    client, _ = make_client()

    with pytest.raises(StoreAnswerUnusable, match="nests arrays or objects more than 100 deep"):
        client.get("orders")

    assert client.requests_made == 1


# -- size ----------------------------------------------------------------------------------------


def test_an_answer_above_the_cap_is_refused_not_retried(mock: responses.RequestsMock) -> None:
    mock.get(ORDERS, body="[" + "0," * 600 + "0]", content_type="application/json")
    client, _ = make_client(max_response_bytes=1024)

    with pytest.raises(StoreAnswerUnusable) as caught:
        client.get("orders")

    assert str(caught.value).startswith(
        "GET /wp-json/wc/v3/orders: the answer is larger than the 0.000977 MB limit on one answer"
    )
    assert "max_response_mb" in str(caught.value)
    assert client.requests_made == 1


def test_a_small_answer_that_decodes_huge_is_refused(mock: responses.RequestsMock) -> None:
    mock.get(ORDERS, body="[" + "[]," * 300 + "[]]", content_type="application/json")
    client, _ = make_client(max_response_bytes=1024)  # 8 KB once decoded

    with pytest.raises(StoreAnswerUnusable, match="would take about 0 MB to decode"):
        client.get("orders")


# -- headers -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["²", "9" * 5000], ids=["superscript-two", "5000-digits"])
def test_odd_paging_headers_are_ignored_not_a_crash(
    mock: responses.RequestsMock, value: str
) -> None:
    mock.get(ORDERS, json=[], headers={"X-WP-Total": value, "X-WP-TotalPages": value})

    page = make_client()[0].get("orders")

    assert (page.total, page.total_pages) == (None, None)


def test_an_odd_retry_after_falls_back_to_backoff(mock: responses.RequestsMock) -> None:
    mock.get(ORDERS, status=503, headers={"Retry-After": "²"})
    mock.get(ORDERS, json=[])
    client, clock = make_client()

    client.get("orders")

    assert len(clock.sleeps) == 1


def test_nothing_is_patched_in_the_woocommerce_package() -> None:
    assert woocommerce.api.request is requests.request  # type: ignore[attr-defined]
    assert isinstance(make_client()[0], StoreClient)
