"""Requests wait for a slot of `[store] concurrency` by rank: what the ledger takes first is asked
for first, and the rank set where a listing starts holds in every thread it starts."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

from sync.ahead import Prefetched, in_order
from sync.client import _RANK, _Slots, ranked
from tests.sync.test_window import _uneven_store, window_over

WAIT = 30


def _wait_until(condition: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.005)


def _queued(slots: _Slots, count: int) -> bool:
    return len(slots._waiting) == count


def test_a_freed_slot_goes_to_the_lowest_rank_waiting_then_first_come_first_served() -> None:
    slots = _Slots(1)
    served: list[str] = []
    release = threading.Event()

    def holder() -> None:
        with slots.held():
            release.wait(WAIT)

    def request(name: str, rank: int) -> None:
        with ranked(rank), slots.held():
            served.append(name)

    first = threading.Thread(target=holder)
    first.start()
    _wait_until(lambda: slots._free == 0)
    waiting = []
    for name, rank in (("trash", 3), ("orders-a", 2), ("customers", 0), ("orders-b", 2)):
        thread = threading.Thread(target=request, args=(name, rank))
        thread.start()
        waiting.append(thread)
        _wait_until(partial(_queued, slots, len(waiting)))  # queued in this order
    release.set()
    for thread in [first, *waiting]:
        thread.join(WAIT)
    assert served == ["customers", "orders-a", "orders-b", "trash"]
    assert slots._free == 1
    assert not slots._waiting


def test_never_more_in_flight_than_the_slots_and_a_failed_wait_leaves_no_trace() -> None:
    slots = _Slots(2)
    in_flight, most = 0, 0
    lock = threading.Lock()

    def request(rank: int) -> None:
        nonlocal in_flight, most
        with ranked(rank), slots.held():
            with lock:
                in_flight += 1
                most = max(most, in_flight)
            time.sleep(0.002)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=request, args=(n % 3,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert most == 2
    assert slots._free == 2
    assert not slots._waiting


def test_the_rank_set_where_a_listing_starts_holds_in_every_thread_it_starts() -> None:
    seen: set[int] = set()
    lock = threading.Lock()

    def note() -> int:
        with lock:
            seen.add(_RANK.get())
        return 1

    def pages() -> Iterator[int]:
        note()
        yield from in_order([note, note, note], width=3)  # threads started by the listing's own

    with ranked(2):
        listing = Prefetched(pages, depth=4).start()
    assert [*listing] == [1, 1, 1]
    assert seen == {2}
    assert _RANK.get() == 0  # the block's end gives the default back

    class RankNoting:  # a store whose every page notes the rank of the thread that asked
        def __init__(self) -> None:
            self.inner = _uneven_store(1_000, 3)

        def get(self, endpoint: str, params: Any = None) -> Any:
            note()
            return self.inner.get(endpoint, params)

    seen.clear()
    window = window_over(RankNoting(), concurrency=4)
    with ranked(3):
        listing = Prefetched(window.pages, depth=2).start()
    assert sum(len(page.items) for page in listing) == 1_000
    assert seen == {3}, "a time slice's fetcher lost the rank of the listing"
