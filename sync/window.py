"""Keyset paging over a `modified` window: every untouched item is seen, whatever changes meanwhile.

Page-number paging is unsafe for a sync: when an item leaves the window mid-sync (it was modified,
trashed or deleted), every later item shifts one place forward and the one at the page boundary is
never seen. Keyset paging does not depend on positions. Each request asks for items modified at or
after the last second seen, excluding the ids already seen at exactly that second (WooCommerce breaks
`modified` ties by id), so no item is skipped and none is fetched twice.

The window is fixed at both ends (`lo`..`hi`, whole seconds, inclusive): an item modified during the
sync gets a date after `hi` and simply belongs to the next run. Once the first page shows there is
more than one page, the rest of the window is cut into time slices paged concurrently, each by keyset.
A shop's orders are not spread evenly over time, so slices end at different times: a fetcher left
without a slice splits the running slice with the most left (estimated from what it has delivered
per second so far) at the middle of what is left, and takes the later half; the slice it split ends
at the cut, and an answer already on its way with items beyond the cut ends it there (those items
are the new slice's). Every page says which slice it is of (its first second) and where that slice
ends now, so the consumer can tell which seconds are fully delivered (`WindowPage`).

A full page that brings nothing after the keyset position (a store that ignores `exclude`, or answers
with a page it already sent) would be asked for again forever: the walk pages that second by id
instead, as it does for a bulk edit, and stops with `ListingStalled` if that makes no progress
either. Every request of the window counts against one `sync.paging.Listing` ceiling.

The slices are fetched by daemon threads, stopped and joined (with a deadline) when the pages are
closed, so a failed sync never waits for them to exit.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.ahead import start_thread
from sync.fields import MAX_INT
from sync.paging import Listing, ListingStalled, PageSource

ONE_SECOND = timedelta(seconds=1)
#: Above this many items modified in one second, excluding them by id would make the URL too long.
MAX_TIE_IDS = 400

#: How long closing the pages waits for fetching threads (daemonic: the process never waits).
JOIN_SECONDS = 2.0
#: A running slice is split for an idle fetcher only when it seems to have this many pages left
#: (each split costs about one request: two partial last pages instead of one).
SPLIT_MIN_PAGES = 3
#: An idle fetcher looks again this often (besides whenever a page arrives), to see `stop`.
WAIT_SECONDS = 0.1


@dataclass(frozen=True)
class WindowPage:
    """One page of items, in (modified, id) order within its slice.

    Slices are contiguous: the first page is a slice of its own from the window's `lo`, and each
    slice starts the second after the one before it ends. A slice's end may move earlier while
    it runs (it was split); its pages are delivered in order, the last with `last_of_slice`.
    """

    slice_start: datetime
    #: Where the slice ends as this page leaves it (the final page: where it ended).
    slice_end: datetime
    items: list[dict[str, Any]]
    #: Everything in this slice modified at or before this second has now been delivered.
    delivered_through: datetime | None
    last_of_slice: bool


@dataclass
class _SliceState:
    lo: datetime
    hi: datetime
    position: datetime
    tie_ids: set[int] = field(default_factory=set)
    #: Items without a usable id or date already delivered at `position`: the next request
    #: skips them with `offset` (nothing else can move past a page made only of them).
    skip: int = 0
    delivered: int = 0  # items delivered so far (to estimate what is left)
    first: datetime | None = None  # the first dated item's second
    finished: bool = False
    #: Where the slice ended when its latest request was made (a split may end it earlier since).
    asked_hi: datetime | None = None


class _Board:
    """The slices of a window not yet finished, handed to the fetchers; splits the busiest slice
    for a fetcher left without one. Its lock also orders a slice's answers against its splits."""

    def __init__(self, slices: list[_SliceState], per_page: int) -> None:
        self.lock = threading.Condition()
        self._todo = list(slices)
        self._running: list[_SliceState] = []
        self._per_page = per_page

    def take(self, stop: threading.Event) -> _SliceState | None:
        """The next slice to page: a waiting one, else the later half of the running slice with
        the most left (when that is worth a request of its own; a fetcher waits for the running
        slices' next pages to tell), else None once every slice is finished or `stop` is set."""
        with self.lock:
            while not stop.is_set():
                self._running = [state for state in self._running if not state.finished]
                state = self._todo.pop(0) if self._todo else self._split()
                if state is not None:
                    self._running.append(state)
                    return state
                if not self._running:
                    return None
                self.lock.wait(timeout=WAIT_SECONDS)  # woken by the next page of any slice
            return None

    def delivered(self) -> None:
        """A slice delivered a page (under `lock`): idle fetchers look again."""
        self.lock.notify_all()

    def _split(self) -> _SliceState | None:
        best: tuple[float, _SliceState] | None = None
        for state in self._running:
            left = _estimated_left(state)
            if left >= SPLIT_MIN_PAGES * self._per_page and (best is None or left > best[0]):
                best = (left, state)
        if best is None:
            return None
        victim = best[1]
        cut = (victim.position + (victim.hi - victim.position) / 2).replace(microsecond=0)
        if cut <= victim.position or cut > victim.hi:
            return None
        later = _SliceState(lo=cut, hi=victim.hi, position=cut)
        victim.hi = cut - ONE_SECOND
        return later


