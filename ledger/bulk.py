"""Rows written in bulk, for the sync's hot path: one executemany statement, no ORM object a row.

For `sync.order_points` (tracked orders, refund details), whose pages write a hundred rows at a
time: building and flushing an ORM object per row cost more than deciding the orders.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from ledger._dialect import upsert_insert


def upsert_rows(
    session: Session, table: Table | Any, rows: Sequence[dict[str, Any]], keys: Collection[str]
) -> None:
    """Insert `rows` into `table`, or update every other column where the `keys` exist already,
    in the session's transaction (pending ORM objects are flushed first: rows may name them).

    Each key may appear once in `rows` (PostgreSQL refuses to update a row twice in one statement).
    """
    session.flush()
    if not rows:
        return
    statement = upsert_insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=sorted(keys),
        set_={c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys},
    )
    session.connection().execute(statement, list(rows))
