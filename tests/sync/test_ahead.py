"""Requests sent ahead, answers taken in order (sync/ahead.py): concurrency without reordering."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sync.ahead import Prefetched, in_order


def test_in_order_runs_width_calls_at_once_and_answers_in_order() -> None:
    # Each of the first three calls waits for the other two: they only pass if run together.
    together = threading.Barrier(3, timeout=30)

    def call(n: int) -> int:
        if n < 3:
            together.wait()
        return n * n

    assert list(in_order((lambda n=n: call(n) for n in range(7)), width=3)) == [
        n * n for n in range(7)
    ]


def test_in_order_raises_a_calls_error_at_its_place() -> None:
    def fail() -> int:
        raise ValueError("third")

    answers = in_order([lambda: 1, lambda: 2, fail, lambda: 4], width=2)
    assert next(answers) == 1
    assert next(answers) == 2
    with pytest.raises(ValueError, match="third"):
        next(answers)


def test_in_order_draws_no_more_than_width_calls_ahead_of_the_caller() -> None:
    drawn: list[int] = []

    def calls() -> Iterator[object]:
        for n in range(100):
            drawn.append(n)
            yield lambda n=n: n

    answers = in_order(calls(), width=4)
    assert next(answers) == 0
    answers.close()
    assert len(drawn) == 4


def test_prefetched_pages_come_in_order_while_the_thread_reads_ahead_boundedly() -> None:
    produced: list[int] = []

    def pages() -> Iterator[int]:
        for n in range(10):
            produced.append(n)
            yield n

    with Prefetched(pages, depth=2) as listing:
        got = iter(listing)
        assert next(got) == 0
        # The thread reads ahead, but never more than the queue's depth beyond the caller.
        assert len(produced) <= 1 + 2 + 1
        assert [*got] == list(range(1, 10))


def test_prefetched_raises_the_listings_error_at_its_place_and_closes_its_generator() -> None:
    closed = threading.Event()

    def pages() -> Iterator[int]:
        try:
            yield 1
            raise RuntimeError("stalled")
        finally:
            closed.set()

    listing = Prefetched(pages, depth=1).start()
    got = iter(listing)
    assert next(got) == 1
    with pytest.raises(RuntimeError, match="stalled"):
        next(got)
    listing.close()
    assert closed.wait(timeout=10)


def test_closing_a_prefetched_listing_early_stops_its_thread() -> None:
    closed = threading.Event()

    def pages() -> Iterator[int]:
        try:
            n = 0
            while True:  # an endless listing: only closing stops it
                yield n
                n += 1
        finally:
            closed.set()

    listing = Prefetched(pages, depth=1).start()
    assert next(iter(listing)) == 0
    listing.close()
    assert closed.wait(timeout=10)


def _fetched_all(listing: Prefetched[object]) -> None:
    """Wait until the listing's thread has handed over every page (and its end) to the queue."""
    assert listing._thread is not None
    listing._thread.join(timeout=30)
    assert not listing._thread.is_alive()


def test_prefetched_groups_never_wait_for_a_page_that_is_not_fetched_yet() -> None:
    go = threading.Event()

    def pages() -> Iterator[int]:
        yield 1
        go.wait(timeout=30)  # the store is slow: the next pages come only once the test says
        yield from (2, 3)

    with Prefetched(pages, depth=8) as listing:
        groups = listing.groups(lambda page: 1, bound=10)
        assert next(groups) == [1]  # returned while page 2 is still on its way: no wait
        go.set()
        _fetched_all(listing)
        assert next(groups) == [2, 3]  # both ready: one group
        assert [*groups] == []


def test_prefetched_groups_take_ready_pages_up_to_the_bound() -> None:
    with Prefetched(lambda: iter([40, 40, 40, 10, 50, 5]), depth=8) as listing:
        _fetched_all(listing)
        # a group closes as soon as it reaches the bound (by size), and never empties the rest
        assert [*listing.groups(lambda page: page, bound=100)] == [[40, 40, 40], [10, 50, 5]]