def _estimated_left(state: _SliceState) -> float:
    """Items a running slice still has to deliver, at the rate per second of what it delivered
    so far (from its first item on: a slice may start with an empty stretch); 0 until it has
    delivered something, or with less than two seconds left."""
    if state.finished or state.first is None or state.hi - state.position < ONE_SECOND * 2:
        return 0.0
    walked = max(1.0, (state.position - state.first).total_seconds())
    return state.delivered / walked * (state.hi - state.position).total_seconds()


def wc_time(moment: datetime) -> str:
    """Naive UTC ISO seconds, as WooCommerce expects with `dates_are_gmt=true`."""
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat()


def keyset_key(item: Any) -> tuple[datetime | None, int | None]:
    """An item's place in a modified walk: its modified second and id, each None if unusable.

    A broken item is still delivered (the sync quarantines it); the walk moves past it using its
    neighbours' positions, its id, or a skip (`offset`) recorded against the position.
    """
    if type(item) is not dict and not isinstance(item, Mapping):  # a dict: no ABC check
        return None, None
    item_id: Any = item.get("id")
    usable = type(item_id) is int or (isinstance(item_id, int) and not isinstance(item_id, bool))
    if not usable or not 1 <= item_id <= MAX_INT:  # `type` first: the JSON case, no isinstance
        item_id = None
    raw = item.get("date_modified_gmt")
    try:
        parsed = datetime.fromisoformat(raw if type(raw) is str else str(raw))
    except ValueError:
        return None, item_id
    # `parsed.replace(tzinfo=UTC, microsecond=0)`, built directly (`replace` costs about three
    # times as much; an item's key is read a few times on its way).
    second = datetime(
        parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute, parsed.second, 0, UTC
    )
    return second, item_id


