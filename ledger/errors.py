"""The ledger's own errors. The CLI and the worker turn each into one clear line."""

from __future__ import annotations

from datetime import datetime


class LedgerError(Exception):
    """Base of every error the ledger raises on purpose; the message is meant for a shop admin."""


class PointsOutOfRange(LedgerError, ValueError):
    """An entry, or the balance or lifetime it would leave, lies beyond `POINTS_LIMIT`.

    Raised before anything is written (an entry) or inside the transaction that would write it (a
    balance): the caller's unit of work rolls back, and the ledger never holds what it cannot hold.
    """


class ConcurrentAppend(LedgerError):
    """Another writer recorded one of a batch's keys for another customer while the batch was
    being written; the transaction rolls back and the caller may simply run again."""


class InvalidAdjustment(LedgerError, ValueError):
    """An adjustment request is malformed; the message names the field."""


class SchemaBehind(LedgerError):
    """The database schema is older than this code: run `loyalty db upgrade`."""


class DatabaseUnusable(LedgerError):
    """The ledger database cannot be opened or used; the message says what to do about it."""


class SyncAlreadyRunning(LedgerError):
    """Another sync of the same store holds the store's sync lock."""

    def __init__(self, store_key: str, since: datetime | None) -> None:
        when = since.strftime("%Y-%m-%d %H:%M:%S UTC") if since else "an unknown time"
        super().__init__(f"a sync of this store is already running (since {when})")
        self.store_key = store_key
        self.since = since


class SyncLockLost(LedgerError):
    """The run no longer holds the store's sync lock (its PostgreSQL connection ended, or its
    SQLite lock row was taken over): it stops before writing more, as another sync may run."""

    def __init__(self, store_key: str) -> None:
        super().__init__(
            f"the sync lock of {store_key} was lost while the run went on (its database"
            " connection ended, or another run took it over): stopped before writing more;"
            " the next sync finishes the job"
        )
        self.store_key = store_key
