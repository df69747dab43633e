"""Purchase points per product and category over spans of days: what Points Sources reads.

`product_spans` is a segment tree over the calendar, one per store, product and category:

- span `LEAF + day.toordinal()` holds the entry lines of that UTC day (the leaves: every `date`
  up to 9999-12-31 fits below `2 * LEAF`);
- span `n < LEAF` holds the sum of spans `2n` and `2n + 1`, so span 1 holds all time.

A line moves its leaf and each of the leaf's 22 ancestors, in the transaction that records it
(`move_product_spans`, called by `ledger.rollups.move_rollups`). Any range of days is the sum of
at most two spans per level (`spans_between`), and each span's rows for every product lie side by
side in the primary key: the sources report over 90 days or over ten years reads a few rows per
product, however many entries the ledger holds and however full its days are. A line dated
years back moves the same 23 rows as one dated today (running totals per day would rewrite every
later day). `ledger.rollup_checks` proves each leaf against the lines and each other span against
its two children.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Integer, cast, func, literal_column
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import ColumnElement

from ledger._dialect import dialect_insert
from ledger.bulk import BulkStatement
from ledger.models import Base
from ledger.rollup_types import LinePoints, RolledEntry, utc_day

#: The first leaf: 2**22 > date.max.toordinal() (3,652,059), so every day has its leaf.
LEAF = 1 << 22
ROOT = 1
_ORDINAL_OF_JULIAN_DAY = 1721424.5  # SQLite: julianday('0001-01-01') is 1721425.5, ordinal 1


def leaf(day: date) -> int:
    """The span that holds one day."""
    return LEAF + day.toordinal()


def covering(day: date) -> list[int]:
    """The day's leaf and every span above it, up to the root: the rows a line on `day` moves."""
    spans = []
    span = leaf(day)
    while span >= ROOT:
        spans.append(span)
        span //= 2
    return spans


def days_of(span: int) -> str:
    """The days a span holds, as `loyalty verify` names them: `2024-01-05` for a leaf,
    `2024-01-01..2024-01-08` above (clipped to the days a `date` can be)."""
    level = LEAF.bit_length() - span.bit_length()
    first = max((span << level) - LEAF, 1)
    last = min(((span + 1) << level) - 1 - LEAF, date.max.toordinal())
    if first == last:
        return date.fromordinal(first).isoformat()
    return f"{date.fromordinal(first)}..{date.fromordinal(last)}"


def spans_between(first: date | None, last: date | None) -> list[int]:
    """The fewest spans that hold exactly the days from `first` to `last` (inclusive; None: that
    end open), at most two per level, in ascending order."""
    # An open end runs to the tree's edge (no day lies beyond date.min or date.max): all time is
    # the root alone.
    low = leaf(first) if first else LEAF
    high = leaf(last) + 1 if last else 2 * LEAF  # one past the range
    picked = []
    while low < high:
        if low & 1:
            picked.append(low)
            low += 1
        if high & 1:
            high -= 1
            picked.append(high)
        low //= 2
        high //= 2
    return sorted(picked)


def leaf_in_sql(session: Session, day: Any) -> ColumnElement[Any]:
    """`leaf(day)` of a `Date` column, in SQL, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        ordinal: Any = day - literal_column("DATE '0001-01-01'") + 1
    else:
        ordinal = cast(func.julianday(day) - _ORDINAL_OF_JULIAN_DAY, Integer)
    return cast(ordinal + LEAF, BigInteger)


def move_product_spans(
    session: Session, store_id: int, lines: Sequence[tuple[RolledEntry, LinePoints]]
) -> None:
    """Add the lines to their leaves and to every span above them: one executemany upsert, the
    rows in ascending key order (the lock order `append_entries` documents)."""
    # The leaves first, then each level summed from the one below it: a batch's lines share most
    # of their ancestors, so this adds far fewer sums than 23 a line.
    level: dict[tuple[int, int, int], int] = defaultdict(int)
    for entry, line in lines:
        level[(leaf(utc_day(entry.occurred_at)), line.product_id, line.category_id)] += line.points
    sums: dict[tuple[int, int, int], int] = {}
    while level:
        sums.update(level)
        above: dict[tuple[int, int, int], int] = defaultdict(int)
        for (span, product, category), points in level.items():
            if span > ROOT:
                above[(span >> 1, product, category)] += points
        level = above
    rows = [
        (store_id, span, product, category, points)
        for (span, product, category), points in sorted(sums.items())
    ]
    _MOVE_SPANS.run(session.connection(), rows)


def _spans_upsert(dialect: Dialect) -> ClauseElement:
    table = Base.metadata.tables["product_spans"]
    statement = dialect_insert(dialect, table)
    return statement.on_conflict_do_update(
        index_elements=["store_id", "span", "product_id", "category_id"],
        set_={"points": table.c.points + statement.excluded.points},
    )


_MOVE_SPANS = BulkStatement(
    _spans_upsert, ("store_id", "span", "product_id", "category_id", "points")
)
