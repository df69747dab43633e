"""The sorted indexes answer every listing exactly as a walk over the whole table does.

Each query the sync sends (and their neighbours: other orders, statuses, bounds, exclusions,
deep pages) is answered from the indexes and compared with the reference walk, on a generated
store and again after every kind of write: the indexes must follow each one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from sandbox import listing
from sandbox.arguments import validate
from sandbox.formats import parse_gmt
from sandbox.generator import generate_store
from sandbox.listing import Collection, list_page
from sandbox.resources import customers, orders, refunds
from sandbox.store import SandboxStore
from tests.sandbox.conftest import ANCHOR


@pytest.fixture
def store() -> SandboxStore:
    return generate_store(seed=11, customers=40, orders=400, reviews=0, comments=0, anchor=ANCHOR)


def wc(moment_gmt: str, shift: timedelta = timedelta(0)) -> str:
    return (parse_gmt(moment_gmt) + shift).replace(tzinfo=None).isoformat()


def order_queries(store: SandboxStore) -> Iterator[dict[str, Any]]:
    live = sorted(store.all("orders"), key=lambda o: o["date_modified_gmt"])
    middle, late = live[len(live) // 2], live[-40]
    some_ids = [o["id"] for o in live[::37]]
    customer = next(o["customer_id"] for o in live if o["customer_id"])
    window = {
        "modified_after": wc(middle["date_modified_gmt"], -timedelta(seconds=1)),
        "modified_before": wc(late["date_modified_gmt"], timedelta(seconds=1)),
        "dates_are_gmt": "true",
    }
    for orderby in ("id", "date", "modified"):
        for order in ("asc", "desc"):
            for status in ("any", "trash", "completed,processing"):
                base = {"orderby": orderby, "order": order, "status": status, "per_page": "20"}
                yield base
                yield {**base, "page": "3"}
                yield {**base, "offset": "250", "per_page": "7"}
                yield {**base, **window}
                yield {**base, **window, "exclude": ",".join(map(str, some_ids))}
                yield {**base, "modified_after": window["modified_after"]}  # site time
                yield {
                    **base,
                    "after": wc(middle["date_created_gmt"]),
                    "before": wc(late["date_created_gmt"]),
                }
                yield {**base, "include": ",".join(map(str, some_ids))}
                yield {**base, "customer": str(customer)}
                yield {**base, "customer": "0", "page": "2"}
                yield {**base, "exclude": str(live[0]["id"]), "search": "1"}
    # the sync's tie second: one second's orders by id
    second = middle["date_modified_gmt"]
    yield {
        "orderby": "id",
        "order": "asc",
        "status": "any",
        "modified_after": wc(second, -timedelta(seconds=1)),
        "modified_before": wc(second, timedelta(seconds=1)),
        "dates_are_gmt": "true",
    }


def same_answer(store: SandboxStore, collection: Collection, query: dict[str, Any]) -> None:
    args = validate(collection.params, query)
    indexed = list_page(store, collection, args)
    walked = list_page(store, collection, args, scan=True)
    assert (indexed.ids, indexed.total) == (walked.ids, walked.total), query


def check_everything(store: SandboxStore) -> None:
    for query in order_queries(store):
        same_answer(store, orders.COLLECTION, query)
    newest_refund = max(store.all("refunds"), key=lambda r: r["id"])
    for order in ("asc", "desc"):
        for bounds in (
            {},
            {"before": wc(newest_refund["date_created_gmt"]), "dates_are_gmt": "true"},
            {"after": wc(newest_refund["date_created_gmt"], -timedelta(days=30))},
        ):
            query = {"orderby": "id", "order": order, "per_page": "100", **bounds}
            same_answer(store, refunds.COLLECTION, query)
            same_answer(store, refunds.COLLECTION, {**query, "page": "2", "per_page": "10"})
    for order in ("asc", "desc"):
        query = {"role": "all", "orderby": "id", "order": order, "per_page": "20"}
        same_answer(store, customers.COLLECTION, query)
        same_answer(store, customers.COLLECTION, {**query, "orderby": "registered_date"})


def write_a_little_of_everything(store: SandboxStore) -> None:
    """Every kind of write that moves an order, a refund or a customer in a listing."""
    live = [o for o in store.all("orders") if o["status"] not in ("trash", "refunded")]
    products = [p["id"] for p in store.all("products")]
    someone = next(c for c in store.all("customers") if c["id"] > 1)
    with store.clock_at(ANCHOR + timedelta(days=1)):
        placed = store.place_order(customer_id=someone["id"], items=[(products[0], 2)])
        store.place_order(email="guest@example.com", items=[(products[1], 1)], status="pending")
        store.set_order_status(live[0]["id"], "completed")
        store.set_order_status(live[1]["id"], "cancelled")
        store.delete_order(live[2]["id"], force=False)
        store.delete_order(live[3]["id"], force=True)
        store.touch_order(live[4]["id"])
        store.update_order(live[5]["id"], {"customer_id": someone["id"]})
        store.refund_order(placed["id"], amount=Decimal("1.00"), reason="test")
        store.refund_order(live[6]["id"])  # everything: the order becomes "refunded"
    with store.clock_at(ANCHOR + timedelta(days=2)):
        store.set_order_status(live[2]["id"], "processing")  # restored from the trash
        refund_id = store.all("refunds")[0]["id"]
        store.delete_refund(refund_id)
        store.delete_customer(someone["id"], force=True)  # their orders become guest orders
        store.register_customer(email="new.shopper@example.com", first_name="New")
        store.create_customer({"email": "api.made@example.com"})
        store.update_customer(store.all("customers")[-1]["id"], {"first_name": "Renamed"})


@pytest.mark.parametrize("small", [listing.SMALL, 25], ids=["default", "tiny-candidate-sets"])
def test_indexed_listings_equal_a_walk_of_the_table_before_and_after_writes(
    store: SandboxStore, monkeypatch: pytest.MonkeyPatch, small: int
) -> None:
    monkeypatch.setattr(listing, "SMALL", small)  # tiny: exclusion and walk paths, not candidates
    check_everything(store)
    write_a_little_of_everything(store)
    check_everything(store)


def test_a_store_loaded_from_its_state_lists_the_same(store: SandboxStore) -> None:
    check_everything(store)
    loaded = SandboxStore.from_json(store.to_json())
    args = validate(orders.COLLECTION.params, {"orderby": "modified", "status": "any"})
    assert (
        list_page(loaded, orders.COLLECTION, args).ids
        == list_page(store, orders.COLLECTION, args).ids
    )
    write_a_little_of_everything(loaded)
    check_everything(loaded)


def test_the_syncs_order_queries_never_walk_the_table(
    store: SandboxStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_walk(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("walked the table or a whole run")

    store.build_indexes()
    live = sorted(store.all("orders"), key=lambda o: o["date_modified_gmt"])
    page = live[len(live) // 2 : len(live) // 2 + 100]
    window = {
        "modified_after": wc(page[0]["date_modified_gmt"], -timedelta(seconds=1)),
        "modified_before": wc(page[-1]["date_modified_gmt"], timedelta(seconds=1)),
        "dates_are_gmt": "true",
    }
    walk = {"status": "any", "orderby": "modified", "order": "asc", "per_page": "100"}
    busiest = max(
        {o["customer_id"] for o in live} - {0},
        key=lambda c: sum(o["customer_id"] == c for o in live),
    )
    sync_queries = [
        {**walk, "page": "3"},
        {**walk, "orderby": "id", "page": "3"},
        {**walk, "orderby": "date", "order": "desc", "page": "3"},
        {**walk, **window},
        {**walk, **window, "exclude": ",".join(str(o["id"]) for o in page[:5])},
        {**walk, **window, "orderby": "id"},
        {**walk, "status": "trash"},
        {**walk, "include": ",".join(str(o["id"]) for o in page), "orderby": "id"},
        {**walk, "customer": str(busiest)},
    ]
    monkeypatch.setattr(listing, "_from_scan", no_walk)
    monkeypatch.setattr(listing.indexes, "walk", no_walk)
    for query in sync_queries:
        args = validate(orders.COLLECTION.params, query)
        assert list_page(store, orders.COLLECTION, args).items, query
