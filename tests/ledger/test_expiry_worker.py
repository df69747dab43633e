"""The worker's beat schedules expiry daily when [expiry] is on, and its task expires once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

import worker
from ledger.customers import account_customer, get_or_create_store
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import PointEntry
from ledger.session import session_scope
from loyalty.config import Config, load_config
from rules.expiry import ExpiryRules
from tests.cli.test_cli import ledger_config


def test_beat_schedules_expiry_only_when_it_is_on() -> None:
    off = worker.make_app(Config())
    on = worker.make_app(Config(expiry=ExpiryRules(enabled=True, days=30)))
    assert "expire-points" not in off.conf.beat_schedule
    assert on.conf.beat_schedule["expire-points"]["task"] == "worker.expire_points_task"


def test_the_expiry_task_expires_once(
    tmp_path: Path, db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = Path(ledger_config(tmp_path, db_url))
    path.write_text(path.read_text() + "[expiry]\nenabled = true\ndays = 30\n")
    cfg = load_config(path)
    with session_scope(engine) as session:
        store = get_or_create_store(session, cfg.require_store().key)
        alice = account_customer(session, store.id, 7, "alice@example.com")
        earned = datetime(2025, 1, 1, 10, tzinfo=UTC)
        entry = NewEntry(alice.id, 100, SourceKind.PURCHASE, "order:1", "order:1#1", earned)
        append_entries(session, store.id, [entry], now=earned)
    monkeypatch.setattr(worker, "config", lambda: cfg)

    first = worker.expire_points_task.run(as_of="2025-01-31")
    again = worker.expire_points_task.run(as_of="2025-01-31")

    assert (first["expired_points"], first["entries_appended"]) == (100, 1)
    assert (again["expired_points"], again["entries_appended"]) == (100, 0)
    with session_scope(engine) as session:
        kinds = select(func.count()).where(PointEntry.kind == SourceKind.EXPIRY)
        assert session.execute(kinds).scalar_one() == 1


def test_the_expiry_task_refuses_a_day_to_come(
    tmp_path: Path, db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As `loyalty expire`: points expired ahead of their day would be gone for good."""
    path = Path(ledger_config(tmp_path, db_url))
    path.write_text(path.read_text() + "[expiry]\nenabled = true\ndays = 30\n")
    monkeypatch.setattr(worker, "config", lambda: load_config(path))

    with pytest.raises(ValueError, match="as_of 2999-01-01 is in the future"):
        worker.expire_points_task.run(as_of="2999-01-01")
