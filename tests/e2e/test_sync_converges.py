"""A sync ends converged: what was modified while it ran is caught up before it ends, so `loyalty
sync` followed by `loyalty balances` shows every order. A sync that saw nothing new spends nothing
on it; one that saw changes spends one more request per source."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.conftest import small_store, write_config_file
from tests.e2e.test_order_sync import assert_exact

Sync = Callable[..., SyncSummary]
SOURCES = 4  # new customers, refunds, live orders, trashed orders


@pytest.fixture
def store() -> SandboxStore:
    return small_store(seed=23, customers=40, orders=600)


def shop_during_the_first_order_pages(
    store: SandboxStore, pages: int, seed: int
) -> Callable[[str, str, dict[str, object]], None]:
    """While the first `pages` order pages are served, shoppers and admins change the shop.

    The store stamps changes in whole seconds, and the sync's window ends at the second of the
    store's first answer: a change stamped in that second belongs to the window (a page already
    served misses it, the next run's overlap finds it), so "caught up before it ends" holds for
    changes stamped after it. A fast run can start and end within one second, so the store's
    clock is let tick (bounded waits on the clock, not on the sync): the changes are made two
    seconds after the first request, and the first order page after them is answered two seconds
    after the last change, so the catch-up's end lies past every stamp."""
    rng = random.Random(seed)
    product = store.all("products")[0]["id"]
    customers = [c["id"] for c in store.all("customers")]
    served = 0
    first_request: datetime | None = None
    last_change: datetime | None = None

    def hook(method: str, path: str, query: dict[str, object]) -> None:
        nonlocal served, first_request, last_change
        if first_request is None:
            first_request = store.now()
        if method != "GET" or not path.endswith("/orders"):
            return
        if served >= pages:
            if last_change is not None:
                _wait_for_second(store, last_change + timedelta(seconds=2))
                last_change = None
            return
        _wait_for_second(store, first_request + timedelta(seconds=2))
        served += 1
        last_change = store.now()
        orders = [o["id"] for o in store.all("orders")]
        old = rng.choice(orders[: len(orders) // 3])  # its page passed long ago, or comes later
        action = rng.choice(["complete", "cancel", "place", "refund", "register"])
        if action == "complete":
            store.set_order_status(old, "completed")
        elif action == "cancel":
            store.set_order_status(old, "cancelled")
        elif action == "refund" and store.get("orders", old)["status"] == "completed":
            store.refund_order(old, lines=[(store.get("orders", old)["line_items"][0]["id"], 1)])
        elif action == "register":
            email = f"walk-in-{served}@example.org"
            store.place_order(email=email, items=[(product, 2)], status="completed")
            store.register_customer(email=email)
        else:
            placed = store.place_order(
                customer_id=rng.choice(customers), items=[(product, 1)], status="completed"
            )
            store.set_order_status(placed["id"], "completed")

    return hook


def _wait_for_second(store: SandboxStore, moment: datetime) -> None:
    """Until the store's clock reads `moment`'s whole second or later (at most about 2 s)."""
    target = moment.replace(microsecond=0)
    while (now := store.now()) < target:
        time.sleep((target - now).total_seconds())


def test_orders_modified_while_the_sync_pages_are_caught_up_before_it_ends(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    db_url: str,
    engine_for: Callable[[], Engine],
    tmp_path: Path,
) -> None:
    config_file = write_config_file(tmp_path / "loyalty.toml", sandbox, db_url, per_page=25)
    sandbox.before_request = shop_during_the_first_order_pages(store, pages=10, seed=5)
    done = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "--config", str(config_file), "sync", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    sandbox.before_request = None
    assert done.returncode == 0, done.stderr
    # One sync, and the ledger and the store's meta already hold every change made meanwhile.
    assert_exact(store, config, engine_for())
    summary = json.loads(done.stdout)
    assert summary["orders_caught_up"] > 0
    assert 1 <= summary["catch_up_passes"] <= 3


def test_a_sync_that_saw_changes_spends_one_more_request_per_source(
    store: SandboxStore, sandbox: SandboxServer, sync: Sync, config: Config
) -> None:
    sync()
    customer = store.all("customers")[0]["id"]
    product = store.all("products")[0]["id"]
    store.place_order(customer_id=customer, items=[(product, 2)], status="completed")
    sandbox.request_log.clear()
    changed = sync()
    assert sandbox.request_log.count(method="GET") == SOURCES + SOURCES
    assert changed.entries_appended > 0
    assert changed.catch_up_passes == 1
    assert changed.orders_caught_up == 0

    sandbox.request_log.clear()
    quiet = sync()
    assert quiet.catch_up_passes == 0
    assert sandbox.request_log.count() == SOURCES


class CatchUpWatch:
    """Holds the customers' catch-up request (the run's second GET customers) until a catch-up
    request of the orders source arrives (a GET after the regular listings' first `regular`), at
    most `patience` seconds: `overlapped` says whether one came while it was held."""

    def __init__(self, regular: int, patience: float = 10.0) -> None:
        self.regular = regular
        self.patience = patience
        self.customers = 0
        self.others = 0
        self.orders_catching_up = threading.Event()
        self.overlapped: bool | None = None
        self._lock = threading.Lock()

    def __call__(self, method: str, path: str, query: dict[str, object]) -> None:
        if method != "GET":
            return
        with self._lock:
            if path.endswith("/customers"):
                self.customers += 1
                held = self.customers == 2
            else:
                self.others += 1
                held = False
                if self.others > self.regular:
                    self.orders_catching_up.set()
        if held:
            self.overlapped = self.orders_catching_up.wait(timeout=self.patience)


def test_a_catch_up_pass_asks_the_store_once_for_every_source(
    store: SandboxStore, sandbox: SandboxServer, sync: Sync
) -> None:
    """The orders' catch-up listings are in flight while the customers catch up: the pass costs
    one round trip, not one per source (and no more requests)."""
    sync()
    customer = store.all("customers")[0]["id"]
    product = store.all("products")[0]["id"]
    store.place_order(customer_id=customer, items=[(product, 2)], status="completed")
    sandbox.request_log.clear()
    watch = CatchUpWatch(regular=SOURCES - 1)  # refunds, live and trashed orders
    sandbox.before_request = watch
    try:
        changed = sync()
    finally:
        sandbox.before_request = None
    assert changed.catch_up_passes == 1
    assert watch.overlapped is True
    assert sandbox.request_log.count(method="GET") == SOURCES + SOURCES