def test_prefetched_groups_raise_the_listings_error_after_the_pages_before_it() -> None:
    def pages() -> Iterator[int]:
        yield from (1, 2)
        raise ValueError("third page")

    with Prefetched(pages, depth=8) as listing:
        _fetched_all(listing)
        groups = listing.groups(lambda page: 1, bound=10)
        assert next(groups) == [1, 2]
        with pytest.raises(ValueError, match="third page"):
            next(groups)


def test_a_listing_after_another_fetches_its_first_page_then_waits_for_the_others_last() -> None:
    release = threading.Event()
    first_fetched = threading.Event()
    asked: list[int] = []

    def first() -> Iterator[int]:
        yield 1
        release.wait(timeout=30)  # its last page is still on its way
        yield 2

    def second() -> Iterator[int]:
        for n in (10, 11, 12):
            asked.append(n)
            first_fetched.set()
            yield n

    with Prefetched(first, depth=8) as one, Prefetched(second, depth=8, after=one) as two:
        assert next(iter(one)) == 1
        assert first_fetched.wait(timeout=30)  # its first page comes at once ...
        assert not two.fetched.wait(timeout=0.3)  # ... the rest waits: it holds that one page
        assert asked == [10]
        release.set()
        _fetched_all(one)
        _fetched_all(two)
        assert asked == [10, 11, 12]
        assert [*two] == [10, 11, 12]


def test_a_listing_told_to_go_ahead_fetches_every_page_without_waiting_for_its_turn() -> None:
    never = threading.Event()

    def first() -> Iterator[int]:
        yield 1
        never.wait(timeout=30)  # still fetching, for as long as the test runs
        yield 2

    listing: list[Prefetched[int]] = []

    def second() -> Iterator[int]:
        listing[0].go_ahead()  # as a window's first answer does when one more page is left
        yield 10
        yield 11

    with Prefetched(first, depth=8) as one:
        two = Prefetched(second, depth=8, after=one)
        listing.append(two)
        with two:
            assert two.fetched.wait(timeout=30)  # both pages, while the first still fetches
            assert not one.fetched.is_set()
            assert [*two] == [10, 11]
        never.set()


def test_a_listing_after_a_failed_one_still_fetches_and_a_waiting_one_closes_at_once() -> None:
    def failing() -> Iterator[int]:
        raise RuntimeError("refused")
        yield 0  # pragma: no cover - a generator that fails on its first page

    with (
        Prefetched(failing, depth=1) as one,
        Prefetched(lambda: iter([5]), depth=1, after=one) as two,
    ):
        with pytest.raises(RuntimeError, match="refused"):
            next(iter(one))
        assert _taken_within(two) == [5]

    never = threading.Event()

    def endless() -> Iterator[int]:
        yield 1
        never.wait(timeout=30)
        yield 2  # pragma: no cover

    one = Prefetched(endless, depth=1).start()
    two = Prefetched(lambda: iter([5]), depth=1, after=one).start()
    two.close()  # stopped while waiting for the first: its thread ends without asking anything
    assert two.fetched.is_set()
    never.set()
    one.close()


def _taken_within(listing: Prefetched[int], seconds: float = 30) -> list[int]:
    """Every page of `listing`, taken in a thread of its own: a hang fails instead of hanging."""
    taken: list[int] = []
    done = threading.Event()

    def take() -> None:
        taken.extend(listing)
        done.set()

    threading.Thread(target=take, daemon=True).start()
    assert done.wait(timeout=seconds), f"still waiting after {seconds}s, with {taken}"
    return taken


def test_a_listing_after_one_given_up_halfway_still_gives_all_its_pages() -> None:
    # The caller stops taking the first listing after an error of its own, without closing it:
    # the first listing's thread waits forever on its full queue, and never finishes fetching.
    with (
        Prefetched(lambda: iter(range(100)), depth=1) as one,
        Prefetched(lambda: iter([10, 11, 12]), depth=1, after=one) as two,
    ):
        assert next(iter(one)) == 0
        assert not one.fetched.is_set()
        assert _taken_within(two) == [10, 11, 12]
