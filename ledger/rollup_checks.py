"""`loyalty verify`'s half for the reports: every rollup, and every entry's `balance_after`,
recomputed from the entries and lines and compared in SQL.

Each check is one or two aggregate queries that return only the rows that differ (`EXCEPT` both
ways, or a window function), so nothing but the differences comes back to Python, on SQLite and
PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import case, func, literal, or_, select, text, union_all
from sqlalchemy.orm import Session

from ledger.kinds import LIFETIME_KINDS, OUTSIDE_BALANCE_KINDS, SourceKind
from ledger.models import (
    CustomerEarning,
    EntryLine,
    PointEntry,
    PointRollup,
    ProductCustomerSum,
    ProductSpan,
)
from ledger.product_spans import ROOT, days_of, leaf_in_sql
from ledger.rollup_types import as_date, entry_day

VERIFY_WORK_MEM = "64MB"
_LIFETIME = sorted(kind.value for kind in LIFETIME_KINDS)
_OUTSIDE = sorted(kind.value for kind in OUTSIDE_BALANCE_KINDS)


@dataclass(frozen=True)
class RollupDifference:
    """A rollup row (or a stored running balance) that disagrees with what the entries or lines
    add up to. `rollup` is what is stored, `entries` what the entries give; None: no row."""

    table: str
    store_id: int
    key: tuple[Any, ...]
    rollup: tuple[int, ...] | None
    entries: tuple[int, ...] | None


def verify_rollups(session: Session, store_id: int | None = None) -> list[RollupDifference]:
    """Every rollup recomputed from the entries and lines, every purchase entry's lines summed
    against its points, every `balance_after` against the entries before it; [] when all agree."""
    if session.get_bind().dialect.name == "postgresql":
        # Whole-ledger aggregates: sort and hash in memory (this transaction only), not on disk.
        session.execute(text(f"SET LOCAL work_mem = '{VERIFY_WORK_MEM}'"))
    return [
        *_point_rollup_differences(session, store_id),
        *_product_span_differences(session, store_id),
        *_line_differences(session, store_id),
        *_product_customer_differences(session, store_id),
        *_customer_earning_differences(session, store_id),
        *_balance_after_differences(session, store_id),
    ]


def _where_store(query: Any, column: Any, store_id: int | None) -> Any:
    return query if store_id is None else query.where(column == store_id)


def _both_ways(
    session: Session, table: str, expected: Any, stored: Any, width: int, days: tuple[int, ...] = ()
) -> list[RollupDifference]:
    """The keys whose values differ between `expected` and `stored` (or that one side lacks).

    Both give rows (store, *key, *values), the key `width` columns wide after the store (its
    `days` positions are days, as either driver returns them), at most one row per key. One pass
    over each side: UNION ALL, then GROUP BY the key, keeping only the keys that disagree.
    """
    columns = len(expected.selected_columns)
    keys = [f"k{i}" for i in range(width + 1)]
    values = [f"v{i}" for i in range(columns - width - 1)]

    def side(query: Any, name: str) -> Any:
        labelled = [c.label(label) for c, label in zip(query.selected_columns, keys + values,
                                                       strict=True)]  # fmt: skip
        return query.with_only_columns(*labelled, literal(name).label("side"))

    both = union_all(side(expected, "e"), side(stored, "s")).subquery()
    picked = [
        func.max(case((both.c.side == name, both.c[v]))).label(f"{name}_{v}")
        for name in ("e", "s")
        for v in values
    ]
    count = {name: func.sum(case((both.c.side == name, 1), else_=0)) for name in ("e", "s")}
    differs = or_(
        count["e"] == 0,
        count["s"] == 0,
        *(func.max(case((both.c.side == "e", both.c[v]))) != func.max(
            case((both.c.side == "s", both.c[v])))
          for v in values),
    )  # fmt: skip
    rows = session.execute(
        select(*(both.c[k] for k in keys), count["e"], count["s"], *picked)
        .group_by(*(both.c[k] for k in keys))
        .having(differs)
    )
    found = []
    for row in rows:
        key = tuple(
            as_date(value) if position in days else value
            for position, value in enumerate(row[1 : width + 1], 1)
        )
        has_expected, has_stored = row[width + 1], row[width + 2]
        picked_values = row[width + 3 :]
        want = tuple(int(v) for v in picked_values[: len(values)]) if has_expected else None
        have = tuple(int(v) for v in picked_values[len(values) :]) if has_stored else None
        found.append(RollupDifference(table, int(row[0]), key, have, want))
    return sorted(found, key=repr)


def _point_rollup_differences(session: Session, store_id: int | None) -> list[RollupDifference]:
    day = entry_day(session, PointEntry.occurred_at)
    source = case(
        *((PointEntry.kind == kind.value, kind.source.value) for kind in SourceKind),
        else_=PointEntry.kind,
    )
    expected = _where_store(
        select(
            PointEntry.store_id,
            day,
            PointEntry.kind,
            source,
            func.sum(case((PointEntry.points > 0, PointEntry.points), else_=0)),
            func.sum(case((PointEntry.points < 0, PointEntry.points), else_=0)),
            func.count(),
        ).group_by(PointEntry.store_id, day, PointEntry.kind),
        PointEntry.store_id,
        store_id,
    )
    r = PointRollup
    stored = _where_store(
        select(r.store_id, r.day, r.kind, r.source, r.credit, r.debit, r.entries).where(
            (r.credit != 0) | (r.debit != 0) | (r.entries != 0)
        ),
        r.store_id,
        store_id,
    )
    return _both_ways(session, "point_rollups", expected, stored, 3, days=(1,))


def _product_span_differences(session: Session, store_id: int | None) -> list[RollupDifference]:
    """Each leaf against its day's lines, each other span against its two children (so the root
    holds all the lines, and any range read through the spans holds the range's lines)."""
    line, span = EntryLine, ProductSpan
    day_points = func.sum(line.points)
    leaves = _where_store(
        select(line.store_id, leaf_in_sql(session, line.day).label("span"), line.product_id,
               line.category_id, day_points.label("points"))
        .group_by(line.store_id, line.day, line.product_id, line.category_id)
        .having(day_points != 0),
        line.store_id,
        store_id,
    )  # fmt: skip
    parent = span.span // 2
    child_points = func.sum(span.points)
    parents = _where_store(
        select(span.store_id, parent.label("span"), span.product_id, span.category_id,
               child_points.label("points"))
        .where(span.span > ROOT)
        .group_by(span.store_id, parent, span.product_id, span.category_id)
        .having(child_points != 0),
        span.store_id,
        store_id,
    )  # fmt: skip
    both = union_all(leaves, parents).subquery()
    stored = _where_store(
        select(span.store_id, span.span, span.product_id, span.category_id, span.points).where(
            span.points != 0
        ),
        span.store_id,
        store_id,
    )
    return [
        replace(difference, key=(days_of(difference.key[0]), *difference.key[1:]))
        for difference in _both_ways(session, "product_spans", select(both), stored, 3)
    ]


