"""A store that breaks paging costs a bounded number of requests: a page that makes no progress is
never asked for again. Ignored `exclude` and repeated pages are survived exactly where possible
(the stuck second is paged by id); a caching proxy that ignores every filter stops the listing with
one clear line and exit 1, keeping everything up to the last good page.

Each test arms a request budget: past it the sandbox answers 503 to an impatient client, so a
listing without its guards fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ledger.models import TrackedOrder
from ledger.session import session_scope
from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.conftest import CONSUMER_KEY, CONSUMER_SECRET, small_store, write_config_file
from tests.e2e.test_order_sync import assert_exact

Sync = Callable[..., SyncSummary]
ORDERS = "/wp-json/wc/v3/orders"
BUDGET = 400  # far above what any of these syncs needs, far below "forever"


@pytest.fixture
def store() -> SandboxStore:
    return small_store(seed=23, customers=40, orders=600)


def impatient(config: Config, **store: Any) -> Config:
    """No retries: once the budget is spent, the first 503 ends the run."""
    return replace(config, store=replace(config.store, max_retry_seconds=0.0, **store))


def arm_budget(sandbox: SandboxServer, faults: str | None) -> None:
    """Serve with `faults` until BUDGET requests, then 503s."""
    served = 0

    def hook(method: str, path: str, query: dict[str, object]) -> None:
        nonlocal served
        served += 1
        if served > BUDGET:
            sandbox.set_faults("5xx=1")

    sandbox.set_faults(faults)
    sandbox.before_request = hook


def disarm(sandbox: SandboxServer) -> None:
    sandbox.before_request = None
    sandbox.set_faults(None)


def bulk_edit(store: SandboxStore, count: int) -> list[int]:
    """An admin bulk action: `count` orders change status in the same second."""
    ids = [o["id"] for o in store.all("orders") if o["status"] in ("completed", "processing")]
    ids = ids[:count]
    assert len(ids) == count
    with store.clock_at(store.now()):
        for order_id in ids:
            status = store.get("orders", order_id)["status"]
            store.set_order_status(order_id, "cancelled" if status == "completed" else "completed")
    return ids


def order_gets(sandbox: SandboxServer) -> list[dict[str, Any]]:
    return [e.query for e in sandbox.request_log.entries(path_prefix=ORDERS, method="GET")]


def test_a_store_ignoring_exclude_during_a_250_order_bulk_edit_syncs_exactly_in_bounded_requests(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    sync()
    bulk_edit(store, 250)
    sandbox.request_log.clear()
    arm_budget(sandbox, "ignore_exclude=1")
    summary = sync(impatient(config))
    disarm(sandbox)

    assert summary.ok
    assert_exact(store, config, engine_for())
    faulted = [e for e in sandbox.request_log.entries() if e.fault == "ignore_exclude"]
    assert faulted, "the store really ignored `exclude`"
    # One request per source, a stalled keyset page, 3 pages of the second by id, and the
    # catch-up pass: within the ceiling of the orders listing (3 x 3 pages + 10) and then some.
    assert sandbox.request_log.count(method="GET") <= 4 + 4 + 3 * 3 + 10
    keyset = [json.dumps(q, sort_keys=True) for q in order_gets(sandbox)]
    assert len(keyset) == len(set(keyset)), "a request was sent twice"


def test_a_full_sync_of_a_store_ignoring_exclude_is_exact(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    bulk_edit(store, 250)
    arm_budget(sandbox, "ignore_exclude=1")
    summary = sync(impatient(config, per_page=50))
    disarm(sandbox)
    assert summary.ok
    assert_exact(store, config, engine_for())


def test_a_repeated_keyset_page_is_never_asked_for_again_and_the_sync_stays_exact(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    listings = 0

    def repeat_the_second_orders_page(
        method: str, path: str, query: dict[str, object]
    ) -> str | None:
        nonlocal listings
        asked = method == "GET" and path == ORDERS and query.get("status") == "any"
        listings += asked
        # For this request alone: the customers listing is asked for at the same time.
        return "repeat_page=1" if asked and listings == 2 else None

    sandbox.before_request = repeat_the_second_orders_page
    summary = sync(impatient(config, per_page=25, concurrency=1))
    disarm(sandbox)

    assert summary.ok
    assert [e.fault for e in sandbox.request_log.entries() if e.fault] == ["repeat_page"]
    queries = [json.dumps(q, sort_keys=True) for q in order_gets(sandbox)]
    assert len(queries) == len(set(queries)), "the stalled request was sent again"
    assert_exact(store, config, engine_for())


def test_a_caching_proxy_stops_the_listing_with_one_clear_line_exit_1_and_bounded_requests(
    store: SandboxStore,
    sandbox: SandboxServer,
    db_url: str,
    engine_for: Callable[[], Engine],
    tmp_path: Path,
) -> None:
    config_file = write_config_file(
        tmp_path / "loyalty.toml", sandbox, db_url, per_page=25, max_retry_seconds=0
    )
    arm_budget(sandbox, "repeat_page=1")  # every listing answers its last page, whatever asked
    done = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "--config", str(config_file), "sync"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    disarm(sandbox)

    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    # Every listing stops (`per_page` is every listing's page size); the run ends on the first.
    assert lines[-1].startswith("loyalty: error: ")
    assert "listing stopped: GET /wp-json/wc/v3/" in lines[-1]
    (orders,) = [line for line in lines if "sync: orders listing stopped: GET " in line]
    assert "modified_after=" in orders
    assert "(the store ignored `exclude` or repeated an earlier page)" in orders
    assert "everything up to the last good page is kept" in orders
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr
    for secret in (CONSUMER_KEY, CONSUMER_SECRET):
        assert secret not in done.stderr + done.stdout
    assert sandbox.request_log.count() < 40
    with session_scope(engine_for()) as session:
        kept = session.execute(select(func.count()).select_from(TrackedOrder)).scalar_one()
    assert kept >= 25, "the first good page of orders is kept"
