"""A sync ends converged: what was modified while it ran is caught up before it ends, so `loyalty
sync` followed by `loyalty balances` shows every order. A sync that saw nothing new spends nothing
on it; one that saw changes spends one more request per source."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable
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
    """While the first `pages` order pages are served, shoppers and admins change the shop."""
    rng = random.Random(seed)
    product = store.all("products")[0]["id"]
    customers = [c["id"] for c in store.all("customers")]
    served = 0

    def hook(method: str, path: str, query: dict[str, object]) -> None:
        nonlocal served
        if method != "GET" or not path.endswith("/orders") or served >= pages:
            return
        served += 1
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