def _product_customer_differences(session: Session, store_id: int | None) -> list[RollupDifference]:
    line = EntryLine
    expected = _where_store(
        select(
            line.store_id,
            line.product_id,
            line.customer_id,
            func.sum(line.points),
            func.count(func.distinct(line.source_ref)),
        ).group_by(line.store_id, line.product_id, line.customer_id),
        line.store_id,
        store_id,
    )
    r = ProductCustomerSum
    stored = _where_store(
        select(r.store_id, r.product_id, r.customer_id, r.points, r.purchases).where(
            (r.points != 0) | (r.purchases != 0)
        ),
        r.store_id,
        store_id,
    )
    return _both_ways(session, "product_customers", expected, stored, 2)


def _customer_earning_differences(session: Session, store_id: int | None) -> list[RollupDifference]:
    """Each day's earnings against the entries (days that net to 0 may have a row or not), then
    each running total against the days before it, over the stored rows themselves."""
    day = entry_day(session, PointEntry.occurred_at)
    earned = func.sum(PointEntry.points)
    expected = _where_store(
        select(PointEntry.store_id, PointEntry.customer_id, day, earned)
        .where(PointEntry.kind.in_(_LIFETIME))
        .group_by(PointEntry.store_id, PointEntry.customer_id, day)
        .having(earned != 0),
        PointEntry.store_id,
        store_id,
    )
    r = CustomerEarning
    stored = _where_store(
        select(r.store_id, r.customer_id, r.day, r.earned).where(r.earned != 0),
        r.store_id,
        store_id,
    )
    differences = _both_ways(session, "customer_earnings", expected, stored, 2, days=(2,))
    running = func.sum(r.earned).over(partition_by=r.customer_id, order_by=r.day)
    totals = _where_store(
        select(r.store_id, r.customer_id, r.day, r.total, running.label("running")),
        r.store_id,
        store_id,
    ).subquery()
    rows = session.execute(select(totals).where(totals.c.total != totals.c.running))
    differences += [
        RollupDifference("customer_earnings.total", s, (c, as_date(d)), (int(t),), (int(run),))
        for s, c, d, t, run in rows
    ]
    return differences


def _balance_after_differences(session: Session, store_id: int | None) -> list[RollupDifference]:
    """Entries whose stored `balance_after` is not the sum of their customer's spendable points
    up to and including them, in id order."""
    entry = PointEntry
    spendable = case((entry.kind.in_(_OUTSIDE), literal(0)), else_=entry.points)
    running = func.sum(spendable).over(partition_by=entry.customer_id, order_by=entry.id)
    computed = _where_store(
        select(
            entry.store_id,
            entry.idempotency_key,
            entry.balance_after,
            running.label("running"),
        ),
        entry.store_id,
        store_id,
    ).subquery()
    rows = session.execute(select(computed).where(computed.c.balance_after != computed.c.running))
    return [
        RollupDifference("point_entries.balance_after", s, (key,), (int(stored),), (int(run),))
        for s, key, stored, run in rows
    ]


def _line_differences(session: Session, store_id: int | None) -> list[RollupDifference]:
    """Purchase entries whose lines do not add up to their points (or lines without an entry)."""
    lines = _where_store(
        select(
            EntryLine.store_id, EntryLine.entry_key, func.sum(EntryLine.points).label("points")
        ).group_by(EntryLine.store_id, EntryLine.entry_key),
        EntryLine.store_id,
        store_id,
    )
    entries = _where_store(
        select(PointEntry.store_id, PointEntry.idempotency_key, PointEntry.points).where(
            PointEntry.kind == SourceKind.PURCHASE.value
        ),
        PointEntry.store_id,
        store_id,
    )
    return _both_ways(session, "entry_lines", entries, lines, 1)
