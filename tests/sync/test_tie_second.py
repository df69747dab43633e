"""A bulk-edit second paged by id (`ModifiedWindow._tie_pages`): every item that stays in the
second is delivered, whatever the store's page size and X-WP-Total, however many items leave the
second while it is paged; a store ignoring the page number is stopped; an honest store costs
the pages of the second and little more.

Two kinds of store: the window tests' `ChangingStore` (with `TieSecondStore`'s misbehaviours),
paged through the whole window, and `SecondById`, one second's items by id served straight to
`_fetch_tie_second` (every answer logged). Found by reviews, 4 Dec."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sync.paging import ListingStalled
from sync.window import ModifiedWindow, _SliceState, wc_time
from tests.sync.test_window import BulkEditedWhilePaged, FakePage, collect

SECOND = datetime(2025, 1, 11, tzinfo=UTC)


@dataclass
class _Page:
    items: list[dict[str, Any]]
    total: int | None


class SecondById:
    """`n` orders modified in one second, served by id. `cap`: the store's page size whatever
    `per_page` asks; `total`: the X-WP-Total it sends for the true count; `ignore_page`: every
    page is page 1; `after_each(store)`: runs after every by-id answer (edits)."""

    def __init__(
        self,
        n: int,
        *,
        cap: int | None = None,
        total: Callable[[int], int | None] = lambda t: t,
        ignore_page: bool = False,
        after_each: Callable[[SecondById], None] = lambda s: None,
        window_total: int = 1_000_000,
    ) -> None:
        self.ids = list(range(1, n + 1))
        self.original = set(self.ids)
        self.left: set[int] = set()
        self.cap, self.total, self.ignore_page = cap, total, ignore_page
        self.after_each, self.window_total = after_each, window_total
        self.log: list[tuple[int, int]] = []  # (page asked, items sent)

    def leave_lowest(self, count: int = 1) -> None:
        """The lowest ids still in the second are modified again: they leave it."""
        for _ in range(min(count, len(self.ids))):
            self.left.add(self.ids.pop(0))

    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> _Page:
        params = dict(params or {})
        if params.get("orderby") != "id":  # the window's first page: sets the ceiling
            return _Page([], self.window_total)
        size = (
            int(params["per_page"]) if self.cap is None else min(int(params["per_page"]), self.cap)
        )
        number = 1 if self.ignore_page else int(params["page"])
        chunk = self.ids[(number - 1) * size : number * size]
        items = [{"id": i, "date_modified_gmt": wc_time(SECOND)} for i in chunk]
        total = self.total(len(self.ids))
        self.log.append((int(params["page"]), len(items)))
        self.after_each(self)
        return _Page(items, total)


def page_the_second(store: SecondById) -> set[int]:
    """The ids `_fetch_tie_second` delivers for the second (per_page 100)."""
    window = ModifiedWindow(
        store, "orders", {}, lo=SECOND - timedelta(days=1), hi=SECOND + timedelta(days=1)
    )
    window._listing.get({"orderby": "modified"})  # the window's first request: its ceiling
    state = _SliceState(lo=SECOND, hi=SECOND + timedelta(days=1), position=SECOND)
    return {int(item["id"]) for item in window._fetch_tie_second(state)}


# -- 1. A full first page with X-WP-Total at or below it ends the second there -----------------


@pytest.mark.parametrize("total_factor", [0.1, 0.0], ids=["tenth", "zero"])
def test_a_total_at_or_below_a_full_first_page_does_not_end_the_second(
    total_factor: float,
) -> None:
    """950 orders in the second, X-WP-Total 95 (or 0) on a full first page of 100: `total <= size`
    returns after page 1 and the walk moves past the other 850 for good."""
    store = TieSecondStore(total_factor=total_factor, edits=False)

    seen = collect(store, concurrency=1)

    assert sorted(seen) == sorted(store.modified)


# -- 2. check_progress stops an honest store after the search / upward probe ------------------


def test_an_honest_store_edited_once_a_page_does_not_stall_after_the_search() -> None:
    """The suite's own model (one order of the second modified after each page by id), honest
    X-WP-Total, 18,501 orders: the edit after page 1 empties page 186, the search reads page 93
    early; ~100 pages later every order it delivered has moved one page forward, so page 92 is
    read for the first time full of delivered ids, and check_progress calls it an ignored page
    number."""
    store = BulkEditedWhilePaged(300, 5, churn=0, same_second=18_501)
    original = set(store.modified)

    seen = collect(store, concurrency=1)

    assert original - store.touched <= set(seen)


@pytest.mark.parametrize(("n", "factor"), [(11_000, 0.1), (12_500, 0.2)], ids=["tenth", "fifth"])
def test_an_understated_total_edited_once_a_page_does_not_stall_on_the_way_down(
    n: int, factor: float
) -> None:
    """Same cause in the upward probe: pages read going up are delivered ~2 x (pages read since)
    requests before the first-time read of the page below them."""
    store = SecondById(n, total=lambda t: int(t * factor), after_each=lambda s: s.leave_lowest())

    seen = page_the_second(store)

    assert store.original - store.left <= seen


# -- 3. A capped store ignoring the page number is not caught by the guard -------------------


def test_a_capped_store_ignoring_the_page_number_is_stopped_by_the_no_progress_guard() -> None:
    """Pages of 50 (cap), every page is page 1: check_progress only judges pages of per_page
    (100), so the upward probe reads page 11, 12, ... (each 'full' at the cap) until the
    listing's ceiling, instead of stopping at page 11 (page 1's ids again)."""
    store = SecondById(550, cap=50, ignore_page=True, window_total=2_000)

    with pytest.raises(ListingStalled, match="ignored the page number"):
        page_the_second(store)
    assert len(store.log) <= 3


# -- 4. A capped store without a total ends the second on its first page ---------------------


def test_a_capped_store_without_a_total_reads_past_its_first_page() -> None:
    """The second had > 400 ids (that is why it is paged by id), the first page by id brought
    50 (the cap) and no X-WP-Total: `total is None and size < per_page` returns."""
    store = TieSecondStore(cap=50, total_factor=None, edits=False)

    seen = collect(store, concurrency=1)

    assert sorted(seen) == sorted(store.modified)


# -- 5. Cost on an honest store ----------------------------------------------------------------


def test_an_honest_store_whose_last_page_emptied_costs_no_search() -> None:
    """10,001 orders, honest total, one edit after page 1: page 101 is empty, and the search
    from page 51 costs 6 requests more than reading 100 down to 2 and page 1 again (102)."""
    store = SecondById(10_001, after_each=lambda s: s.leave_lowest())

    seen = page_the_second(store)

    assert store.original - store.left <= seen
    assert len(store.log) <= 102, store.log[:12]


class TieSecondStore(BulkEditedWhilePaged):
    """The bulk-edit second paged by id, against a store that misbehaves there in one of three
    ways: it caps its pages (`cap` items, whatever `per_page` asks), or its X-WP-Total for that
    second is wrong (`total_factor`: a third of the truth, or ten times it). `edits` says whether
    an item of the second is modified after each of those pages, as in `BulkEditedWhilePaged`."""

    def __init__(
        self, *, cap: int | None = None, total_factor: float | None = 1.0, edits: bool = True
    ) -> None:
        super().__init__(300, 5, churn=0, same_second=950)
        self.cap, self.total_factor, self.edits = cap, total_factor, edits
        self.by_id_requests = 0

    def _serve(self, params: dict[str, Any]) -> FakePage:
        if self.cap is not None:
            params = {**params, "per_page": min(int(params["per_page"]), self.cap)}
        page = super()._serve(params)
        if params["orderby"] == "id":
            self.by_id_requests += 1
            page.total = (
                None if self.total_factor is None else int(page.total * self.total_factor)  # type: ignore[assignment]
            )
        return page

    def _mutate(self) -> None:
        if self.edits:
            super()._mutate()


def test_a_bulk_edit_second_on_a_store_capping_its_pages_is_read_whole() -> None:
    """The second's first page by id came short (the store's cap, 50): it was taken as the
    whole second, and the walk moved past the other 500 items of it for good."""
    store = TieSecondStore(cap=50)
    original = set(store.modified)

    seen = collect(store, concurrency=1)

    assert len(seen) == len(set(seen))
    assert original - store.touched <= set(seen)


@pytest.mark.parametrize("total_factor", [1 / 3, None], ids=["understated", "unannounced"])
def test_a_bulk_edit_second_whose_total_is_understated_misses_none_while_edited(
    total_factor: float | None,
) -> None:
    """Past the pages X-WP-Total announced, the rest was read in ascending pages: an item edited
    meanwhile moved every later one forward, over a page boundary already passed. So it was
    without any X-WP-Total."""
    store = TieSecondStore(total_factor=total_factor)
    original = set(store.modified)

    seen = collect(store, concurrency=1)

    assert len(seen) == len(set(seen))
    assert original - store.touched <= set(seen)


def test_a_bulk_edit_second_whose_total_is_overstated_searches_for_its_last_page() -> None:
    """X-WP-Total ten times the truth (9,500 of 950): the pages were read from the 95th down, 85
    empty ones first, and the listing's ceiling stopped the run. The real last page is searched
    for instead."""
    store = TieSecondStore(total_factor=10, edits=False)

    seen = collect(store, concurrency=1)

    assert sorted(seen) == sorted(store.modified)
    # The second's 10 pages and page 1 again, the 95th announced, and a search down over 95
    # pages: 1, 2, 4... down, then halving (7 requests each at most).
    assert store.by_id_requests <= 10 + 1 + 1 + 2 * 7


# -- Found by a second review, 4 Dec -----------------------------------------------------------


def test_a_capped_first_page_with_a_total_at_or_below_it_does_not_end_the_second() -> None:
    """950 orders, pages capped at 50, X-WP-Total 0 on the by-id query: the short first page with
    a total that agreed ended the second, and 900 orders were passed over for good."""
    store = SecondById(950, cap=50, total=lambda t: 0)

    seen = page_the_second(store)

    assert store.original <= seen, f"{len(store.original - seen)} missed; log {store.log}"


def test_a_capped_store_whose_total_is_a_twentieth_misses_none_through_the_window() -> None:
    """Through the whole window: pages of 50, X-WP-Total 47 for the second's 950."""
    store = TieSecondStore(cap=50, total_factor=0.05, edits=False)

    seen = collect(store, concurrency=1)

    assert sorted(set(seen)) == sorted(store.modified)


def test_a_by_id_total_counting_the_whole_store_does_not_exhaust_the_ceiling() -> None:
    """500 orders in the second, the window's X-WP-Total honest (600: a ceiling of 28 requests),
    the by-id query's 1,000,000: the search down from page 10,000 stopped the listing at its
    ceiling. The second's last page is now sought within the window's total."""
    store = SecondById(500, total=lambda t: 1_000_000, window_total=600)

    seen = page_the_second(store)

    assert store.original <= seen
    assert len(store.log) <= 5 + 1 + 2 * 3 + 1  # 5 pages, page 1 again, a search over 6 pages
