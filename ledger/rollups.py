"""The rollups the reports read, moved in the same transaction as the entries they sum.

`point_rollups` holds per UTC day, store, kind and source the credit (positive points), debit
(negative points) and entry count; `product_spans` (`ledger.product_spans`) per store, product,
category and span of days the points of the entry lines; `product_customers` and
`customer_earnings` (`ledger.customer_rollups`) the lines per product and customer, and each
customer's earnings per day with their running total.
`move_rollups` is called by `append_entries` for exactly the inserted entries, in the caller's
transaction; `ledger.rollup_checks.verify_rollups` (run by `loyalty verify`) proves them all equal
what the entries and lines add up to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

from ledger._dialect import dialect_insert
from ledger.bulk import BulkStatement
from ledger.customer_rollups import bought_before, move_customer_earnings, move_product_customers
from ledger.models import Base
from ledger.product_spans import move_product_spans
from ledger.rollup_types import LinePoints, RolledEntry, entry_day, utc_day

__all__ = ["LinePoints", "entry_day", "move_rollups", "utc_day"]


def move_rollups(session: Session, store_id: int, inserted: Sequence[RolledEntry]) -> None:
    """Add the inserted entries (and their lines) to the rollups: a few executemany statements,
    each table's rows in ascending key order (the lock order `append_entries` documents)."""
    if not inserted:
        return
    _move_point_rollups(session, store_id, inserted)
    lines = [(entry, line) for entry in inserted for line in entry.lines]
    if lines:
        bought = bought_before(session, store_id, lines)
        _insert_lines(session, store_id, lines)
        move_product_spans(session, store_id, lines)
        move_product_customers(session, store_id, lines, bought)
    move_customer_earnings(session, store_id, inserted)


def _move_point_rollups(session: Session, store_id: int, inserted: Sequence[RolledEntry]) -> None:
    sums: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry in inserted:
        row = sums[(utc_day(entry.occurred_at), entry.kind.value, entry.kind.source.value)]
        row[0 if entry.points > 0 else 1] += entry.points
        row[2] += 1
    # Sorted keys: concurrent writers lock rollup rows in one order, so they never deadlock.
    _MOVE_POINT_ROLLUPS.run(
        session.connection(),
        [
            (store_id, day, kind, source, c, d, n)
            for (day, kind, source), (c, d, n) in sorted(sums.items())
        ],
    )


def _point_rollups_upsert(dialect: Dialect) -> ClauseElement:
    table = Base.metadata.tables["point_rollups"]
    statement = dialect_insert(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=["store_id", "day", "kind", "source"],
        set_={
            "credit": table.c.credit + statement.excluded.credit,
            "debit": table.c.debit + statement.excluded.debit,
            "entries": table.c.entries + statement.excluded.entries,
        },
    )


_MOVE_POINT_ROLLUPS = BulkStatement(
    _point_rollups_upsert, ("store_id", "day", "kind", "source", "credit", "debit", "entries")
)
_INSERT_LINES = BulkStatement(
    lambda dialect: Base.metadata.tables["entry_lines"].insert(),
    ("store_id", "entry_key", "source_ref", "customer_id", "day", "product_id", "category_id",
     "points"),
)  # fmt: skip


def _insert_lines(
    session: Session, store_id: int, lines: list[tuple[RolledEntry, LinePoints]]
) -> None:
    _INSERT_LINES.run(
        session.connection(),
        [
            (
                store_id,
                entry.idempotency_key,
                entry.source_ref,
                entry.customer_id,
                utc_day(entry.occurred_at),
                line.product_id,
                line.category_id,
                line.points,
            )
            for entry, line in lines
        ],
    )
