"""A sync whose lock is gone stops before its next unit of work: on PostgreSQL the lock is its
connection's, and a connection the server ended (restarted, a network cut, an admin's
`pg_terminate_backend`) let the next sync take the lock while this one went on writing, two syncs
of one store at once (its heartbeat failed quietly, and what it learnt, `lost`, nothing read); on
SQLite a run whose lock row was taken over (its heartbeat held back two minutes) went on the same
way (a review of concurrent runs, 5 Dec)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text

from ledger.errors import SyncLockLost
from ledger.models import SyncCursor
from ledger.session import session_scope
from ledger.sync_lock import LOCK_RESOURCE, hold_sync_lock
from sync.context import Transactions

STORE = "shop.example.com"


def test_a_sync_whose_lock_connection_the_server_ended_stops_writing(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    with hold_sync_lock(engine, STORE, heartbeat_seconds=3600) as held:
        tx = Transactions(engine, dry_run=False, lock=held)
        with tx.unit():
            pass  # held: units of work go on
        assert held._connection is not None
        pid = held._connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as admin:
            assert admin.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        with hold_sync_lock(engine, STORE, heartbeat_seconds=3600):
            pass  # the server let the lock go with its connection: another sync may run

        with pytest.raises(SyncLockLost), tx.unit() as session:  # a page and its cursor
            session.add(SyncCursor(store_id=held.store_id, resource="orders", state="{}"))
        assert held.lost
    with session_scope(engine) as session:  # rolled back: the other sync's to write
        assert session.get(SyncCursor, (held.store_id, "orders")) is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_sync_whose_lock_row_was_taken_over_stops_writing(engine: Engine) -> None:
    with hold_sync_lock(engine, STORE, heartbeat_seconds=3600) as held:
        tx = Transactions(engine, dry_run=False, lock=held)
        with session_scope(engine) as session:  # another run took it over
            row = session.get(SyncCursor, (held.store_id, LOCK_RESOURCE))
            assert row is not None
            row.state = json.dumps({"token": "theirs", "host": "elsewhere", "pid": 1})
            row.updated_at = datetime.now(UTC)
        held._renew()  # the heartbeat's next beat

        with pytest.raises(SyncLockLost), tx.unit():
            pytest.fail("a unit of work of a sync that no longer holds its lock")
