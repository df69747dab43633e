"""Every listing is bounded: a page that makes no progress is never asked for again, and no listing
makes more requests than the store's announced total allows (3 x its pages + 10).

The store is faked with `responses`; each fake raises `Unbounded` past a few hundred requests, so a
listing without its guards fails here instead of hanging.
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from requests import PreparedRequest

from sync.client import ClientSettings, StoreClient
from sync.customers import fetch_existing_customer_ids, fetch_new_customers
from sync.orders import fetch_orders_by_ids, fetch_orders_window
from sync.paging import LIGHT_FIELDS, UNREADABLE, Listing, ListingStalled, is_unreadable
from sync.refunds import fetch_refunds_by_ids, fetch_refunds_created
from tests.sync.test_client import KEY, SECRET, FakeClock

BASE = "https://shop.test/wp-json/wc/v3"
LO = datetime(2025, 3, 1, tzinfo=UTC)
HI = datetime(2025, 3, 2, tzinfo=UTC)
BULK_EDIT = "2025-03-01T12:00:00"
Reply = tuple[int, dict[str, str], str]


class Unbounded(Exception):
    """The listing kept asking: what an unguarded loop would do forever."""


def client() -> StoreClient:
    clock = FakeClock()
    settings = ClientSettings(url="https://shop.test", consumer_key=KEY, consumer_secret=SECRET)
    return StoreClient(settings, sleep=clock.sleep, monotonic=clock.monotonic)


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as requests_mock:
        yield requests_mock


def serve(
    mock: responses.RequestsMock, path: str, answer: Callable[[dict[str, str]], Reply]
) -> list[dict[str, str]]:
    """Route GET `path` to `answer(query)`; returns the list of queries it was asked."""
    asked: list[dict[str, str]] = []

    def callback(request: PreparedRequest) -> Reply:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.url or "").query).items()}
        asked.append(query)
        if len(asked) > 300:
            raise Unbounded(f"{len(asked)} requests to {path}")
        return answer(query)

    mock.add_callback(responses.GET, f"{BASE}/{path}", callback=callback)
    return asked


def page(items: list[dict[str, Any]], total: int, pages: int = 1) -> Reply:
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    return 200, headers, json.dumps(items)


def bulk_edit(ids: range) -> list[dict[str, Any]]:
    return [{"id": i, "date_modified_gmt": BULK_EDIT} for i in ids]


def window(listing: StoreClient, per_page: int = 100) -> list[int]:
    pages = fetch_orders_window(
        listing, status="any", lo=LO, hi=HI, per_page=per_page, concurrency=1
    )
    return [int(item["id"]) for got in pages for item in got.items]


def test_a_store_ignoring_exclude_in_a_bulk_edit_second_is_paged_by_id_and_seen_once(
    mock: responses.RequestsMock,
) -> None:
    orders = bulk_edit(range(1, 251))  # 250 orders share one modified second

    def ignores_exclude(query: dict[str, str]) -> Reply:
        after = datetime.fromisoformat(query["modified_after"])
        before = datetime.fromisoformat(query["modified_before"])
        rows = [o for o in orders if after < datetime.fromisoformat(BULK_EDIT) < before]
        number = int(query.get("page", "1"))  # `exclude` dropped: the same hundred come again
        return page(rows[(number - 1) * 100 : number * 100], len(rows), -(-len(rows) // 100))

    asked = serve(mock, "orders", ignores_exclude)
    seen = window(client())
    assert sorted(seen) == list(range(1, 251))
    assert len(seen) == len(set(seen)), "an order was delivered twice"
    keyset = [tuple(sorted(q.items())) for q in asked if q["orderby"] == "modified"]
    assert len(keyset) == len(set(keyset)), "a keyset request was sent twice"
    assert len(asked) <= 3 * 3 + 10


def test_a_bulk_edit_second_announced_short_is_paged_by_id_past_its_announced_last_page(
    mock: responses.RequestsMock,
) -> None:
    """Read last page first, the second's pages are the ones X-WP-Total announces; a store that
    announces 150 of 250 still has the pages after them read while they come full."""
    orders = bulk_edit(range(1, 251))

    def announces_150(query: dict[str, str]) -> Reply:
        after = datetime.fromisoformat(query["modified_after"])
        before = datetime.fromisoformat(query["modified_before"])
        rows = [o for o in orders if after < datetime.fromisoformat(BULK_EDIT) < before]
        number = int(query.get("page", "1"))  # `exclude` dropped: the second is paged by id
        return page(rows[(number - 1) * 100 : number * 100], min(len(rows), 150), 2)

    serve(mock, "orders", announces_150)
    seen = window(client())
    assert sorted(seen) == list(range(1, 251))


def test_a_caching_proxy_stops_the_window_with_endpoint_query_and_what_the_store_did(
    mock: responses.RequestsMock,
) -> None:
    cached = [{"id": i, "date_modified_gmt": "2025-03-01T08:00:00"} for i in range(1, 101)]
    asked = serve(mock, "orders", lambda query: page(cached, 100_000, 1_000))

    with pytest.raises(ListingStalled) as stalled:
        window(client())

    message = str(stalled.value)
    assert message.startswith("orders listing stopped: GET /wp-json/wc/v3/orders?")
    assert "modified_after=2025-03-01T07:59:59" in message
    assert "the store ignored `exclude` or repeated an earlier page" in message
    assert "paging that second by id stalled too" in message
    assert "everything up to the last good page is kept" in message
    assert KEY not in message
    assert SECRET not in message
    assert len(asked) <= 4  # the first page, the repeat, two pages of the second by id


def test_a_page_number_listing_that_repeats_its_page_stops_on_the_second_request(
    mock: responses.RequestsMock,
) -> None:
    refunds = [{"id": i, "parent_id": 7} for i in range(1, 101)]
    asked = serve(mock, "refunds", lambda query: page(refunds, 5_000, 50))

    pages = fetch_refunds_created(client(), after=None, before=HI)
    assert next(pages) == refunds
    with pytest.raises(ListingStalled, match="page 2 brought only items already delivered"):
        next(pages)
    assert len(asked) == 2


def test_a_listing_stops_at_the_ceiling_its_announced_total_allows(
    mock: responses.RequestsMock,
) -> None:
    # Every page is full of new customers, but the store announced 250 (3 pages): a liar.
    def endless(query: dict[str, str]) -> Reply:
        number = int(query["page"])
        start = 1_000_000 - number * 100
        return page([{"id": start - i} for i in range(100)], 250, 3)

    asked = serve(mock, "customers", endless)
    with pytest.raises(ListingStalled, match="reached this listing's ceiling of 19") as stalled:
        for _ in fetch_new_customers(client(), above_id=0):
            pass
    assert "the store announced 250 item(s) (X-WP-Total)" in str(stalled.value)
    assert len(asked) == 3 * 3 + 10


def test_a_full_page_announcing_999999_pages_still_ends_on_the_short_page(
    mock: responses.RequestsMock,
) -> None:
    def lying_pages(query: dict[str, str]) -> Reply:
        if query["page"] == "1":
            return page([{"id": i} for i in range(100)], 150, 999_999)
        return page([{"id": i} for i in range(100, 150)], 150, 999_999)

    asked = serve(mock, "refunds", lying_pages)
    got = [len(p) for p in fetch_refunds_created(client(), after=None, before=HI)]
    assert got == [100, 50]
    assert len(asked) == 2


def test_a_store_ignoring_include_stops_instead_of_calling_the_orders_deleted(
    mock: responses.RequestsMock,
) -> None:
    serve(mock, "orders", lambda query: page([{"id": 1}, {"id": 2}], 2))
    with pytest.raises(ListingStalled, match="the store ignored `include`"):
        fetch_orders_by_ids(client(), [5, 6, 7], status="any")


def test_a_read_by_ids_of_thousands_asks_a_hundred_a_request_beyond_the_listing_ceiling(
    mock: responses.RequestsMock,
) -> None:
    """Each answer announces its own count (X-WP-Total 100): the ceiling it set, 3 x 1 page + 10,
    stopped every read of more than 1,300 ids on its 14th request: the reviews probed by id after
    a mass deletion, the refunds of a group of orders, the unknown products of a big first sync,
    the coupons of many redemptions (found by a review, 3 Dec)."""

    def answer(query: dict[str, str]) -> Reply:
        ids = [int(i) for i in query["include"].split(",")]
        return page([{"id": i} for i in ids if i % 7], len([i for i in ids if i % 7]))

    asked = serve(mock, "orders", answer)
    wanted = range(1, 3_001)

    found = fetch_orders_by_ids(client(), wanted, status="any")

    assert sorted(int(o["id"]) for o in found) == [i for i in wanted if i % 7]
    assert len(asked) == 30


def capped(ids: list[int], cap: int) -> Reply:
    """A store (or a proxy in front of it) that sends at most `cap` items a page, announcing in
    X-WP-Total how many of the ids asked it has."""
    return page([{"id": i} for i in ids[:cap]], len(ids))


def test_a_store_capping_pages_below_a_hundred_is_asked_again_for_the_ids_it_left_out(
    mock: responses.RequestsMock,
) -> None:
    """50 of 100 ids sent, X-WP-Total 100: the 50 left out looked deleted (orders revoked,
    accounts retired; found by a review, 3 Dec). They are asked for again, 50 at a time."""

    def answer(query: dict[str, str]) -> Reply:
        return capped([int(i) for i in query["include"].split(",") if int(i) % 7], 50)

    asked = serve(mock, "orders", answer)

    found = fetch_orders_by_ids(client(), range(1, 301), status="any")

    assert sorted(int(o["id"]) for o in found) == [i for i in range(1, 301) if i % 7]
    assert len(asked) == 6
    assert fetch_existing_customer_ids_capped(mock) == {i for i in range(1, 301) if i % 7}


def fetch_existing_customer_ids_capped(mock: responses.RequestsMock) -> set[int]:
    serve(
        mock,
        "customers",
        lambda query: capped([int(i) for i in query["include"].split(",") if int(i) % 7], 30),
    )
    return fetch_existing_customer_ids(client(), range(1, 301))


def test_a_store_announcing_ids_it_never_sends_stops_the_read_instead_of_calling_them_deleted(
    mock: responses.RequestsMock,
) -> None:
    def answer(query: dict[str, str]) -> Reply:
        ids = [int(i) for i in query["include"].split(",")]
        return page([{"id": i} for i in ids if i <= 40], len(ids))  # 41..100 never come

    asked = serve(mock, "orders", answer)

    with pytest.raises(ListingStalled, match="announced 60 of the 60 ids asked"):
        fetch_orders_by_ids(client(), range(1, 101), status="any")
    assert len(asked) == 2


@pytest.mark.parametrize("odd", [{"id": 999_999}, {"id": None}])
def test_whether_accounts_exist_is_concluded_only_from_answers_that_prove_it(
    mock: responses.RequestsMock, odd: dict[str, Any]
) -> None:
    """An account is retired only on evidence: a batch whose answer holds a stranger or an item
    without a usable id proves nothing, so all of it counts as still there; the others go on."""

    def answer(query: dict[str, str]) -> Reply:
        ids = [int(i) for i in query["include"].split(",")]
        kept = [{"id": i} for i in ids if i % 2]  # the even ids were deleted
        return page([*kept, odd] if ids[0] == 1 else kept, len(kept))

    asked = serve(mock, "customers", answer)

    found = fetch_existing_customer_ids(client(), range(1, 301))

    assert found == set(range(1, 101)) | {i for i in range(101, 301) if i % 2}
    assert len(asked) == 3


BROKEN_IDS = [{"id": 2**64}, {"id": None}, {"id": "6"}, {"id": True}, {"id": 0}, None, {}]


@pytest.mark.parametrize("broken", BROKEN_IDS)
def test_an_item_without_a_usable_id_in_a_by_ids_answer_stops_the_read_by_default(
    mock: responses.RequestsMock, broken: Any
) -> None:
    """The id it stands for would look missing: an order deleted, its points revoked."""
    serve(mock, "orders", lambda query: page([{"id": 5}, broken], 2))
    with pytest.raises(ListingStalled, match="the store ignored `include`"):
        fetch_orders_by_ids(client(), [5, 6, 7], status="any")


def test_a_reader_for_whom_missing_only_holds_back_gets_items_without_a_usable_id(
    mock: responses.RequestsMock,
) -> None:
    """Refunds: the order naming a missing one waits in quarantine (a refund with an id of 2^64
    stopped the orders source in every run, found by a review, 3 Dec)."""
    serve(mock, "refunds", lambda query: page([{"id": 5}, *BROKEN_IDS], 2))
    found = client().get_by_ids("refunds", [5, 6, 7], unusable_missing=True)
    assert found == [{"id": 5}, *BROKEN_IDS]
    serve(mock, "refunds", lambda query: page([{"id": 5}, {"id": 8}], 2))
    with pytest.raises(ListingStalled, match=r"not asked for \(8\)"):
        client().get_by_ids("refunds", [5, 6, 7], unusable_missing=True)


def test_a_huge_total_announced_costs_the_pages_served_and_no_memory() -> None:
    """The pages it announced were made into queries all at once before page 2 was asked for: at
    10^18 items, 10^16 of them, until the process ran out of memory (found by a review, 3 Dec).
    Here 10^8 items, a million pages: hundreds of megabytes the old way, nothing now."""
    asked: list[int] = []

    class Store:
        def get(self, endpoint: str, params: dict[str, Any]) -> SimpleNamespace:
            asked.append(params["page"])
            items = [{"id": params["page"] * 1000 + i} for i in range(100)]
            return SimpleNamespace(items=items if params["page"] < 3 else [], total=10**8)

    tracemalloc.start()
    try:
        pages = list(Listing(Store(), "refunds", per_page=100).numbered({}, ahead=3))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000
    assert [len(p) for p in pages] == [100, 100, 0]
    assert asked[:3] == [1, 2, 3]
    assert len(asked) <= 5  # at most `ahead` - 1 beyond the end


def test_keyset_guard_lets_a_real_bulk_edit_page_through_in_one_pass(
    mock: responses.RequestsMock,
) -> None:
    """A store honouring `exclude` is untouched by the guard: no by-id request at all."""
    orders = bulk_edit(range(1, 151)) + [
        {"id": 1000 + i, "date_modified_gmt": (LO + timedelta(hours=13, seconds=i)).isoformat()}
        for i in range(20)
    ]
    for order in orders:
        order["date_modified_gmt"] = str(order["date_modified_gmt"]).replace("+00:00", "")

    def honest(query: dict[str, str]) -> Reply:
        excluded = {int(x) for x in query.get("exclude", "").split(",") if x}
        after = datetime.fromisoformat(query["modified_after"])
        rows = [
            o
            for o in orders
            if o["id"] not in excluded and datetime.fromisoformat(o["date_modified_gmt"]) > after
        ]
        return page(rows[:100], len(rows), -(-len(rows) // 100))

    asked = serve(mock, "orders", honest)
    assert sorted(window(client())) == sorted(o["id"] for o in orders)
    assert all(q["orderby"] == "modified" for q in asked)


def test_a_store_without_the_refunds_route_has_each_orders_refunds_read_to_the_last_page(
    mock: responses.RequestsMock,
) -> None:
    """Stores older than WooCommerce 9: only page 1 of `orders/{id}/refunds` was read, so an
    order with more than a hundred refunds lost the rest (found by a review, 3 Dec)."""
    no_route = json.dumps({"code": "rest_no_route", "message": "No route", "data": {}})
    serve(mock, "refunds", lambda query: (404, {}, no_route))
    of_five = [{"id": i} for i in range(1, 151)]
    five = serve(mock, "orders/5/refunds", lambda query: page(
        of_five[(int(query["page"]) - 1) * 100 :][:100], 150, 2))  # fmt: skip
    serve(mock, "orders/6/refunds", lambda query: page([{"id": 7}], 1))

    found = fetch_refunds_by_ids(client(), {5: {3, 120}, 6: {7}})

    assert sorted((r["parent_id"], r["id"]) for r in found) == [(5, 3), (5, 120), (6, 7)]
    assert [q["page"] for q in five] == ["1", "2"]
    # In a fixed order: by date, refunds of the same second could swap places between pages.
    assert all((q["orderby"], q["order"]) == ("id", "asc") for q in five)


def test_a_listing_without_an_announced_total_may_bring_a_million_items_whatever_its_page_size() -> (
    None
):
    """The ceiling was 10,000 requests whatever the page: a store announcing no X-WP-Total,
    listed 10 a page, stopped at 100,000 items (found by a review, 3 Dec)."""
    pages = 15_000

    class Store:
        asked = 0

        def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> SimpleNamespace:
            self.asked += 1
            number = int((params or {})["page"])
            start = (number - 1) * 10
            size = 10 if number <= pages else 3
            return SimpleNamespace(
                items=[{"id": i} for i in range(start, start + size)], total=None
            )

    store = Store()
    listing = Listing(store, "customers", per_page=10)

    delivered = sum(len(items) for items in listing.numbered({"per_page": 10}))

    assert (delivered, store.asked) == (pages * 10 + 3, pages + 1)
    assert listing.ceiling == 100_000


def test_a_store_capping_its_pages_far_below_per_page_gets_a_ceiling_for_its_pages() -> None:
    """Pages capped at 10 (of 100 asked), 1,000 items announced: the ceiling counted pages of
    100 (40 requests), so the listing stopped at 400 items, the rest never read (found by a
    review, 4 Dec)."""

    class Store:
        asked = 0

        def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> SimpleNamespace:
            self.asked += 1
            start = (int((params or {})["page"]) - 1) * 10
            items = [{"id": i} for i in range(start, min(start + 10, 1_000))]
            return SimpleNamespace(items=items, total=1_000)

    listing = Listing(Store(), "refunds", per_page=100)

    delivered = sum(len(items) for items in listing.numbered({}))

    assert delivered == 1_000
    assert listing.ceiling == 3 * 100 + 10


def test_a_store_capping_its_pages_below_per_page_is_read_to_the_end_of_its_total(
    mock: responses.RequestsMock,
) -> None:
    """A plugin caps every page at 50 whatever `per_page` asks: each page is short, and the
    listing ended on the first one, reading 50 refunds of 250 (found by a review, 4 Dec)."""
    refunds = [{"id": i} for i in range(1, 251)]

    def capped(query: dict[str, str]) -> Reply:
        number = int(query["page"])
        return page(refunds[(number - 1) * 50 : number * 50], len(refunds), 5)

    asked = serve(mock, "refunds", capped)
    got = [item["id"] for p in fetch_refunds_created(client(), after=None, before=HI) for item in p]

    assert got == list(range(1, 251))
    assert len(asked) == 5


def test_a_total_counting_items_the_store_does_not_send_ends_on_the_empty_page(
    mock: responses.RequestsMock,
) -> None:
    """WordPress counts what its query found, then drops what the key may not read: the total
    then stays above what is sent, and the page after the short one is empty."""

    def hides_ten(query: dict[str, str]) -> Reply:
        shown = {"1": list(range(100)), "2": list(range(100, 140))}.get(query["page"], [])
        return page([{"id": i} for i in shown], 150, 2)

    asked = serve(mock, "refunds", hides_ten)
    got = [len(p) for p in fetch_refunds_created(client(), after=None, before=HI)]

    assert got == [100, 40, 0]
    assert len(asked) == 3


def test_a_short_page_bringing_nothing_new_ends_the_listing_whatever_the_total(
    mock: responses.RequestsMock,
) -> None:
    def repeats(query: dict[str, str]) -> Reply:
        return page([{"id": i} for i in range(50)], 10**9, 10**7)  # a proxy's cached page

    asked = serve(mock, "refunds", repeats)
    got = [len(p) for p in fetch_refunds_created(client(), after=None, before=HI)]

    assert got == [50, 50]
    assert len(asked) == 2


def capped_orders(orders: list[dict[str, Any]], cap: int) -> Callable[[dict[str, str]], Reply]:
    """The orders listing of a store whose pages hold at most `cap` items whatever `per_page`
    asks; X-WP-Total counts every match (what `offset` skips too), as WordPress does."""

    def answer(query: dict[str, str]) -> Reply:
        after = datetime.fromisoformat(query["modified_after"])
        before = datetime.fromisoformat(query["modified_before"])
        left_out = {int(i) for i in query.get("exclude", "").split(",") if i}
        rows = [
            o
            for o in orders
            if after < datetime.fromisoformat(o["date_modified_gmt"]) < before
            and o["id"] not in left_out
        ]
        rows.sort(key=lambda o: (o["date_modified_gmt"], o["id"]))
        start = int(query.get("offset", 0))
        return page(rows[start : start + cap], len(rows), -(-len(rows) // cap))

    return answer


def test_a_store_capping_its_pages_below_per_page_gives_every_order_of_the_window(
    mock: responses.RequestsMock,
) -> None:
    """Every page came short, and the window took the first as the end of its slice: 50 orders
    of 250, the cursor then moved past the others, whose points were never counted (found by a
    review, 4 Dec)."""
    orders = [
        {"id": i, "date_modified_gmt": (LO + timedelta(minutes=3 * i)).isoformat()[:19]}
        for i in range(1, 251)
    ]
    serve(mock, "orders", capped_orders(orders, 50))

    seen = window(client())

    assert sorted(seen) == list(range(1, 251))
    assert len(seen) == len(set(seen))


def test_a_window_whose_total_counts_orders_never_sent_ends_at_the_first_empty_page(
    mock: responses.RequestsMock,
) -> None:
    """The key may not read some orders: they are counted, never sent; the walk still ends."""
    orders = [
        {"id": i, "date_modified_gmt": (LO + timedelta(minutes=3 * i)).isoformat()[:19]}
        for i in range(1, 121)
    ]
    hidden = {o["id"] for o in orders[100:]}
    listing = capped_orders(orders, 100)

    def hides(query: dict[str, str]) -> Reply:
        status, headers, body = listing(query)
        return status, headers, json.dumps([o for o in json.loads(body) if o["id"] not in hidden])

    asked = serve(mock, "orders", hides)

    assert sorted(window(client())) == list(range(1, 101))
    assert len(asked) <= 3


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def test_a_by_ids_answer_too_deep_to_decode_is_asked_again_in_halves_down_to_the_one_item(
    mock: responses.RequestsMock,
) -> None:
    """One customer's meta nested past the decoder's bound made every batch holding it
    unreadable, and whatever read it stopped there every run. The others are read, and the one
    comes as an unreadable item (there, so never taken for deleted), at 2n - 1 requests at most
    for a batch of n."""
    ids = list(range(1, 9))

    def answer(query: dict[str, str]) -> Reply:
        asked = [int(i) for i in query["include"].split(",")]
        items = [
            {"id": i, "meta_data": [{"key": "x", "value": nested(150 if i == 6 else 2)}]}
            for i in asked
        ]
        return page(items, len(items))

    asked = serve(mock, "customers", answer)

    found = client().get_by_ids("customers", ids)

    assert [c["id"] for c in found] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [is_unreadable(c) for c in found] == [False] * 5 + [True] + [False] * 2
    assert "nests arrays or objects more than 100 deep" in found[5][UNREADABLE]
    assert len(asked) <= 2 * len(ids) - 1


def test_a_page_too_deep_to_decode_is_read_item_by_item_keeping_its_order_and_length(
    mock: responses.RequestsMock,
) -> None:
    """A page of a listing holding one such item stopped every run at that page. It is asked
    for again with ids and dates only, then read by id: the page comes whole, in its order, the
    one item standing for itself as unreadable, so paging goes on as before."""
    deep = 4  # the item that nests too deep
    stored = [
        {
            "id": i,
            "date_modified_gmt": f"2025-03-01T10:00:0{i}",
            "meta_data": nested(150 if i == deep else 2),
        }
        for i in range(1, 6)
    ]

    def answer(query: dict[str, str]) -> Reply:
        if "include" in query:
            chosen = [s for s in stored if str(s["id"]) in query["include"].split(",")]
        else:
            chosen = stored[:3] if query.get("page", "1") == "1" else stored[3:]
        if query.get("_fields") == LIGHT_FIELDS:
            chosen = [{"id": s["id"], "date_modified_gmt": s["date_modified_gmt"]} for s in chosen]
        return page(chosen, len(stored), 2)

    asked = serve(mock, "orders", answer)
    listing = Listing(client(), "orders", per_page=3)

    pages = list(listing.numbered({"status": "any", "_fields": "id,date_modified_gmt,meta_data"}))

    assert [[item["id"] for item in items] for items in pages] == [[1, 2, 3], [4, 5]]
    assert [is_unreadable(item) for item in pages[1]] == [True, False]
    assert pages[1][0]["date_modified_gmt"] == "2025-03-01T10:00:04"  # its place in a walk
    assert pages[1][1] == stored[4]
    second = [q for q in asked if q.get("page") == "2" or "include" in q]
    assert [q.get("_fields") for q in second][:2] == [
        "id,date_modified_gmt,meta_data",
        LIGHT_FIELDS,
    ]
    assert all(q["status"] == "any" and "page" not in q for q in asked if "include" in q)
