"""The per-store sync lock in the ledger database: one holder, a clear refusal, no dead holders."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from ledger.customers import get_or_create_store
from ledger.errors import SyncAlreadyRunning
from ledger.models import SyncCursor
from ledger.session import session_scope
from ledger.sync_lock import LOCK_RESOURCE, hold_sync_lock

STORE = "shop.example.com"


def test_a_second_holder_is_refused_with_since_when_and_may_take_it_once_released(
    engine: Engine,
) -> None:
    with hold_sync_lock(engine, STORE) as held:
        with pytest.raises(SyncAlreadyRunning) as refused, hold_sync_lock(engine, STORE):
            pytest.fail("two holders of one store's lock")
        assert refused.value.since == held.since
        since = held.since.strftime("%Y-%m-%d %H:%M:%S") if held.since else "?"
        assert str(refused.value) == f"a sync of this store is already running (since {since} UTC)"
        with hold_sync_lock(engine, "other.example.com"):
            pass  # another store is not blocked

    with hold_sync_lock(engine, STORE):
        pass
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, STORE).id
        assert session.get(SyncCursor, (store_id, LOCK_RESOURCE)) is None  # nothing left behind


def test_the_heartbeat_renews_the_lock_row_while_the_run_lives(engine: Engine) -> None:
    with hold_sync_lock(engine, STORE, heartbeat_seconds=0.05) as held:
        first = _heartbeat(engine, held.store_id)
        deadline = time.monotonic() + 10
        while _heartbeat(engine, held.store_id) == first:
            assert time.monotonic() < deadline, "the heartbeat never renewed the lock"
            time.sleep(0.1)
        assert not held.lost


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("holder", "age", "taken_over"),
    [
        ({"host": "elsewhere", "pid": 1}, timedelta(seconds=10), False),  # alive, as far as we know
        ({"host": "elsewhere", "pid": 1}, timedelta(hours=1), True),  # its heartbeat stopped
        ({"pid": 2**22 + 7}, timedelta(seconds=10), True),  # this host, and no such process
    ],
)
def test_a_sqlite_lock_row_left_by_a_run_that_is_gone_is_taken_over(
    engine: Engine, holder: dict[str, object], age: timedelta, taken_over: bool
) -> None:
    import socket

    now = datetime.now(UTC)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, STORE).id
        state = {"token": "t0", "host": socket.gethostname(), **holder}
        session.add(
            SyncCursor(
                store_id=store_id,
                resource=LOCK_RESOURCE,
                position=now - age,
                updated_at=now - age,
                state=json.dumps(state),
            )
        )
    if taken_over:
        with hold_sync_lock(engine, STORE):
            pass
    else:
        with pytest.raises(SyncAlreadyRunning), hold_sync_lock(engine, STORE):
            pass


def _heartbeat(engine: Engine, store_id: int) -> datetime:
    with session_scope(engine, readonly=True) as session:
        row = session.get(SyncCursor, (store_id, LOCK_RESOURCE))
        assert row is not None
        return row.updated_at
