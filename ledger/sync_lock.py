"""One sync per store at a time, whoever starts it: the CLI, cron or the worker.

The lock lives in the ledger database itself, so every process that can write the ledger sees it:

- PostgreSQL: `pg_try_advisory_lock` on a connection of its own, held for the whole run. The server
  releases it when that connection ends, so a killed run never leaves it behind.
- SQLite: a lock row written under SQLite's write lock (`BEGIN IMMEDIATE` makes check-and-take
  atomic), renewed by a heartbeat thread. A row whose heartbeat is older than `stale_after`, or
  whose holder was a process on this host that no longer exists, is taken over.

On both, the row (in `sync_cursors`, resource `sync-lock`: position = since when, updated_at = the
last heartbeat, state = who holds it) tells a refused run since when the other sync runs.

    with hold_sync_lock(engine, "shop.example.com"):   # raises SyncAlreadyRunning
        ...  # the run
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ledger.customers import get_or_create_store
from ledger.errors import SyncAlreadyRunning, SyncLockLost
from ledger.models import SyncCursor
from ledger.session import session_scope

log = logging.getLogger("ledger.sync_lock")

LOCK_RESOURCE = "sync-lock"
HEARTBEAT_SECONDS = 15.0
#: A SQLite lock row not renewed for this long belongs to a run that is gone (8 missed beats).
STALE_AFTER_SECONDS = 120.0


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: a random token, and the host and process id for a liveness check."""

    token: str
    host: str
    pid: int

    @classmethod
    def this_process(cls) -> Holder:
        return cls(token=uuid.uuid4().hex, host=socket.gethostname(), pid=os.getpid())

    def as_state(self) -> str:
        return json.dumps({"token": self.token, "host": self.host, "pid": self.pid})

    @classmethod
    def from_state(cls, state: str) -> Holder | None:
        try:
            data = json.loads(state)
            return cls(token=str(data["token"]), host=str(data["host"]), pid=int(data["pid"]))
        except (ValueError, KeyError, TypeError):
            return None

    def is_gone(self) -> bool:
        """True when the holder was a process on this host that no longer runs."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # it exists, under another user
            return False
        return False


class SyncLock:
    """The held lock of one store; `hold_sync_lock` builds, renews and releases it."""

    def __init__(
        self,
        engine: Engine,
        store_id: int,
        store_key: str,
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        stale_after_seconds: float = STALE_AFTER_SECONDS,
    ) -> None:
        self.engine = engine
        self.store_id = store_id
        self.store_key = store_key
        self.holder = Holder.this_process()
        self.heartbeat_seconds = heartbeat_seconds
        self.stale_after = timedelta(seconds=stale_after_seconds)
        self.since: datetime | None = None
        self.lost = False  # the heartbeat found another holder: this run should stop writing
        self._connection: Connection | None = None  # PostgreSQL: the one holding the lock
        self._key = 0  # PostgreSQL: the advisory lock's key
        self._connection_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    # -- taking and giving back ----------------------------------------------------------------

    def acquire(self) -> None:
        """Take the lock or raise SyncAlreadyRunning; starts the heartbeat."""
        now = _now()
        if self.postgres:
            self._acquire_advisory()
        try:
            with session_scope(self.engine) as session:
                row = session.get(SyncCursor, (self.store_id, LOCK_RESOURCE))
                if not self.postgres and row is not None and self._is_held(row, now):
                    raise SyncAlreadyRunning(self.store_key, row.position)
                self._write_row(session, row, now)
        except BaseException:
            self._release_advisory()
            raise
        self.since = now
        self._thread = threading.Thread(
            target=self._beat, name=f"sync-lock-{self.store_id}", daemon=True
        )
        self._thread.start()

    def release(self) -> None:
        """Stop the heartbeat and give the lock back. Never raises: the run's outcome matters."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.heartbeat_seconds + 5)
        try:
            with session_scope(self.engine) as session:
                row = session.get(SyncCursor, (self.store_id, LOCK_RESOURCE))
                if row is not None and self._mine(row):
                    session.delete(row)
        except Exception:  # a stale row is taken over later; the advisory lock goes below
            log.warning("could not clear the sync lock row of %s", self.store_key, exc_info=True)
        self._release_advisory()

    def check(self, *, ping: bool = True) -> None:
        """Raise SyncLockLost unless the lock is still this run's: the heartbeat found the row
        taken over, or (`ping`, PostgreSQL) the connection holding the advisory lock ended, and
        the server let the lock go with it. A run checks before each unit of work commits."""
        if not self.lost and ping and self.postgres:
            self._ping()
        if self.lost:
            raise SyncLockLost(self.store_key)

    def _ping(self) -> None:
        """Keep the advisory lock's connection alive; one that fails means the lock is gone."""
        with self._connection_lock:
            if self._connection is None:
                return
            try:
                self._connection.execute(text("SELECT 1"))
            except DBAPIError:  # the server let the lock go with the connection
                log.error("the sync lock of %s went with its connection", self.store_key)
                self._connection.invalidate()
                self._connection = None
                self.lost = True

    # -- PostgreSQL ----------------------------------------------------------------------------

    def _acquire_advisory(self) -> None:
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            names = connection.execute(text("SELECT current_database(), current_schema()")).one()
            key = _advisory_key(f"{names[0]}/{names[1]}/{self.store_id}")
            taken = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            if not taken.scalar_one():
                raise SyncAlreadyRunning(self.store_key, self._since_of_holder())
        except BaseException:
            connection.close()
            raise
        self._connection, self._key = connection, key

    def _release_advisory(self) -> None:
        with self._connection_lock:
            connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
            connection.close()
        except DBAPIError:  # the connection is gone, and the server released the lock with it
            connection.invalidate()

    def _since_of_holder(self) -> datetime | None:
        with session_scope(self.engine, readonly=True) as session:
            row = session.get(SyncCursor, (self.store_id, LOCK_RESOURCE))
            return row.position if row is not None else None

    # -- the row and its heartbeat -------------------------------------------------------------

    def _is_held(self, row: SyncCursor, now: datetime) -> bool:
        holder = Holder.from_state(row.state)
        if holder is None or now - row.updated_at > self.stale_after or holder.is_gone():
            log.warning(
                "taking over the sync lock of %s left by a run that is gone (last heartbeat %s)",
                self.store_key,
                row.updated_at.isoformat(),
            )
            return False
        return True

    def _mine(self, row: SyncCursor) -> bool:
        holder = Holder.from_state(row.state)
        return holder is not None and holder.token == self.holder.token

    def _write_row(self, session: Session, row: SyncCursor | None, now: datetime) -> None:
        if row is None:
            row = SyncCursor(store_id=self.store_id, resource=LOCK_RESOURCE)
            session.add(row)
        row.position, row.updated_at, row.state = now, now, self.holder.as_state()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self._renew()
            except Exception:  # the next beat tries again; a busy database is not fatal (a
                # dry run on SQLite holds the write lock for its whole run, for one)
                log.debug("could not renew the sync lock of %s", self.store_key, exc_info=True)

    def _renew(self) -> None:
        self._ping()  # keeps the connection, and so the lock, alive (or finds them gone)
        if self.lost:
            return
        with session_scope(self.engine) as session:
            row = session.get(SyncCursor, (self.store_id, LOCK_RESOURCE))
            if row is None or not self._mine(row):
                if not self.lost:
                    log.error("the sync lock of %s was taken over by another run", self.store_key)
                self.lost = True
                return
            row.updated_at = datetime.now(UTC)


@contextmanager
def hold_sync_lock(engine: Engine, store_key: str, **settings: Any) -> Iterator[SyncLock]:
    """Hold the sync lock of the store `store_key` for the block; raises SyncAlreadyRunning.

    The store is created in the ledger if it is new (the lock row refers to it).
    """
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, store_key).id
    lock = SyncLock(engine, store_id, store_key, **settings)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `pg_try_advisory_lock`, unique per database, schema, store."""
    digest = hashlib.blake2b(f"loyalty-sync:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
