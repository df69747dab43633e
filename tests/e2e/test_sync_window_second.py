"""Changes stamped in the second the window ends at (the second of the store's first answer).

The regular listings end at that second, inclusive, while it is still running; the catch-up (of a
run that saw changes) lists from that same second on, so a change stamped in it after the listings
read it is caught in the same run once the store's clock has moved past it. A run that ends within
that second leaves what is stamped after its catch-up to the next run (whose overlap finds it:
nothing is lost), and waits for nothing: no sleep for the clock to tick.

Deterministic: the store's clock (its stamps and its Date header) and the sync's clock (the
monotonic clock the store's time is advanced by) are one manual clock, moved by the test only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sandbox.generator import generate_store
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.client import StoreClient
from sync.service import run_sync
from sync.summary import SyncSummary
from tests.e2e.conftest import ANCHOR
from tests.e2e.test_order_sync import assert_exact

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class ManualClock:
    """Real time when made (the OAuth signatures use it), then moved by the test only."""

    def __init__(self) -> None:
        self._at = datetime.now(UTC).replace(microsecond=300_000)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._at

    def monotonic(self) -> float:
        return (self.now() - EPOCH).total_seconds()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._at += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store(clock: ManualClock) -> SandboxStore:
    return generate_store(
        seed=31, anchor=ANCHOR, customers=20, orders=120, reviews=0, comments=0, clock=clock.now
    )


Sync = Callable[[], SyncSummary]


@pytest.fixture
def sync(config: Config, engine_for: Callable[[], Engine], clock: ManualClock) -> Sync:
    def run() -> SyncSummary:
        settings = sync_settings(config)
        client = StoreClient(
            settings.client, monotonic=clock.monotonic, wall_clock=clock.now, sleep=lambda _: None
        )
        return run_sync(settings, engine=engine_for(), client=client)

    return run


def after_live_orders_listing(sandbox: SandboxServer, nth: int, act: Callable[[], None]) -> None:
    """`act` once the run's `nth` listing of live orders has been answered (1: the regular one,
    2: the catch-up's), before the sync reads that answer."""
    seen = 0

    def hook(method: str, path: str, query: dict[str, object], status: int) -> None:
        nonlocal seen
        if method == "GET" and path.endswith("/orders") and query.get("status") == "any":
            seen += 1
            if seen == nth:
                act()

    sandbox.after_request = hook


def cancel_a_completed_order(store: SandboxStore) -> None:
    completed = [o["id"] for o in store.all("orders") if o["status"] == "completed"]
    store.set_order_status(completed[0], "cancelled")


def test_a_change_stamped_in_the_window_s_last_second_is_caught_up_once_the_clock_ticked(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
    clock: ManualClock,
    sync: Sync,
) -> None:
    sync()
    clock.advance(5)
    started = store.now()  # the second the next run's window ends at
    cancel_a_completed_order(store)  # a change the run lists: it then catches up

    def change_then_tick() -> None:
        cancel_a_completed_order(store)  # stamped `started`, after the listing read that second
        assert store.now() == started
        clock.advance(1)  # the store's clock moves on before the catch-up

    after_live_orders_listing(sandbox, 1, change_then_tick)
    summary = sync()
    sandbox.after_request = None
    assert summary.catch_up_passes >= 1
    assert summary.orders_caught_up == 1
    assert_exact(store, config, engine_for())


def test_a_run_within_one_second_leaves_a_later_change_to_the_next_run_without_waiting(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
    clock: ManualClock,
    sync: Sync,
) -> None:
    sync()
    clock.advance(5)
    before = store.now()
    cancel_a_completed_order(store)  # a change the run lists: it then catches up
    after_live_orders_listing(sandbox, 2, lambda: cancel_a_completed_order(store))
    first = sync()  # the clock never moves: the whole run, catch-up included, in one second
    sandbox.after_request = None
    assert store.now() == before
    assert first.catch_up_passes == 1
    assert first.orders_caught_up == 0  # cancelled after the catch-up had read that second
    with pytest.raises(AssertionError):
        assert_exact(store, config, engine_for())

    clock.advance(1)
    second = sync()
    assert second.entries_appended > 0  # the cancellation, found by the next run's overlap
    assert_exact(store, config, engine_for())