class ModifiedWindow:
    """Pages `endpoint` for items with lo <= date_modified_gmt <= hi."""

    def __init__(
        self,
        client: PageSource,
        endpoint: str,
        params: Mapping[str, Any],
        *,
        lo: datetime,
        hi: datetime,
        per_page: int = 100,
        concurrency: int = 3,
        on_total: Callable[[int], None] | None = None,
    ) -> None:
        self._listing = Listing(client, endpoint, per_page=per_page)
        self._params = dict(params)
        self._lo = lo
        self._hi = hi
        self._per_page = per_page
        self._concurrency = max(1, concurrency)
        self._on_total = on_total

    def pages(self) -> Generator[WindowPage, None, None]:
        """Yield pages as they arrive. Slice 0 comes first; later slices may interleave."""
        first = _SliceState(lo=self._lo, hi=self._hi, position=self._lo)
        items, total, done = self._next(first)
        if self._on_total is not None and total is not None:
            self._on_total(total)
        if done:
            yield WindowPage(self._lo, self._hi, items, self._hi, last_of_slice=True)
            return
        remaining = max(0, (total or 0) - len(items))
        slices = self._split(first, remaining)
        through = first.position - ONE_SECOND
        yield WindowPage(self._lo, through, items, through, last_of_slice=True)
        yield from self._page_concurrently(slices)

    # -- slicing -------------------------------------------------------------------------------

    def _split(self, first: _SliceState, remaining: int) -> list[_SliceState]:
        """Cut what is left of the window into time slices; the first keeps its keyset position."""
        pages_left = -(-remaining // self._per_page)
        count = max(1, min(self._concurrency, pages_left))
        span = self._hi - first.position
        step = span / count
        if count == 1 or step < ONE_SECOND * 2:
            first.lo = first.position  # the first page was a slice of its own
            return [first]
        bounds = [first.position + step * i for i in range(1, count)]
        bounds = [b.replace(microsecond=0) for b in bounds]
        slices = [
            _SliceState(
                first.position, bounds[0] - ONE_SECOND, first.position, first.tie_ids, first.skip
            )
        ]
        for start, end in zip(bounds, [*bounds[1:], self._hi + ONE_SECOND], strict=True):
            slices.append(_SliceState(start, end - ONE_SECOND, start))
        return slices

    def _page_concurrently(self, slices: list[_SliceState]) -> Iterator[WindowPage]:
        # A bounded queue keeps memory flat: fetchers wait while the consumer writes to the ledger.
        out: queue.Queue[WindowPage | BaseException | None] = queue.Queue(maxsize=self._concurrency)
        board = _Board(slices, self._per_page)
        stop = threading.Event()
        workers = [  # in the context of the thread that pages the window (its requests' rank)
            start_thread(self._work, board, out, stop, name=f"pages-{n}")
            for n in range(min(self._concurrency, len(slices)))
        ]
        try:
            yield from self._drain(out, len(workers))
        finally:
            stop.set()
            _empty(out)
            deadline = time.monotonic() + JOIN_SECONDS
            for worker in workers:
                worker.join(timeout=max(0.0, deadline - time.monotonic()))

    def _work(
        self,
        board: _Board,
        out: queue.Queue[WindowPage | BaseException | None],
        stop: threading.Event,
    ) -> None:
        """Page slices until none is left to take or split; then say so (None) to the consumer."""
        try:
            while not stop.is_set():
                state = board.take(stop)
                if state is None:
                    break
                self._run_slice(board, state, out, stop)
            _put(out, None, stop)
        except BaseException as error:  # noqa: BLE001 - handed to the consumer thread, re-raised there
            _put(out, error, stop)
            stop.set()  # the window has failed: no other slice asks the store for more

    @staticmethod
    def _drain(
        out: queue.Queue[WindowPage | BaseException | None], producers: int
    ) -> Iterator[WindowPage]:
        """The pages, until every producer has said it is done; re-raises a producer's error."""
        finished = 0
        while finished < producers:
            got = out.get()
            if got is None:
                finished += 1
            elif isinstance(got, BaseException):
                raise got
            else:
                yield got

    def _run_slice(
        self,
        board: _Board,
        state: _SliceState,
        out: queue.Queue[WindowPage | BaseException | None],
        stop: threading.Event,
    ) -> None:
        while not stop.is_set():
            items, _, done = self._next(state)
            with board.lock:  # against a split of this slice meanwhile
                page = _slice_page(state, items, done)
                board.delivered()
            _put(out, page, stop)
            if page.last_of_slice:
                return

    # -- keyset ---------------------------------------------------------------------------------

    def _next(self, state: _SliceState) -> tuple[list[dict[str, Any]], int | None, bool]:
        """The next page of a slice, the window total if the store said it, and whether it is done."""
        if len(state.tie_ids) > MAX_TIE_IDS:
            state.asked_hi = state.hi
            items = self._fetch_tie_second(state)
            return items, None, state.position > state.hi
        position = state.position
        state.asked_hi = hi = state.hi  # read once: a split may move it while the request goes
        params = self._keyset_params(state, position, hi)
        items, total = self._listing.page(params, label=f"GET {self._listing.endpoint}")
        short = len(items) < self._listing.per_page
        if short and not _held_back(items, total, params):
            return items, total, True
        before = (state.position, set(state.tie_ids), state.skip)
        self._advance(state, items, (position, hi))
        if (state.position, state.tie_ids, state.skip) == before:
            if short:  # nothing new, whatever the total says: the end
                return items, total, True
            # Nothing after the position that was not delivered already: never ask again.
            items = self._unstall(state, params, len(items))
            return items, total, state.position > state.hi
        return items, total, False

    def _keyset_params(
        self, state: _SliceState, position: datetime, hi: datetime
    ) -> dict[str, Any]:
        params = {
            **self._params,
            "modified_after": wc_time(position - ONE_SECOND),
            "modified_before": wc_time(hi + ONE_SECOND),
            "dates_are_gmt": "true",
            "orderby": "modified",
            "order": "asc",
            "per_page": self._listing.per_page,
        }
        if state.tie_ids:
            params["exclude"] = ",".join(str(i) for i in sorted(state.tie_ids))
        if state.skip:
            params["offset"] = state.skip
        return params

    def _unstall(
        self, state: _SliceState, params: dict[str, Any], count: int
    ) -> list[dict[str, Any]]:
        """A full page with nothing after the position: page that second by id, or stop."""
        what = (
            f"a full page of {count} brought nothing after {wc_time(state.position)} that was not "
            "already delivered (the store ignored `exclude` or repeated an earlier page)"
        )
        try:
            return self._fetch_tie_second(state)
        except ListingStalled as inner:
            raise self._listing.stalled(
                params, f"{what}; paging that second by id stalled too: {inner.detail}"
            ) from None

    def _fetch_tie_second(self, state: _SliceState) -> list[dict[str, Any]]:
        """Hundreds of items modified in one second (a bulk edit): page that second by id.

        An item of that second modified while it is paged leaves it, and every item after it
        moves one place forward: read in ascending pages, the one at the next page boundary is
        never seen. So the second's pages are read from its last to the second, then the first
        again (`_tie_pages`): an item moving forward moves into a page not read yet (or read
        again), never out of the ones still to read. An item cannot join the second, which has
        passed.
        """
        second = state.position
        params = {
            **self._params,
            "modified_after": wc_time(second - ONE_SECOND),
            "modified_before": wc_time(second + ONE_SECOND),
            "dates_are_gmt": "true",
            "orderby": "id",
            "order": "asc",
            "per_page": self._listing.per_page,
        }
        collected: dict[int, dict[str, Any]] = {}
        unusable: dict[str, Any] = {}  # no id: delivered as they are, the sync quarantines them
        for items in self._tie_pages(params):
            for item in items:
                _, item_id = keyset_key(item)
                if item_id is None:
                    unusable.setdefault(json.dumps(item, sort_keys=True, default=str), item)
                else:
                    collected[item_id] = item
        # The whole second is delivered at once; the next request starts after it.
        fresh = [item for i, item in sorted(collected.items()) if i not in state.tie_ids]
        state.position = second + ONE_SECOND
        state.tie_ids = set()
        state.skip = 0
        return fresh + list(unusable.values())

    def _tie_pages(self, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The pages of one second by id: the first, then the last down to the second, then the
        first again. Any page may be read more than once; every item that stays in the second is
        on one of them.

        The first page gives the store's page size (`per_page`, or less where a plugin caps its
        pages) and X-WP-Total, so where the last page should be (within the window's total). The
        last page is read to find out:
        - short but not empty: it is the last;
        - full (the total understated the second, or there was none): the pages after it are
          read on to a short one, which is the last; the pages before it are read again on the
          way down, which also catches what moved forward over the pages read going up;
        - empty (the total overstated it, or items left meanwhile): the pages below it are tried
          one, then two, four... down, and the last holding items is searched for between, so
          that an item leaving costs one request and a lie a few, not one per page it announced.
        The listing's ceiling bounds all of it; `_check_forward` stops a store that ignores the
        page number."""
        label = f"GET {self._listing.endpoint}"
        first_seen: dict[int, int] = {}  # an item's id: the page it was first delivered from
        latest = 0  # the page read last

        def read(number: int) -> tuple[list[dict[str, Any]], int | None]:
            nonlocal latest
            query = {**params, "page": number}
            items, total = self._listing.page(query, label=label)
            self._check_forward(query, items, first_seen)
            latest = number
            return items, total

        first, total = read(1)
        yield first
        size = len(first)
        if size == 0:
            return
        # Where the last page should be; never past the window's own total, which counts this
        # second's items (a total counting the whole store would cost a search from afar). A
        # second paged by id holds hundreds of items: a short first page, whatever its total
        # says, is a store capping its pages, and page 2 is read all the same.
        last = max(2, -(-total // size)) if total is not None else 2
        if (window := self._listing.announced) is not None:
            last = max(2, min(last, -(-window // size)))
        items, _ = read(last)
        yield items
        if len(items) == size:  # more pages than announced: on to a short one
            while len(items) == size:
                last += 1
                items, _ = read(last)
                yield items
        elif not items:  # fewer: search down for the last page holding items
            holding, empty, step, ends = 1, last, 1, False  # `ends`: `holding` is short
            while empty - step > 1:  # one page down, then two, four...
                items, _ = read(empty - step)
                yield items
                if items:
                    holding, ends = empty - step, len(items) < size
                    break
                empty, step = empty - step, step * 2
            while not ends and empty - holding > 1:  # then halving what lies between
                middle = (holding + empty) // 2
                items, _ = read(middle)
                yield items
                if items:
                    holding, ends = middle, len(items) < size
                else:
                    empty = middle
            last = holding
            if latest != last:  # read it again, now: what was there may have moved forward
                yield read(last)[0]
        for number in range(last - 1, 0, -1):
            yield read(number)[0]

    def _check_forward(
        self, query: dict[str, Any], items: list[dict[str, Any]], first_seen: dict[int, int]
    ) -> None:
        """Stops the listing when a page holds an item an earlier page number delivered: while a
        second is paged by id its items only move forward (one leaving moves those after it), so
        the store ignored the page number. Whatever order the pages are read in, and however many
        items leave meanwhile, an honest store never does it."""
        number = int(query["page"])
        for item in items:
            _, item_id = keyset_key(item)
            if item_id is None:
                continue
            seen_on = first_seen.setdefault(item_id, number)
            if seen_on < number:
                raise self._listing.stalled(
                    query,
                    f"page {number} brought item {item_id}, which page {seen_on} had already "
                    "delivered (the store ignored the page number)",
                )

    @staticmethod
    def _advance(
        state: _SliceState, items: list[dict[str, Any]], asked: tuple[datetime, datetime]
    ) -> None:
        """Move the keyset past a full page: to its last dated second, excluding what was seen.

        Items without a usable date sit between their neighbours, so the neighbours place the
        walk; their ids are excluded with the ties (delivered already). A page with nothing to
        exclude (items without an id) are skipped over with `offset` while the walk stays there.
        So do items whose date cannot be the one the store sorted and filtered them by: outside
        the seconds `asked` for, or later than an item after them on the page (an order modified
        while the page was being written, or a date made up on the way). Placed at such a date, a
        year ahead say, the walk would pass over every item between (`_misplaced`).
        """
        keys = _misplaced([keyset_key(item) for item in items], asked)
        dated = [(modified, i) for modified, i in keys if modified is not None and i is not None]
        undated = {i for modified, i in keys if modified is None and i is not None}
        last = max((modified for modified, _ in dated), default=None)
        if last is not None and last > state.position:
            state.position = last
            state.tie_ids = {i for modified, i in dated if modified == last} | undated
            # Items without an id after the first one placed at that second sit at it (or after
            # it, at the end of the page): the next listing starts with them, and maybe with more
            # of them from before, so skipping this many never skips a well-formed item.
            first = next(n for n, key in enumerate(keys) if key[0] == last and key[1] is not None)
            state.skip = sum(1 for _, i in keys[first + 1 :] if i is None)
            return
        # Still at the same second: excluded ids leave the listing, items without an id stay at
        # its front (after those skipped before) and are skipped from now on.
        state.tie_ids |= {i for _, i in dated} | undated
        state.skip += sum(1 for _, i in keys if i is None)


def _held_back(items: list[dict[str, Any]], total: int | None, params: Mapping[str, Any]) -> bool:
    """Whether a short keyset page is short because the store held items back (a plugin or proxy
    capping its pages below `per_page`), not because the slice ends: this query's X-WP-Total,
    which counts the items `offset` skips, says more match than were skipped and sent. The walk
    then goes on from the page, as after a full one; a total that counts items the store never
    sends ends it at the first empty page."""
    if not items or total is None:
        return False
    return total - int(params.get("offset", 0)) > len(items)


def _slice_page(state: _SliceState, items: list[dict[str, Any]], done: bool) -> WindowPage:
    """The page a slice's answer makes, under the board's lock. If the slice was split while the
    request was on its way, items dated between its new end and the end it asked for belong to the
    later half: they are left out, and the slice is done (the walk, placed by them, is past its
    end). Every other item stays, those dated after the end asked for too: the store filtered
    them by another date (modified since the page was selected, or a date made up on the way),
    and no slice would deliver them; the sync decides the one as it is now, and quarantines the
    other (`sync.order_points`). Items without a usable date stay too (delivered twice at worst:
    quarantining is idempotent)."""
    asked_hi = state.asked_hi or state.hi
    kept = [item for item in items if not _later_half(item, state.hi, asked_hi)]
    done = done or state.position > state.hi
    state.delivered += len(kept)
    if state.first is None:
        state.first = min((m for m, _ in map(keyset_key, kept) if m is not None), default=None)
    state.finished = done
    through = state.hi if done else state.position - ONE_SECOND
    return WindowPage(state.lo, state.hi, kept, through, last_of_slice=done)


def _misplaced(
    keys: list[tuple[datetime | None, int | None]], asked: tuple[datetime, datetime]
) -> list[tuple[datetime | None, int | None]]:
    """The page's keys with the date left out (None) where it cannot be the one the store sorted
    and filtered by: outside the seconds asked for (both ends included), or later than an item's
    after it (the page is in date order). A date left out only leaves its item out of placing the
    walk (a page ordered by local time around a DST change shows honest dates out of order)."""
    checked: list[tuple[datetime | None, int | None]] = []
    lowest_after: datetime | None = None
    for modified, item_id in reversed(keys):
        if (modified is not None and not asked[0] <= modified <= asked[1]) or (
            modified is not None and lowest_after is not None and modified > lowest_after
        ):
            modified = None
        elif modified is not None:
            lowest_after = modified
        checked.append((modified, item_id))
    checked.reverse()
    return checked


def _later_half(item: Any, end: datetime, asked_end: datetime) -> bool:
    modified, _ = keyset_key(item)
    return modified is not None and end < modified <= asked_end


def _put(
    out: queue.Queue[WindowPage | BaseException | None],
    value: WindowPage | BaseException | None,
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        try:
            out.put(value, timeout=0.1)
            return
        except queue.Full:
            continue


def _empty(out: queue.Queue[Any]) -> None:
    while True:
        try:
            out.get_nowait()
        except queue.Empty:
            return
