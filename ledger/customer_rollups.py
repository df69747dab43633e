"""The per-customer rollups, moved by `ledger.rollups.move_rollups` with the entries they sum.

- `customer_earnings`: per customer and UTC day, the points of the lifetime kinds (earnings net of
  their revocations, and transfers) and the running total through that day. The points a customer
  earned between two days are the totals at the two ends: Top Earning Customers over any range
  reads two rows per customer, however many entries the ledger holds.
- `product_customers`: the entry lines per product and customer over all time, with the number of
  orders (source references) behind them: the per-product report over all time reads one index.

Both run under the balance-row locks `append_entries` takes first, so no other writer moves the
same customer's rows meanwhile.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from sqlalchemy import BigInteger, Date, bindparam, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement

from ledger._dialect import dialect_insert
from ledger.batches import IN_BATCH
from ledger.batches import chunks as _chunks
from ledger.bulk import BulkStatement, KeyedSelect
from ledger.models import Base, EntryLine
from ledger.rollup_types import LinePoints, RolledEntry, utc_day

_CHUNK = IN_BATCH

_TYPES = (
    bindparam("customer_id", type_=BigInteger()),
    bindparam("day", type_=Date()),
    bindparam("store_id", type_=BigInteger()),
    bindparam("delta", type_=BigInteger()),
)
# Each (customer, day) of a batch moves in two passes, the days of each customer in ascending
# order. First every later day's total moves by the day's points (a day after all of the
# customer's days, the sync's usual case, finds no row to move). Then the day's row takes its
# points: a new day starts at the total of the latest day before it (which by then holds the
# batch's earlier days too) plus its points; an existing day adds them to both columns.
_SHIFT_LATER_SQL = text(
    "UPDATE customer_earnings SET total = total + :delta"
    " WHERE customer_id = :customer_id AND day > :day"
).bindparams(_TYPES[0], _TYPES[1], _TYPES[3])
# (WHERE true: SQLite would otherwise read ON CONFLICT as a join's ON.)
_ADD_DAY_SQL = text(
    "INSERT INTO customer_earnings (customer_id, day, store_id, earned, total)"
    " SELECT :customer_id, :day, :store_id, :delta, COALESCE((SELECT total FROM customer_earnings"
    "  WHERE customer_id = :customer_id AND day < :day ORDER BY day DESC LIMIT 1), 0) + :delta"
    " WHERE true ON CONFLICT (customer_id, day) DO UPDATE SET"
    " earned = customer_earnings.earned + excluded.earned,"
    " total = customer_earnings.total + excluded.earned"
).bindparams(*_TYPES)
_SHIFT_LATER = BulkStatement(lambda _: _SHIFT_LATER_SQL, ("customer_id", "day", "delta"))
_ADD_DAY = BulkStatement(lambda _: _ADD_DAY_SQL, ("customer_id", "day", "store_id", "delta"))


def move_customer_earnings(
    session: Session, store_id: int, inserted: Sequence[RolledEntry]
) -> None:
    """Add the inserted entries of the lifetime kinds to their customers' days."""
    deltas: dict[tuple[int, date], int] = defaultdict(int)
    for entry in inserted:
        if entry.kind.counts_toward_lifetime:
            deltas[(entry.customer_id, utc_day(entry.occurred_at))] += entry.points
    moves = [(customer, day, delta) for (customer, day), delta in sorted(deltas.items()) if delta]
    if not moves:
        return
    connection = session.connection()
    _SHIFT_LATER.run(connection, moves)
    _ADD_DAY.run(connection, [(customer, day, store_id, delta) for customer, day, delta in moves])


def bought_before(
    session: Session, store_id: int, lines: Sequence[tuple[RolledEntry, LinePoints]]
) -> set[tuple[str, int, int]]:
    """The (source reference, product, customer) of these lines that earlier lines already have:
    a refund of an order is not another purchase of its products. Read before the lines go in."""
    refs = sorted({entry.source_ref for entry, _ in lines})
    seen: set[tuple[str, int, int]] = set()
    connection = session.connection()
    for chunk in _chunks(refs, _CHUNK):
        rows = _BOUGHT.rows(connection, chunk, store_id=store_id)
        seen.update((ref, int(product), int(customer)) for ref, product, customer in rows)
    return seen


_BOUGHT = KeyedSelect(
    lambda _: (
        select(EntryLine.source_ref, EntryLine.product_id, EntryLine.customer_id)
        .where(
            EntryLine.store_id == bindparam("store_id"),
            EntryLine.source_ref.in_(bindparam("keys", expanding=True)),
        )
        .distinct()
    )
)


def move_product_customers(
    session: Session,
    store_id: int,
    lines: Sequence[tuple[RolledEntry, LinePoints]],
    bought: set[tuple[str, int, int]],
) -> None:
    """Add the lines to their (product, customer) totals; a first line of an order for the pair
    counts one purchase."""
    sums: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    seen = set(bought)
    for entry, line in lines:
        row = sums[(line.product_id, entry.customer_id)]
        row[0] += line.points
        purchase = (entry.source_ref, line.product_id, entry.customer_id)
        if purchase not in seen:
            seen.add(purchase)
            row[1] += 1
    rows = [
        (store_id, product, customer, points, purchases)
        for (product, customer), (points, purchases) in sorted(sums.items())
    ]
    _MOVE_PRODUCT_CUSTOMERS.run(session.connection(), rows)


def _product_customers_upsert(dialect: Dialect) -> ClauseElement:
    table = Base.metadata.tables["product_customers"]
    statement = dialect_insert(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=["store_id", "product_id", "customer_id"],
        set_={
            "points": table.c.points + statement.excluded.points,
            "purchases": table.c.purchases + statement.excluded.purchases,
        },
    )


_MOVE_PRODUCT_CUSTOMERS = BulkStatement(
    _product_customers_upsert, ("store_id", "product_id", "customer_id", "points", "purchases")
)
