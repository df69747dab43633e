"""The collector is relaxed while a run lasts and restored after it: thresholds, frozen objects."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from sync.collector import RUN_THRESHOLDS, relaxed_collector

DEFAULTS = (700, 10, 10)


@pytest.fixture(autouse=True)
def default_collector() -> Iterator[None]:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    gc.set_threshold(*DEFAULTS)
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_relaxed_and_frozen_inside_restored_and_thawed_after() -> None:
    with relaxed_collector():
        assert gc.get_threshold() == RUN_THRESHOLDS
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == DEFAULTS
    assert gc.get_freeze_count() == 0


def test_restored_when_the_block_raises() -> None:
    with pytest.raises(KeyError), relaxed_collector():
        raise KeyError("boom")
    assert gc.get_threshold() == DEFAULTS
    assert gc.get_freeze_count() == 0


def test_a_custom_threshold_is_what_comes_back() -> None:
    gc.set_threshold(1234, 5, 6)
    with relaxed_collector():
        assert gc.get_threshold() == RUN_THRESHOLDS
    assert gc.get_threshold() == (1234, 5, 6)


def test_overlapping_runs_share_one_relaxation_the_last_out_restores() -> None:
    """Two runs in two threads (the dashboard): the first to end leaves the other relaxed."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[tuple[int, int, int]] = []

    def second() -> None:
        first_in.wait()
        with relaxed_collector():
            second_in.set()
            first_out.wait()
            seen.append(gc.get_threshold())

    thread = threading.Thread(target=second)
    thread.start()
    with relaxed_collector():
        first_in.set()
        second_in.wait()
    first_out.set()
    thread.join()
    assert seen == [RUN_THRESHOLDS]
    assert gc.get_threshold() == DEFAULTS
    assert gc.get_freeze_count() == 0


def test_objects_frozen_before_the_run_stay_frozen() -> None:
    """A process that froze its own long-lived objects (the sandbox) keeps them frozen."""
    gc.freeze()
    frozen = gc.get_freeze_count()
    with relaxed_collector():
        assert gc.get_freeze_count() >= frozen
    assert gc.get_freeze_count() >= frozen > 0
    assert gc.get_threshold() == DEFAULTS


def test_garbage_left_before_a_run_is_skipped_during_it_and_not_frozen_for_good() -> None:
    """A long-lived worker: what was left in cycles before the run is not walked by the run's
    collections, and is thawed after it: the collector frees it as usual."""
    collected = threading.Event()
    gc.disable()  # no automatic collection between the lines below
    try:
        node = Node()
        node.other = node
        weakref.finalize(node, collected.set)
        del node  # a cycle: only the collector frees it
        with relaxed_collector():
            gc.collect()
            assert not collected.is_set()
        assert gc.get_freeze_count() == 0
        gc.collect()
        assert collected.is_set()
    finally:
        gc.enable()


def test_the_collection_at_the_end_walks_only_what_the_run_left() -> None:
    """The run's last collection comes while everything older is still frozen: it costs what the
    run allocated, not the whole heap (0.2 s a run in a test process when it came after the thaw)."""
    frozen_at_start: list[int] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            frozen_at_start.append(gc.get_freeze_count())

    try:
        with relaxed_collector():
            gc.callbacks.append(watch)
        assert frozen_at_start, "the run ends with a collection"
        assert frozen_at_start[-1] > 0
        assert gc.get_freeze_count() == 0
    finally:
        gc.callbacks.remove(watch)


def test_garbage_a_run_left_in_cycles_is_collected_when_it_ends() -> None:
    collected = threading.Event()
    gc.disable()
    try:
        with relaxed_collector():
            node = Node()
            node.other = node
            weakref.finalize(node, collected.set)
            del node
        assert collected.is_set()
    finally:
        gc.enable()


class Node:
    other: object = None
