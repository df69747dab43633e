"""Keyset paging over a modified-date window never misses an untouched item, never repeats one."""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync.window import ModifiedWindow, wc_time

START = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class FakePage:
    items: list[dict[str, Any]]
    total: int
    total_pages: int
    status: int = 200


class ChangingStore:
    """Serves `orders` like WooCommerce (exclusive date filters, ties by id); mutates between requests."""

    def __init__(self, items: int, seed: int, *, churn: float, same_second: int = 0) -> None:
        self.rng = random.Random(seed)
        self.now = START + timedelta(days=400)
        self.modified: dict[int, datetime] = {}
        for i in range(1, items + 1):
            self.modified[i] = START + timedelta(seconds=self.rng.randrange(0, 86400 * 300))
        for i in range(items + 1, items + 1 + same_second):  # a bulk edit: many items, one second
            self.modified[i] = START + timedelta(days=10)
        self.churn = churn
        self.touched: set[int] = set()
        self.requests = 0
        self.lock = threading.Lock()  # pages are fetched from several threads

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> FakePage:
        assert endpoint == "orders"
        params = dict(params or {})
        with self.lock:
            self.requests += 1
            page = self._serve(params)
            self._mutate()
        return page

    def _serve(self, params: dict[str, Any]) -> FakePage:
        after = datetime.fromisoformat(params["modified_after"]).replace(tzinfo=UTC)
        before = datetime.fromisoformat(params["modified_before"]).replace(tzinfo=UTC)
        excluded = {int(x) for x in str(params.get("exclude", "")).split(",") if x}
        rows = [
            (m, i) for i, m in self.modified.items() if after < m < before and i not in excluded
        ]
        rows.sort(
            key=(lambda r: (r[0], r[1])) if params["orderby"] == "modified" else (lambda r: r[1])
        )
        per_page = int(params["per_page"])
        page = int(params.get("page", 1))
        chunk = rows[(page - 1) * per_page : page * per_page]
        items = [{"id": i, "date_modified_gmt": wc_time(m)} for m, i in chunk]
        return FakePage(items, len(rows), -(-len(rows) // per_page))

    def _mutate(self) -> None:
        """Between requests, some items are modified (they leave the window) or deleted."""
        for _ in range(int(self.churn)):
            victim = self.rng.choice(sorted(self.modified))
            self.touched.add(victim)
            if self.rng.random() < 0.5:
                del self.modified[victim]
            else:
                self.now += timedelta(seconds=1)
                self.modified[victim] = self.now


def collect(store: ChangingStore, *, concurrency: int) -> list[int]:
    window = ModifiedWindow(
        store,
        "orders",
        {"status": "any"},
        lo=START,
        hi=START + timedelta(days=399),
        per_page=100,
        concurrency=concurrency,
    )
    return [int(item["id"]) for page in window.pages() for item in page.items]


@pytest.mark.parametrize("concurrency", [1, 3])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_untouched_item_is_seen_exactly_once_while_the_store_changes(
    seed: int, concurrency: int
) -> None:
    store = ChangingStore(2_000, seed, churn=3)
    original = set(store.modified)
    seen = collect(store, concurrency=concurrency)
    assert len(seen) == len(set(seen)), "an item was delivered twice"
    untouched = original - store.touched
    assert untouched <= set(seen)


def test_page_number_paging_would_miss_items_under_the_same_churn() -> None:
    """The hazard the keyset design exists for: proves the test above can fail."""
    store = ChangingStore(2_000, 1, churn=3)
    original = set(store.modified)
    seen: set[int] = set()
    page = 1
    while True:
        got = store.get(
            "orders",
            {
                "modified_after": wc_time(START - timedelta(seconds=1)),
                "modified_before": wc_time(START + timedelta(days=399)),
                "orderby": "modified",
                "per_page": 100,
                "page": page,
            },
        )
        seen |= {int(i["id"]) for i in got.items}
        if page >= got.total_pages:
            break
        page += 1
    assert (original - store.touched) - seen, "page-number paging should have skipped something"


def test_a_quiet_window_costs_one_request_per_hundred_items_plus_slices() -> None:
    store = ChangingStore(1_000, 7, churn=0)
    seen = collect(store, concurrency=3)
    assert sorted(seen) == sorted(store.modified)
    assert store.requests <= 10 + 6 + 1


def test_a_small_window_costs_a_single_request() -> None:
    store = ChangingStore(40, 7, churn=0)
    assert sorted(collect(store, concurrency=3)) == sorted(store.modified)
    assert store.requests == 1


def test_hundreds_of_items_modified_in_the_same_second_are_all_seen() -> None:
    store = ChangingStore(300, 5, churn=0, same_second=950)
    seen = collect(store, concurrency=2)
    assert len(seen) == len(set(seen))
    assert set(seen) == set(store.modified)
