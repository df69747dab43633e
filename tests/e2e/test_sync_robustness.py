"""The sync stays exact whatever fails: killed processes, a flaky host, a store changing under it."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ledger.migrate import upgrade
from ledger.models import QuarantinedItem, TrackedOrder
from ledger.session import create_engine_for, session_scope
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.service import run_sync
from sync.summary import SyncSummary
from tests.e2e.conftest import balances_of, small_store, write_config_file
from tests.e2e.expected import expected_balances, order_points
from tests.e2e.test_order_sync import assert_exact

Sync = Callable[..., SyncSummary]


@pytest.fixture
def store() -> SandboxStore:
    # More, smaller pages than the default store: more places for things to go wrong.
    return small_store(seed=23, customers=40, orders=600)


def run_sync_process(config_file: Path, *flags: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "loyalty.cli", "--config", str(config_file), "sync", *flags]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_killed_at_random_points_then_rerun_ends_exactly_like_an_uninterrupted_run(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    db_url: str,
    engine_for: Callable[[], Engine],
    tmp_path: Path,
) -> None:
    config_file = write_config_file(tmp_path / "loyalty.toml", sandbox, db_url, per_page=25)
    rng = random.Random(2024)
    # How many requests an uninterrupted run makes bounds where a kill can land.
    sandbox.request_log.clear()
    probe = write_config_file(
        tmp_path / "probe.toml", sandbox, f"sqlite:///{tmp_path / 'probe.db'}", per_page=25
    )
    subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "--config", str(probe), "db", "upgrade"],
        check=True,
        capture_output=True,
    )
    assert run_sync_process(probe, "--full").wait(timeout=120) == 0
    requests_per_run = sandbox.request_log.count()
    assert requests_per_run > 20

    killed = 0
    for _ in range(10):
        # Full runs make the same requests every time, so every kill lands somewhere in the run:
        # listing customers or refunds, mid-way through the order pages, or during the write-back.
        target = rng.randint(1, requests_per_run)
        process = run_sync_process(config_file, "--full")
        seen = 0

        def kill_at_target(
            method: str, path: str, query: dict[str, object], *, _p=process, _t=target
        ) -> None:
            nonlocal seen
            seen += 1
            if seen == _t:
                os.kill(_p.pid, signal.SIGKILL)

        sandbox.before_request = kill_at_target
        code = process.wait(timeout=120)
        sandbox.before_request = None
        killed += code == -signal.SIGKILL
    assert killed >= 8, "most runs must really have been killed mid-way"

    final = run_sync_process(config_file)
    _out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err.decode()
    assert_exact(store, config, engine_for())


@pytest.mark.slow
def test_with_faults_on_the_final_state_equals_a_fault_free_run(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    db_url: str,
    tmp_path: Path,
    engine_for: Callable[[], Engine],
    sync: Sync,
) -> None:
    broken = next(o for o in store.all("orders") if o["status"] == "completed")
    store._data["orders"][broken["id"]]["line_items"][0]["total"] = None  # a plugin broke it
    small_pages = replace(config, store=replace(config.store, per_page=25))

    clean_db = replace(
        small_pages, database=replace(config.database, url=f"sqlite:///{tmp_path / 'clean.db'}")
    )
    upgrade(clean_db.database.url)
    clean_engine = create_engine_for(clean_db.database.url)
    clean = run_sync(sync_settings(clean_db), engine=clean_engine)

    sandbox.set_faults("5xx=0.1,429=0.05,drop=0.02,malformed=0.02,dup=0.05,retry_after=1", seed=99)
    faulty = sync(small_pages)
    sandbox.set_faults(None)
    faults_seen = [e for e in sandbox.request_log.entries() if e.fault]
    assert len(faults_seen) >= 3, "the run should have met several faults"

    assert faulty.quarantined == clean.quarantined == 1
    engine = engine_for()
    assert balances_of(config, engine) == balances_of(clean_db, clean_engine)
    with session_scope(engine) as session:
        item = session.execute(select(QuarantinedItem)).scalar_one()
    assert item.item_ref == str(broken["id"])
    assert item.field == "line_items[0].total"
    clean_engine.dispose()


@pytest.mark.slow
def test_no_order_is_missed_while_the_store_changes_during_paging(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    rng = random.Random(7)
    product = store.all("products")[0]["id"]
    customers = [c["id"] for c in store.all("customers")]
    touched: set[int] = set()

    def shop_while_paging(method: str, path: str, query: dict[str, object]) -> None:
        if method != "GET" or not path.endswith("/orders"):
            return
        orders = [o["id"] for o in store.all("orders")]
        old = rng.choice(orders[: len(orders) // 3])  # far older than any overlap window
        action = rng.choice(["touch", "trash", "complete", "place", "refund"])
        touched.add(old)
        if action == "touch":
            store.touch_order(old)
        elif action == "trash":
            store.delete_order(old, force=False)
        elif action == "complete":
            store.set_order_status(old, "completed")
        elif action == "refund" and store.get("orders", old)["status"] == "completed":
            store.refund_order(old, lines=[(store.get("orders", old)["line_items"][0]["id"], 1)])
        else:
            placed = store.place_order(
                customer_id=rng.choice(customers), items=[(product, 1)], status="completed"
            )
            touched.add(placed["id"])

    small_pages = replace(config, store=replace(config.store, per_page=10))
    before = {o["id"]: o for o in store.all("orders")}
    sandbox.before_request = shop_while_paging
    sync(small_pages)
    sandbox.before_request = None
    assert len(touched) > 20

    # Every order nobody touched was seen and decided in this very run.
    refunds = {r["id"]: r for r in store.all("refunds")}
    engine = engine_for()
    with session_scope(engine) as session:
        tracked = {t.order_id: t.points for t in session.execute(select(TrackedOrder)).scalars()}
    for order_id, order in before.items():
        if order_id in touched:
            continue
        mine = [refunds[r["id"]] for r in order["refunds"]]
        assert tracked.get(order_id) == order_points(order, mine), f"order {order_id} was missed"

    # The next incremental run picks up everything that changed meanwhile.
    sync(small_pages)
    assert_exact(store, config, engine)
    assert expected_balances(store)
