"""Acceptance 3: paging 10,000 orders 100 at a time returns each exactly once with correct
X-WP-Total / X-WP-TotalPages / Link headers; per_page=101 gets WordPress's 400."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
import requests
from woocommerce import API

from sandbox.formats import Json
from sandbox.generator import generate_store
from sandbox.listing import SortCache
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import ANCHOR, CK, CS, WP_PASSWORD, WP_USER, woo

ORDERS = 10_000


@pytest.fixture(scope="module")
def big_store() -> SandboxStore:
    return generate_store(
        seed=5, customers=400, orders=ORDERS, reviews=0, comments=0, anchor=ANCHOR
    )


@pytest.fixture(scope="module")
def big_server(big_store: SandboxStore) -> Iterator[SandboxServer]:
    server = SandboxServer(
        big_store,
        consumer_key=CK,
        consumer_secret=CS,
        wp_username=WP_USER,
        wp_app_password=WP_PASSWORD,
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def big_orders(big_store: SandboxStore) -> list[Json]:
    """Every order of the big store, copied once (a copy of 10,000 orders costs about 3 s of CPU;
    the tests here only read the store)."""
    return big_store.all("orders")


def every_status(orders: list[Json]) -> str:
    return ",".join(sorted({o["status"] for o in orders}))


def walk(api: API, params: dict[str, str | int]) -> tuple[list[int], list[requests.Response]]:
    ids: list[int] = []
    pages: list[requests.Response] = []
    page = 1
    while True:
        response = api.get("orders", params={**params, "per_page": 100, "page": page})
        assert response.status_code == 200, response.text
        pages.append(response)
        ids += [o["id"] for o in response.json()]
        if 'rel="next"' not in response.headers.get("Link", ""):
            return ids, pages
        page += 1


@pytest.mark.slow
def test_paging_ten_thousand_orders_returns_each_exactly_once(
    big_server: SandboxServer, big_orders: list[Json]
) -> None:
    statuses = every_status(big_orders)
    ids, pages = walk(woo(big_server), {"status": statuses, "orderby": "id", "order": "asc"})
    assert len(ids) == ORDERS
    assert Counter(ids).most_common(1)[0][1] == 1
    assert set(ids) == {o["id"] for o in big_orders}
    assert len(pages) == 100
    for number, response in enumerate(pages, start=1):
        assert response.headers["X-WP-Total"] == str(ORDERS)
        assert response.headers["X-WP-TotalPages"] == "100"
        assert len(response.json()) == 100
        base = f"{big_server.api_url}/wc/v3/orders?status={statuses.replace(',', '%2C')}"
        base += "&orderby=id&order=asc&per_page=100"
        links = []
        if number > 1:
            links.append(f'<{base}&page={number - 1}>; rel="prev"')
        if number < 100:
            links.append(f'<{base}&page={number + 1}>; rel="next"')
        assert response.headers["Link"] == ", ".join(links)


@pytest.mark.slow
def test_paging_by_modified_date_ascending_returns_each_order_once(
    big_server: SandboxServer, big_orders: list[Json]
) -> None:
    """The sync's walk: status=any (everything but trash), oldest modification first."""
    api = API(url=big_server.base_url, consumer_key=CK, consumer_secret=CS, timeout=30)
    params: dict[str, str | int] = {"status": "any", "orderby": "modified", "order": "asc"}
    ids, pages = walk(api, params)
    expected = [o for o in big_orders if o["status"] != "trash"]
    assert sorted(ids) == sorted(o["id"] for o in expected)
    modified = {o["id"]: (o["date_modified_gmt"], o["id"]) for o in expected}
    assert [modified[i] for i in ids] == sorted(modified[i] for i in ids)
    assert pages[0].headers["X-WP-Total"] == str(len(expected))


def test_per_page_101_gets_the_documented_400(big_server: SandboxServer) -> None:
    response = woo(big_server).get("orders", params={"per_page": 101})
    assert response.status_code == 400
    message = "per_page must be between 1 (inclusive) and 100 (inclusive)"
    assert response.json() == {
        "code": "rest_invalid_param",
        "message": "Invalid parameter(s): per_page",
        "data": {
            "status": 400,
            "params": {"per_page": message},
            "details": {
                "per_page": {"code": "rest_out_of_bounds", "message": message, "data": None}
            },
        },
    }


def test_a_page_past_the_end_is_empty_with_the_totals(
    big_server: SandboxServer, big_orders: list[Json]
) -> None:
    response = woo(big_server).get(
        "orders", params={"status": every_status(big_orders), "per_page": 100, "page": 101}
    )
    assert response.status_code == 200
    assert response.json() == []
    assert response.headers["X-WP-Total"] == str(ORDERS)
    assert 'rel="prev"' in response.headers["Link"]
    assert "page=100" in response.headers["Link"]


def test_sort_cache_reuses_an_unchanged_order_and_sees_any_change() -> None:
    cache = SortCache()
    first = cache.ordered("orders", [("b", 2), ("a", 1), ("c", 3)], reverse=False)
    assert first == [1, 2, 3]
    assert cache.ordered("orders", [("b", 2), ("a", 1), ("c", 3)], reverse=False) is first
    assert cache.ordered("orders", [("b", 2), ("d", 1), ("c", 3)], reverse=False) == [2, 3, 1]
    assert cache.ordered("orders", [("b", 2), ("d", 1), ("c", 3)], reverse=True) == [1, 3, 2]
