"""Resyncing one customer (`loyalty sync --customer ID`, the dashboard's resync of one customer):
that account's orders are re-read by `customer=`, re-decided, and its balance written back."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from ledger.balances import verify_balances
from ledger.rollup_checks import verify_rollups
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.service import run_sync
from sync.summary import SyncSummary
from tests.e2e.conftest import balances_of


def test_a_resync_of_one_customer_finds_a_change_the_incremental_sync_cannot_see(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Callable[..., SyncSummary],
    engine_for: Callable[[], Engine],
) -> None:
    member = store.register_customer(email="silent@example.org")
    order = store.place_order(customer_id=member["id"], items=[(101, 2)], status="completed")
    sync()
    engine = engine_for()
    held = {r.customer_id: r.balance for r in balances_of(config, engine)}[member["id"]]
    assert held > 0
    # A plugin cancels the order straight in the database, its modified date set back years:
    # no listing by modified date will ever show it again.
    silent = store.get("orders", order["id"])
    silent["status"] = "cancelled"
    for field in ("date_modified", "date_modified_gmt"):
        silent[field] = "2020-01-01T00:00:00"
    store.put("orders", silent)
    assert sync().entries_appended == 0  # the incremental sync cannot see it
    sandbox.request_log.clear()

    summary = run_sync(sync_settings(config), engine=engine, customer=member["id"])

    assert summary.entries_appended == 1
    assert {r.customer_id: r.balance for r in balances_of(config, engine)}[member["id"]] == 0
    listed = sandbox.request_log.count(path_prefix="/wp-json/wc/v3/orders")
    assert listed >= 2  # live and trashed orders of this customer
    listings = [e.query for e in sandbox.request_log.entries() if e.path == "/wp-json/wc/v3/orders"]
    assert listings
    assert all(str(q.get("customer")) == str(member["id"]) or "include" in q for q in listings)
    assert (
        run_sync(sync_settings(config), engine=engine, customer=member["id"]).entries_appended == 0
    )
    with session_scope(engine) as session:
        assert verify_balances(session) == []
        assert verify_rollups(session) == []
