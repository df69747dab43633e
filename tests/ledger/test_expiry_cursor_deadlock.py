"""The sync's expiry reads where the entries end once, before it locks any balance row: read
again after the run (for its cursor), with the store row let go in between, a dashboard
adjustment took it shared and queued on a balance row the expiry held, and the expiry's second
read waited on it: a deadlock (found by a review, 4 Dec)."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, text

import sync.expiry as expiry
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.session import session_scope
from tests.ledger.test_concurrent_moves import backend_pid, wait_until_blocked
from tests.ledger.test_entry_cursor import RULES, two_customers_on_postgres

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def test_a_dashboard_adjustment_during_the_syncs_expiry_does_not_deadlock(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_id, alice, _bob = two_customers_on_postgres(engine)
    with session_scope(engine) as session:
        old = NewEntry(
            alice,
            100,
            SourceKind.PURCHASE,
            "order:1",
            "order:1#1",
            datetime(2025, 1, 2, tzinfo=UTC),
        )
        append_entries(session, store_id, [old], now=NOW)

    errors: list[BaseException] = []
    pid: list[int] = []
    real_run = expiry.run_expiry

    def adjust() -> None:  # the dashboard: +5 for alice, now
        try:
            with session_scope(engine) as s:
                pid.append(backend_pid(s))
                bonus = NewEntry(
                    alice, 5, SourceKind.ADJUSTMENT, "adjustment:1", "adjustment:1#1", NOW
                )
                append_entries(s, store_id, [bonus], now=NOW)
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    writer = threading.Thread(target=adjust, daemon=True)

    def run_expiry(*args, **kwargs):
        run = real_run(*args, **kwargs)  # alice's balance row is now held by the expiry
        writer.start()
        done = threading.Event()
        assert wait_until_blocked(engine, pid, done)  # the adjustment queues behind the expiry
        return run

    monkeypatch.setattr(expiry, "run_expiry", run_expiry)
    try:
        with session_scope(engine) as session:  # the sync's expiry unit
            session.execute(text("SET LOCAL deadlock_timeout = '200ms'"))
            expiry.expire_if_due(session, store_id, RULES, store_day=date(2025, 6, 1), now=NOW)
    except Exception as error:  # noqa: BLE001
        errors.append(error)
    writer.join(15)

    assert not errors, f"{type(errors[0]).__name__}: {str(errors[0]).splitlines()[0]}"
