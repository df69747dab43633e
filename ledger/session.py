"""Engines and units of work for the ledger database (SQLite or PostgreSQL).

Every writer (the sync, the worker, an admin's `loyalty adjust`) opens `session_scope(engine)`
around one unit of work. Several processes may write the same database at once; this module
makes that safe on SQLite (WAL, busy timeout, write lock taken at BEGIN) and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DatabaseError, DataError, IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from ledger import revisions
from ledger.engine import READONLY_OPTION, create_engine_for, safe_url
from ledger.errors import DatabaseUnusable, SchemaBehind

__all__ = [
    "check_database_exists",
    "check_schema_current",
    "create_engine_for",
    "database_errors",
    "refresh_planner_statistics",
    "safe_url",
    "session_scope",
]


@contextmanager
def session_scope(engine: Engine, *, readonly: bool = False) -> Iterator[Session]:
    """One unit of work: commits when the block succeeds, rolls back on any exception.

    `readonly=True` (reports) never commits, and on SQLite starts a deferred transaction so it
    does not take the write lock.
    """
    bind = engine.execution_options(**{READONLY_OPTION: True}) if readonly else engine
    session = Session(bind=bind, expire_on_commit=False)
    try:
        yield session
        if readonly:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def check_schema_current(engine: Engine) -> None:
    """Raise `SchemaBehind` unless the database is migrated to exactly this code's head revision."""
    current, head = revisions.current_revision(engine), revisions.head_revision()
    if current == head:
        return
    where = f"the database at {safe_url(engine.url)}"
    if current is None:
        state = "is empty (no ledger schema)"
    elif current in revisions.known_revisions():
        state = f"is at revision {current}"
    else:
        raise SchemaBehind(
            f"{where} is at revision {current}, which this version does not know (it needs {head}):"
            " it was migrated by a newer version; run that version or restore a matching backup"
        )
    raise SchemaBehind(f"{where} {state}, this version needs {head}: run `loyalty db upgrade`")


def check_database_exists(engine: Engine) -> None:
    """Raise `SchemaBehind` if the engine is on a SQLite file that does not exist, before SQLite
    would create an empty one (a mistyped path, or a ledger never created)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return
    path = Path(database)
    if database.startswith("file:") or path.exists() or not path.parent.is_dir():
        return  # URI filenames are SQLite's call; a missing directory fails to open, with advice
    raise SchemaBehind(
        f"the database at {safe_url(engine.url)} does not exist (no file {database}): run"
        " `loyalty db upgrade` to create it, or fix [database] url"
    )


LEDGER_TABLES_TO_ANALYZE = (
    "customers",
    "point_entries",
    "balances",
    "tracked_orders",
    "refund_details",
    # the reports' rollups grow with the entries: their seeks need the planner to know it
    "point_rollups",
    "entry_lines",
    "product_spans",
    "customer_earnings",
    "product_customers",
)


def refresh_planner_statistics(session: Session) -> None:
    """On PostgreSQL, ANALYZE the tables a sync grows, so its per-page queries use their indexes.

    A first sync fills empty tables faster than autovacuum samples them (and some servers run
    without it); with empty-table statistics the planner scans whole tables for every page, and
    a full sync's cost grows with the square of the store. SQLite needs nothing here.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(text(f"ANALYZE {', '.join(LEDGER_TABLES_TO_ANALYZE)}"))


# What to do, by what the driver said: (words in its message, advice). First match wins.
_ADVICE = (
    (
        ("file is not a database", "malformed", "not a database", "disk image"),
        "the SQLite file is damaged: restore it from a backup",
    ),
    (
        ("readonly database", "read-only", "read only"),
        "it is read-only: make the file, and its directory (SQLite writes -wal and -shm files"
        " beside it), writable by this user",
    ),
    (
        ("unable to open database file",),
        "check that its directory exists and is writable by this user, or fix [database] url",
    ),
    (
        ("database is locked",),
        "another process holds it too long: check for a stuck `loyalty` process",
    ),
    (
        ("connection refused", "connection failed", "could not connect", "timeout expired"),
        "is the PostgreSQL server running and reachable? Start it, or fix [database] url",
    ),
    (
        ("does not exist", "authentication failed", "password"),
        "fix [database] url (server, database, user) or create the database",
    ),
)


@contextmanager
def database_errors(url: str | URL) -> Iterator[None]:
    """Turn a database that cannot be used (down, damaged, read-only, missing) into one
    DatabaseUnusable line: which database, what the driver said, and what to do.

    Constraint violations and SQL errors pass through untouched: those are bugs, not an
    unusable database.
    """
    try:
        yield
    except (IntegrityError, ProgrammingError, DataError):
        raise
    except DatabaseError as error:
        lines = str(error.orig or error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        advice = next(
            (what for words, what in _ADVICE if any(w in reason.lower() for w in words)),
            "check [database] url and that the database server is up",
        )
        raise DatabaseUnusable(
            f"cannot use the database {safe_url(url)}: {reason.rstrip('.')}; {advice}"
        ) from error
