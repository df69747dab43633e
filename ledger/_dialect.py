"""INSERT ... ON CONFLICT for whichever database the session is on (both dialects spell it alike)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session


def upsert_insert(session: Session, table: Table | Any) -> Any:
    """A dialect-specific `insert(table)` offering `on_conflict_do_nothing` and `returning`."""
    return dialect_insert(session.get_bind().dialect, table)


def dialect_insert(dialect: Dialect, table: Table | Any) -> Any:
    """`upsert_insert` for a dialect rather than a session (statements built once per dialect)."""
    if dialect.name == "postgresql":
        return postgresql.insert(table)
    if dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the ledger supports SQLite and PostgreSQL, not {dialect.name}")
