"""The window ends at the store's clock: a shop server whose clock is off by more than the overlap
loses no change, whichever way it is off; the difference is warned about once and recorded."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from ledger.models import SyncCursor, SyncRun
from ledger.session import session_scope
from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.test_order_sync import assert_exact

Sync = Callable[..., SyncSummary]
OVERLAP_MINUTES = 10  # the default; every skew below is larger


def change_the_shop(store: SandboxStore) -> None:
    """An order cancelled, one completed, one placed: right after the last sync."""
    product = store.all("products")[0]["id"]
    customer = store.all("customers")[0]["id"]
    completed = [o["id"] for o in store.all("orders") if o["status"] == "completed"]
    store.set_order_status(completed[0], "cancelled")
    placed = store.place_order(customer_id=customer, items=[(product, 3)], status="processing")
    store.set_order_status(placed["id"], "completed")


@pytest.mark.parametrize("skew_minutes", [-15, 15])
def test_a_store_clock_off_by_more_than_the_overlap_loses_no_change(
    skew_minutes: int,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    assert abs(skew_minutes) > OVERLAP_MINUTES == config.sync.overlap_minutes
    sandbox.set_clock_skew(skew_minutes * 60)
    first = sync()
    change_the_shop(store)  # at once: stamped by the skewed clock, right after the window's end
    second = sync()
    engine = engine_for()
    assert_exact(store, config, engine)
    assert second.entries_appended > 0
    assert sync().entries_appended == 0

    side = "behind" if skew_minutes < 0 else "ahead of"
    assert first.warnings == [
        f"the store's clock is 15 min {side} this machine's; the sync follows the store's clock"
    ]
    assert first.store_clock_skew_seconds is not None
    assert abs(first.store_clock_skew_seconds - skew_minutes * 60) <= 2
    with session_scope(engine) as session:
        runs = session.execute(select(SyncRun).order_by(SyncRun.id)).scalars().all()
        recorded = [json.loads(run.summary) for run in runs]
    assert all(abs(r["store_clock_skew_seconds"] - skew_minutes * 60) <= 2 for r in recorded)
    assert all(len(r["warnings"]) == 1 for r in recorded)


def test_a_store_clock_in_step_with_ours_gives_no_warning(sync: Sync) -> None:
    summary = sync()
    assert summary.warnings == []
    assert summary.store_clock_skew_seconds is not None
    assert abs(summary.store_clock_skew_seconds) <= 2


def test_without_a_usable_date_the_window_ends_an_overlap_before_the_local_clock_said_once(
    sandbox: SandboxServer,
    sync: Sync,
    engine_for: Callable[[], Engine],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sandbox.date_header = lambda: "Someday, soon"  # type: ignore[method-assign]
    before = datetime.now(UTC).replace(microsecond=0)
    with caplog.at_level(logging.WARNING, logger="sync"):
        summary = sync()
    after = datetime.now(UTC)
    expected = (
        "the store's clock is unknown (its Date header ('Someday, soon') is not an HTTP date): "
        f"the window ends at this machine's clock minus the overlap (0:{OVERLAP_MINUTES}:00)"
    )
    assert summary.warnings == [expected]
    assert [r.getMessage() for r in caplog.records if "clock" in r.getMessage()] == [expected]
    assert summary.store_clock_skew_seconds is None
    with session_scope(engine_for()) as session:
        cursor = session.execute(
            select(SyncCursor).where(SyncCursor.resource == "orders")
        ).scalar_one()
        position = cursor.position
    position = position if position.tzinfo else position.replace(tzinfo=UTC)
    overlap = timedelta(minutes=OVERLAP_MINUTES)
    assert before - overlap <= position <= after - overlap
