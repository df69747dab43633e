"""Every run that holds the store's sync lock stops writing once the lock is gone: the sync and
the recalculation both hand theirs to their units of work. The recalculation held the lock but
never looked at it again, so a recalculation whose lock went (its PostgreSQL connection ended,
its SQLite row taken over) went on writing beside the next sync (a review of concurrent runs)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

import sync.recalculate as recalculate
import sync.service as service
from ledger.errors import SyncLockLost
from ledger.models import PointEntry, SyncRun
from ledger.session import session_scope
from ledger.sync_lock import SyncLock, hold_sync_lock
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.test_expiry_reconcile import completed_order, gift_shop


@pytest.fixture
def store() -> SandboxStore:
    return gift_shop()


def lost_at_once(monkeypatch: pytest.MonkeyPatch, module: Any) -> None:
    """`module`'s run takes the real lock, which is then found lost (as the heartbeat finds a
    lock row taken over) before its first unit of work."""

    @contextmanager
    def hold(engine: Engine, store_key: str, **settings: Any) -> Iterator[SyncLock]:
        with hold_sync_lock(engine, store_key, **settings) as lock:
            lock.lost = True
            yield lock

    monkeypatch.setattr(module, "hold_sync_lock", hold)


def entries(engine: Engine) -> int:
    with session_scope(engine, readonly=True) as session:
        return int(session.execute(select(func.count(PointEntry.id))).scalar_one())


def test_a_sync_whose_lock_is_lost_writes_nothing(
    config: Config,
    store: SandboxStore,
    engine_for: Callable[[], Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    engine = engine_for()
    lost_at_once(monkeypatch, service)
    with pytest.raises(SyncLockLost):
        service.run_sync(sync_settings(config), engine=engine)
    assert entries(engine) == 0


def test_a_recalculation_whose_lock_is_lost_writes_nothing(
    config: Config,
    store: SandboxStore,
    sync: Callable[..., SyncSummary],
    engine_for: Callable[[], Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    engine = engine_for()
    sync(config)
    before = entries(engine)
    assert before > 0
    store.set_order_status(int(store.all("orders")[0]["id"]), "cancelled")
    lost_at_once(monkeypatch, recalculate)
    with pytest.raises(SyncLockLost):
        recalculate.run_recalculation(
            sync_settings(config), point_value=Decimal("0.01"), engine=engine
        )
    assert entries(engine) == before


def test_a_sync_whose_lock_is_lost_on_the_way_records_its_run_failed(
    config: Config,
    store: SandboxStore,
    engine_for: Callable[[], Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run's row, started while the lock was held, says how the run ended: the unit that
    records it checked the lock too, so it stayed `running` with nothing of the run kept (the
    next sync marked it `abandoned`, as a killed one) and only a warning in the log."""
    completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    engine = engine_for()
    held: list[SyncLock] = []

    @contextmanager
    def hold(engine: Engine, store_key: str, **settings: Any) -> Iterator[SyncLock]:
        with hold_sync_lock(engine, store_key, **settings) as lock:
            held.append(lock)
            yield lock

    real_steps = service.SyncJob._steps

    def steps_then_lost(self: service.SyncJob, *args: Any, **kwargs: Any) -> Any:
        held[0].lost = True  # as the heartbeat finds the lock row taken over
        return real_steps(self, *args, **kwargs)

    monkeypatch.setattr(service, "hold_sync_lock", hold)
    monkeypatch.setattr(service.SyncJob, "_steps", steps_then_lost)
    with pytest.raises(SyncLockLost):
        service.run_sync(sync_settings(config), engine=engine)

    with session_scope(engine, readonly=True) as session:
        [run] = session.execute(select(SyncRun)).scalars()
        assert run.status == "failed"
        assert "SyncLockLost" in json.loads(run.summary)["error"]
