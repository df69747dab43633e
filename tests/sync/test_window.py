"""Keyset paging over a modified-date window never misses an untouched item, never repeats one."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync.order_source import _SlicePrefix
from sync.window import ModifiedWindow, WindowPage, _Board, _slice_page, _SliceState, wc_time

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


def window_over(store: Any, *, concurrency: int) -> ModifiedWindow:
    """The orders of `store` modified in its 399 days, 100 a page."""
    return ModifiedWindow(
        store,
        "orders",
        {"status": "any"},
        lo=START,
        hi=START + timedelta(days=399),
        per_page=100,
        concurrency=concurrency,
    )


def collect(store: ChangingStore, *, concurrency: int) -> list[int]:
    window = window_over(store, concurrency=concurrency)
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


class BulkEditedWhilePaged(ChangingStore):
    """After each page of the bulk-edit second read by id, the lowest id still in that second is
    modified again: it leaves the second and every item after it moves one place forward."""

    def _mutate(self) -> None:
        if self.last_orderby != "id":
            return
        second = START + timedelta(days=10)
        leaving = min(i for i, m in self.modified.items() if m == second)
        self.touched.add(leaving)
        self.now += timedelta(seconds=1)
        self.modified[leaving] = self.now

    def _serve(self, params: dict[str, Any]) -> FakePage:
        self.last_orderby = params["orderby"]
        return super()._serve(params)


def test_a_bulk_edit_second_paged_by_id_while_its_items_are_modified_misses_none() -> None:
    """Read page after page by id, every departure hid the item at the next page boundary, for
    good: the walk had moved past that second (found by a review, 3 Dec)."""
    store = BulkEditedWhilePaged(300, 5, churn=0, same_second=950)
    original = set(store.modified)

    seen = collect(store, concurrency=1)

    assert len(store.touched) >= 10
    assert len(seen) == len(set(seen))
    assert original - store.touched <= set(seen)


class SlowStore(ChangingStore):
    """Takes a moment to answer (outside its lock), so that fetchers finish at different times."""

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> FakePage:
        page = super().get(endpoint, params)
        time.sleep(0.001)
        return page


def _uneven_store(items: int, seed: int) -> ChangingStore:
    """Most items in the last tenth of the window, as in a shop that grew: equal time slices
    are far from equal work (idle fetchers split the busy ones, whenever that happens)."""
    store = SlowStore(0, seed, churn=0)
    for i in range(1, items + 1):
        late = store.rng.random() < 0.8
        days = 270 + store.rng.randrange(30) if late else store.rng.randrange(270)
        store.modified[i] = START + timedelta(days=days, seconds=store.rng.randrange(86400))
    return store


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_slices_split_for_idle_fetchers_deliver_every_item_once_in_contiguous_slices(
    seed: int,
) -> None:
    store = _uneven_store(3_000, seed)
    pages = list(window_over(store, concurrency=4).pages())
    ids = [int(item["id"]) for page in pages for item in page.items]
    assert sorted(ids) == sorted(store.modified), "an item was missed or delivered twice"
    # Each slice's items lie within it (the first page's last second is its own too, though it
    # says it delivered only the seconds before); the final slices tile the window with no gap.
    ends: dict[datetime, datetime] = {}
    for n, page in enumerate(pages):
        for item in page.items if n else ():
            modified = datetime.fromisoformat(item["date_modified_gmt"]).replace(tzinfo=UTC)
            assert page.slice_start <= modified <= page.slice_end
        if page.last_of_slice:
            ends[page.slice_start] = page.slice_end
    at = START
    while at in ends:
        at = ends[at] + timedelta(seconds=1)
    assert at == START + timedelta(days=399, seconds=1)
    # Each slice costs at most one partial page beyond its share.
    assert store.requests <= -(-3_000 // 100) + len(ends)


def test_an_idle_fetcher_takes_the_later_half_of_the_slice_with_most_left() -> None:
    hour = timedelta(hours=1)
    slow = _SliceState(START, START + 10 * hour, START + hour, delivered=100, first=START)
    busy = _SliceState(START, START + 10 * hour, START + hour, delivered=1_000, first=START)
    board = _Board([slow, busy], per_page=100)
    stop = threading.Event()
    assert board.take(stop) is slow
    assert board.take(stop) is busy
    later = board.take(stop)
    assert later is not None
    assert later.lo == later.position == START + hour + 4.5 * hour
    assert later.hi == START + 10 * hour
    assert busy.hi == later.lo - timedelta(seconds=1)
    assert slow.hi == START + 10 * hour  # untouched


def test_a_slice_with_little_left_is_not_split() -> None:
    hour = timedelta(hours=1)
    state = _SliceState(START, START + 2 * hour, START + hour, delivered=100, first=START)
    board = _Board([state], per_page=100)
    stop = threading.Event()
    assert board.take(stop) is state
    state.finished = True  # its last page came
    assert board.take(stop) is None  # 100 more were expected: not worth a request of its own


def test_an_answer_in_flight_when_its_slice_was_split_keeps_only_what_is_left_of_it() -> None:
    state = _SliceState(lo=START, hi=START + timedelta(seconds=99), position=START)
    items = [
        {"id": i, "date_modified_gmt": wc_time(START + timedelta(seconds=i))} for i in range(150)
    ]
    state.position = START + timedelta(seconds=149)  # as the keyset walk left it
    state.asked_hi = START + timedelta(seconds=199)  # the slice's end when the request went
    page = _slice_page(state, items, done=False)
    assert [item["id"] for item in page.items] == list(range(100))
    assert page.last_of_slice
    assert page.delivered_through == page.slice_end == START + timedelta(seconds=99)
    # Dated after the end asked for: no slice would deliver them; this one does.
    state.asked_hi = START + timedelta(seconds=119)
    page = _slice_page(state, items, done=False)
    assert [item["id"] for item in page.items] == [*range(100), *range(120, 150)]


def test_the_cursor_prefix_stops_at_a_slice_not_yet_committed_and_never_loops() -> None:
    second = timedelta(seconds=1)

    def page(start: datetime, end: datetime, through: datetime, done: bool) -> WindowPage:
        return WindowPage(start, end, [], through, done)

    prefix = _SlicePrefix()
    # The first page was all at `lo` (a bulk edit): it covers nothing whole; the next slice
    # starts at `lo` again.
    prefix.record(page(START, START - second, START - second, True))
    assert prefix.safe_position() == START - second
    prefix.record(page(START, START + 99 * second, START + 40 * second, False))
    assert prefix.safe_position() == START + 40 * second
    # That slice was split at +50: it ends at +49; the later half [+50, +99] has not delivered.
    prefix.record(page(START, START + 49 * second, START + 49 * second, True))
    prefix.record(page(START + 100 * second, START + 200 * second, START + 200 * second, True))
    assert prefix.safe_position() == START + 49 * second
    prefix.record(page(START + 50 * second, START + 99 * second, START + 99 * second, True))
    assert prefix.safe_position() == START + 200 * second
