"""The daily rollups the reports read, moved in the same statement batch as the entries they sum.

`point_rollups` holds per UTC day, store, kind and source the credit (positive points), debit
(negative points) and entry count; `product_rollups` per day, store, product and category the points
of the entry lines. `move_rollups` is called by `append_entries` for exactly the inserted entries,
in the caller's transaction; `verify_rollups` (run by `loyalty verify`) proves both equal what the
entries and lines add up to.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import Date, case, cast, func, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ledger._dialect import upsert_insert
from ledger.kinds import SourceKind
from ledger.models import Base, EntryLine, PointEntry, PointRollup, ProductRollup


@dataclass(frozen=True)
class LinePoints:
    """The share of an entry's points carried by one product (0: no product) and category (0)."""

    product_id: int
    category_id: int
    points: int


class _Entry(Protocol):
    @property
    def customer_id(self) -> int: ...
    @property
    def points(self) -> int: ...
    @property
    def kind(self) -> SourceKind: ...
    @property
    def source_ref(self) -> str: ...
    @property
    def idempotency_key(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def lines(self) -> tuple[LinePoints, ...]: ...


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of an aware datetime: the day an entry is rolled up under."""
    return moment.astimezone(UTC).date()


def move_rollups(session: Session, store_id: int, inserted: Sequence[_Entry]) -> None:
    """Add the inserted entries (and their lines) to the rollups: a few executemany statements."""
    if not inserted:
        return
    _move_point_rollups(session, store_id, inserted)
    lines = [(entry, line) for entry in inserted for line in entry.lines]
    if lines:
        _insert_lines(session, store_id, lines)
        _move_product_rollups(session, store_id, lines)


def _move_point_rollups(session: Session, store_id: int, inserted: Sequence[_Entry]) -> None:
    sums: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for entry in inserted:
        row = sums[(utc_day(entry.occurred_at), entry.kind.value, entry.kind.source.value)]
        row[0 if entry.points > 0 else 1] += entry.points
        row[2] += 1
    table = Base.metadata.tables["point_rollups"]
    statement = upsert_insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=["store_id", "day", "kind", "source"],
        set_={
            "credit": table.c.credit + statement.excluded.credit,
            "debit": table.c.debit + statement.excluded.debit,
            "entries": table.c.entries + statement.excluded.entries,
        },
    )
    # Sorted keys: concurrent writers lock rollup rows in one order, so they never deadlock.
    rows = [
        {"store_id": store_id, "day": day, "kind": kind, "source": source,
         "credit": c, "debit": d, "entries": n}
        for (day, kind, source), (c, d, n) in sorted(sums.items())
    ]  # fmt: skip
    session.connection().execute(statement, rows)


def _insert_lines(session: Session, store_id: int, lines: list[tuple[_Entry, LinePoints]]) -> None:
    table = Base.metadata.tables["entry_lines"]
    session.connection().execute(
        table.insert(),
        [
            {
                "store_id": store_id,
                "entry_key": entry.idempotency_key,
                "source_ref": entry.source_ref,
                "customer_id": entry.customer_id,
                "day": utc_day(entry.occurred_at),
                "product_id": line.product_id,
                "category_id": line.category_id,
                "points": line.points,
            }
            for entry, line in lines
        ],
    )


def _move_product_rollups(
    session: Session, store_id: int, lines: list[tuple[_Entry, LinePoints]]
) -> None:
    sums: dict[tuple[date, int, int], list[int]] = defaultdict(lambda: [0, 0])
    for entry, line in lines:
        row = sums[(utc_day(entry.occurred_at), line.product_id, line.category_id)]
        row[0] += line.points
        row[1] += 1
    table = Base.metadata.tables["product_rollups"]
    statement = upsert_insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=["store_id", "day", "product_id", "category_id"],
        set_={
            "points": table.c.points + statement.excluded.points,
            "lines": table.c.lines + statement.excluded.lines,
        },
    )
    rows = [
        {"store_id": store_id, "day": day, "product_id": product, "category_id": category,
         "points": points, "lines": count}
        for (day, product, category), (points, count) in sorted(sums.items())
    ]  # fmt: skip
    session.connection().execute(statement, rows)


# --- verification -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RollupDifference:
    """A rollup row that disagrees with what the entries (or lines) add up to."""

    table: str
    store_id: int
    key: tuple[Any, ...]
    rollup: tuple[int, ...] | None
    entries: tuple[int, ...] | None


def entry_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC day of a `UTCDateTime` column, in SQL, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    return func.date(column)


def verify_rollups(session: Session, store_id: int | None = None) -> list[RollupDifference]:
    """Both rollups recomputed from the entries and lines, and every purchase entry's lines summed
    against its points; [] when everything agrees. Reads aggregates only."""
    return [
        *_point_rollup_differences(session, store_id),
        *_product_rollup_differences(session, store_id),
        *_line_differences(session, store_id),
    ]


def _where_store(query: Any, column: Any, store_id: int | None) -> Any:
    return query if store_id is None else query.where(column == store_id)


def _point_rollup_differences(session: Session, store_id: int | None) -> list[RollupDifference]:
    day = entry_day(session, PointEntry.occurred_at)
    positive = func.sum(case((PointEntry.points > 0, PointEntry.points), else_=0))
    negative = func.sum(case((PointEntry.points < 0, PointEntry.points), else_=0))
    recomputed = _where_store(
        select(
            PointEntry.store_id,
            day,
            PointEntry.kind,
            positive,
            negative,
            func.count(),
        ).group_by(PointEntry.store_id, day, PointEntry.kind),
        PointEntry.store_id,
        store_id,
    )
    expected = {
        (s, _as_date(d), k, SourceKind(k).source.value): (int(c), int(db), int(n))
        for s, d, k, c, db, n in session.execute(recomputed)
    }
    stored = {
        (r.store_id, _as_date(r.day), r.kind, r.source): (r.credit, r.debit, r.entries)
        for r in session.execute(
            _where_store(select(PointRollup), PointRollup.store_id, store_id)
        ).scalars()
    }
    return _compare("point_rollups", expected, stored)


def _product_rollup_differences(session: Session, store_id: int | None) -> list[RollupDifference]:
    recomputed = _where_store(
        select(
            EntryLine.store_id,
            EntryLine.day,
            EntryLine.product_id,
            EntryLine.category_id,
            func.sum(EntryLine.points),
            func.count(),
        ).group_by(EntryLine.store_id, EntryLine.day, EntryLine.product_id, EntryLine.category_id),
        EntryLine.store_id,
        store_id,
    )
    expected = {
        (s, _as_date(d), p, c): (int(points), int(n))
        for s, d, p, c, points, n in session.execute(recomputed)
    }
    stored = {
        (r.store_id, _as_date(r.day), r.product_id, r.category_id): (r.points, r.lines)
        for r in session.execute(
            _where_store(select(ProductRollup), ProductRollup.store_id, store_id)
        ).scalars()
    }
    return _compare("product_rollups", expected, stored)


def _line_differences(session: Session, store_id: int | None) -> list[RollupDifference]:
    """Purchase entries whose lines do not add up to their points (or lines without an entry)."""
    lines = _where_store(
        select(
            EntryLine.store_id, EntryLine.entry_key, func.sum(EntryLine.points).label("points")
        ).group_by(EntryLine.store_id, EntryLine.entry_key),
        EntryLine.store_id,
        store_id,
    ).subquery()
    entries = _where_store(
        select(PointEntry.store_id, PointEntry.idempotency_key, PointEntry.points).where(
            PointEntry.kind == SourceKind.PURCHASE.value
        ),
        PointEntry.store_id,
        store_id,
    ).subquery()
    # Both directions, as two anti-joins: SQLite has no FULL OUTER JOIN before 3.39.
    missing_or_wrong = (
        select(entries.c.store_id, entries.c.idempotency_key, entries.c.points, lines.c.points)
        .outerjoin(
            lines,
            (lines.c.store_id == entries.c.store_id)
            & (lines.c.entry_key == entries.c.idempotency_key),
        )
        .where(lines.c.points.is_(None) | (lines.c.points != entries.c.points))
    )
    orphans = (
        select(lines.c.store_id, lines.c.entry_key, lines.c.points)
        .outerjoin(
            entries,
            (lines.c.store_id == entries.c.store_id)
            & (lines.c.entry_key == entries.c.idempotency_key),
        )
        .where(entries.c.idempotency_key.is_(None))
    )
    differences = [
        RollupDifference("entry_lines", s, (key,), _opt(line_points), (int(points),))
        for s, key, points, line_points in session.execute(missing_or_wrong)
    ]
    differences += [
        RollupDifference("entry_lines", s, (key,), (int(points),), None)
        for s, key, points in session.execute(orphans)
    ]
    return differences


def _compare(
    table: str, expected: Mapping[Any, Any], stored: Mapping[Any, Any]
) -> list[RollupDifference]:
    differences = []
    for key in sorted(expected.keys() | stored.keys(), key=repr):
        want, have = expected.get(key), stored.get(key)
        if want != have and not (want is None and have is not None and not any(have)):
            differences.append(RollupDifference(table, key[0], key[1:], have, want))
    return differences


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _opt(value: Any) -> tuple[int, ...] | None:
    return None if value is None else (int(value),)
