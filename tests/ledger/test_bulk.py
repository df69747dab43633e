"""The lean executemany path (`ledger.bulk.BulkStatement`): it writes what SQLAlchemy's own
executemany of the same statement writes, on each database, and the hot path keeps its lock order."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Date, DateTime, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ledger import customer_rollups, entries, product_spans, rollups
from ledger.bulk import BulkStatement, KeyedSelect, _processor, upsert_rows, upsert_statement
from ledger.entries import Holder, NewEntry, RefHolding, append_entries, ref_holdings
from ledger.kinds import SourceKind
from ledger.models import Base, Customer, PointEntry, Store, TrackedOrder
from ledger.rollup_checks import verify_rollups
from ledger.rollups import LinePoints
from ledger.types import UTCDateTime

NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
PARIS = timezone(timedelta(hours=2))


def _table(connection: Connection, name: str) -> list[tuple[Any, ...]]:
    # Raw rows as the driver reads them (on SQLite the stored text of dates and times), but for
    # the surrogate ids (PostgreSQL's sequences are not rolled back with the savepoint).
    columns = ", ".join(c.name for c in Base.metadata.tables[name].columns if c.name != "id")
    rows = connection.exec_driver_sql(f"SELECT {columns} FROM {name}").fetchall()
    return sorted((tuple(row) for row in rows), key=repr)


@contextmanager
def _undone(session: Session) -> Iterator[Connection]:
    savepoint = session.begin_nested()
    try:
        yield session.connection()
    finally:
        savepoint.rollback()


def _both_ways(
    session: Session, statement: BulkStatement, rows: Sequence[tuple[Any, ...]], table: str
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], int]:
    """The table after the lean path and after SQLAlchemy's executemany of the same statement."""
    with _undone(session) as connection:
        count = statement.run(connection, rows)
        lean = _table(connection, table)
    with _undone(session) as connection:
        built = statement.build(connection.dialect)
        connection.execute(built, [dict(zip(statement.columns, row, strict=True)) for row in rows])
        plain = _table(connection, table)
    return lean, plain, count


def test_each_hot_statement_writes_what_sqlalchemy_writes(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    s, a, b = store.id, alice.id, bob.id
    session.flush()
    day = date(2024, 4, 30)
    cases: list[tuple[BulkStatement, list[tuple[Any, ...]], str]] = [
        (
            entries._INSERT_ENTRIES,
            [
                (s, a, 5, "purchase", "order:1", "order:1#1", "v1", NOW, NOW, None, 5),
                (
                    s,
                    b,
                    -3,
                    "purchase",
                    "order:2",
                    "order:2#1",
                    None,
                    datetime(2024, 4, 30, 23, 30, tzinfo=PARIS),
                    NOW,
                    "a note",
                    -3,
                ),
            ],
            "point_entries",
        ),
        (entries._CREATE_BALANCES, [(a, s, NOW), (b, s, NOW)], "balances"),
        (
            rollups._MOVE_POINT_ROLLUPS,
            [
                (s, day, "purchase", "order", 7, -2, 3),
                (s, date(1, 1, 1), "bonus", "bonus", 0, 0, 1),
            ],
            "point_rollups",
        ),
        (
            rollups._INSERT_LINES,
            [
                (s, "order:1#1", "order:1", a, day, 11, 2, 5),
                (s, "order:1#1", "order:1", a, day, 0, 0, 1),
            ],
            "entry_lines",
        ),
        (
            product_spans._MOVE_SPANS,
            [(s, span, 11, 2, 5) for span in product_spans.covering(day)],
            "product_spans",
        ),
        (
            customer_rollups._MOVE_PRODUCT_CUSTOMERS,
            [(s, 11, a, 5, 1), (s, 12, b, -4, 0)],
            "product_customers",
        ),
        (customer_rollups._ADD_DAY, [(a, day, s, 5), (b, day, s, -2)], "customer_earnings"),
    ]
    for statement, rows, table in cases:
        lean, plain, count = _both_ways(session, statement, rows, table)
        assert lean == plain, table
        assert len(lean) == count == len(rows), table


def test_updates_and_the_tracked_orders_upsert_write_what_sqlalchemy_writes(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    s, a, b = store.id, alice.id, bob.id
    day = date(2024, 4, 30)
    session.flush()
    connection = session.connection()
    entries._CREATE_BALANCES.run(connection, [(a, s, NOW), (b, s, NOW)])
    customer_rollups._ADD_DAY.run(connection, [(a, day, s, 2), (a, day + timedelta(2), s, 3)])
    tracked = (
        "store_id", "order_id", "customer_id", "wc_customer_id", "status", "modified_at",
        "points", "rule_version", "tier", "refund_ids", "fingerprint", "last_seen_at", "deleted",
    )  # fmt: skip
    upsert = upsert_statement(TrackedOrder.__table__, tracked, ("order_id", "store_id"))
    upsert.run(connection, [(s, 1, a, 7, "processing", NOW, 5, "v1", None, "[]", "f1", NOW, False)])
    cases: list[tuple[BulkStatement, list[tuple[Any, ...]], str]] = [
        (entries._MOVE_BALANCES, [(5, 7, 0, NOW, a), (-3, 0, 2, NOW, b)], "balances"),
        (
            customer_rollups._SHIFT_LATER,
            [(a, day - timedelta(1), 4), (a, day, -1)],
            "customer_earnings",
        ),
        (
            customer_rollups._ADD_DAY,
            [(a, day - timedelta(1), s, 4), (a, day + timedelta(1), s, 7), (a, day, s, 1)],
            "customer_earnings",
        ),
        (
            upsert,
            [
                (
                    s,
                    1,
                    b,
                    None,
                    "completed",
                    datetime(2024, 1, 1, tzinfo=PARIS),
                    9,
                    None,
                    "gold",
                    "[3]",
                    "f2",
                    NOW,
                    True,
                ),
                (s, 2, a, 7, "processing", NOW, 0, "v1", None, "[]", "f3", NOW, False),
            ],
            "tracked_orders",
        ),
    ]
    touched = {"balances": 2, "customer_earnings": 3, "tracked_orders": 2}
    for statement, rows, table in cases:
        lean, plain, count = _both_ways(session, statement, rows, table)
        assert lean == plain, table
        assert count == touched[table], table


def test_the_lean_path_counts_only_what_it_inserted(
    session: Session, store: Store, alice: Customer
) -> None:
    session.flush()
    connection = session.connection()
    row = (store.id, alice.id, 5, "purchase", "order:1", "order:1#1", None, NOW, NOW, None, 5)
    assert entries._INSERT_ENTRIES.run(connection, [row]) == 1
    other = (store.id, alice.id, 6, "purchase", "order:2", "order:2#1", None, NOW, NOW, None, 11)
    assert entries._INSERT_ENTRIES.run(connection, [row, other]) == 1
    assert entries._INSERT_ENTRIES.run(connection, []) == 0


def test_datetimes_written_by_the_lean_path_read_back_aware_utc(
    session: Session, store: Store, alice: Customer
) -> None:
    occurred = datetime(2024, 4, 30, 23, 30, 0, 5, tzinfo=PARIS)
    append_entries(
        session,
        store.id,
        [NewEntry(alice.id, 5, SourceKind.PURCHASE, "order:1", "order:1#1", occurred)],
        now=NOW,
    )
    stored = session.query(PointEntry).one()
    assert stored.occurred_at == occurred
    assert stored.occurred_at.tzinfo is UTC
    assert stored.recorded_at == NOW
    assert stored.recorded_at.tzinfo is UTC


def test_a_naive_datetime_is_refused_by_the_lean_path(
    session: Session, store: Store, alice: Customer
) -> None:
    session.flush()
    naive = datetime(2024, 4, 30, 12, 0)
    with pytest.raises(ValueError, match="naive"):
        entries._CREATE_BALANCES.run(session.connection(), [(alice.id, store.id, naive)])


def test_sqlite_dates_and_times_are_formatted_as_sqlalchemy_formats_them() -> None:
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    values: dict[Any, list[Any]] = {
        UTCDateTime(): [
            NOW,
            datetime(2024, 4, 30, 23, 30, tzinfo=PARIS),
            datetime(1, 1, 2, tzinfo=UTC),
            datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            datetime(2024, 5, 6, 7, 8, 9, 120, tzinfo=UTC),
            datetime(
                2024, 5, 6, 7, 8, 9, tzinfo=timezone(timedelta(0), "Z")
            ),  # UTC, another object
            None,
        ],
        DateTime(): [datetime(2024, 1, 2, 3, 4, 5), datetime(5, 1, 1), NOW, date(2024, 1, 2), None],
        Date(): [date(2024, 1, 2), date(1, 1, 1), datetime(2024, 1, 2, 3, 4), None],
    }
    for type_, cases in values.items():
        fast, plain = _processor(type_, dialect), type_._cached_bind_processor(dialect)
        assert fast is not None
        assert plain is not None
        assert fast is not plain
        assert [fast(v) for v in cases] == [plain(v) for v in cases], type(type_).__name__


def test_upsert_rows_updates_existing_rows_and_inserts_new_ones(
    session: Session, store: Store, alice: Customer
) -> None:
    def row(order_id: int, points: int) -> dict[str, Any]:
        return {
            "store_id": store.id, "order_id": order_id, "customer_id": alice.id,
            "wc_customer_id": 7, "status": "processing", "modified_at": NOW, "points": points,
            "rule_version": "v1", "tier": None, "refund_ids": "[]", "fingerprint": "f",
            "last_seen_at": NOW, "deleted": False,
        }  # fmt: skip

    upsert_rows(session, TrackedOrder.__table__, [row(1, 5)], ("store_id", "order_id"))
    upsert_rows(session, TrackedOrder.__table__, [row(1, 9), row(2, 3)], ("store_id", "order_id"))
    found = {t.order_id: t.points for t in session.query(TrackedOrder)}
    assert found == {1: 9, 2: 3}


def test_a_statement_returning_rows_is_refused() -> None:
    from sqlalchemy.dialects import sqlite

    returning = BulkStatement(
        lambda _: PointEntry.__table__.insert().returning(PointEntry.__table__.c.id), ("points",)
    )
    with pytest.raises(ValueError, match="return rows"):
        returning.sql(sqlite.dialect())


def test_append_entries_locks_balances_then_entries_then_rollups_in_key_order_then_balances(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    """The lock order `append_entries` documents, read from the statements it sends."""
    session.flush()
    sent: list[tuple[str, list[Any]]] = []

    def record(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        sent.append((re.sub(r"\s+", " ", statement), list(params) if many else [params]))

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", record)
    day = datetime(2024, 4, 29, 10, tzinfo=UTC)
    batch = [
        NewEntry(bob.id, 8, SourceKind.PURCHASE, "order:2", "order:2#1", day,
                 lines=(LinePoints(12, 3, 5), LinePoints(11, 2, 3))),
        NewEntry(alice.id, 5, SourceKind.PURCHASE, "order:1", "order:1#1", day + timedelta(1),
                 lines=(LinePoints(11, 2, 5),)),
    ]  # fmt: skip
    append_entries(session, store.id, batch, now=NOW)
    event.remove(connection, "before_cursor_execute", record)

    def first(pattern: str) -> int:
        return next(i for i, (sql, _) in enumerate(sent) if re.match(pattern, sql))

    order = [
        first(r"INSERT INTO balances"),
        first(r"SELECT balances\.customer_id"),
        first(r"INSERT INTO point_entries"),
        first(r"INSERT INTO point_rollups"),
        first(r"INSERT INTO product_spans"),
        first(r"INSERT INTO product_customers"),
        first(r"INSERT INTO customer_earnings"),
        first(r"UPDATE balances"),
    ]
    assert order == sorted(order)
    select_sql = sent[order[1]][0]
    assert "ORDER BY balances.customer_id" in select_sql
    if session.get_bind().dialect.name == "postgresql":
        assert "FOR UPDATE" in select_sql

    def rows(pattern: str) -> list[Any]:
        return sent[first(pattern)][1]

    customers = sorted([alice.id, bob.id])
    assert [r[0] for r in rows(r"INSERT INTO balances")] == customers
    assert [r[-1] for r in rows(r"UPDATE balances")] == customers
    spans = [tuple(r[1:4]) for r in rows(r"INSERT INTO product_spans")]
    assert spans == sorted(spans)
    assert len(spans) == len(set(spans))
    pairs = [tuple(r[1:3]) for r in rows(r"INSERT INTO product_customers")]
    assert pairs == sorted(pairs)
    rollup_keys = [tuple(r[1:4]) for r in rows(r"INSERT INTO point_rollups")]
    assert rollup_keys == sorted(rollup_keys)
    # The entries go in (occurred_at, key) order, so ids and balances follow them.
    assert [r[5] for r in rows(r"INSERT INTO point_entries")] == ["order:2#1", "order:1#1"]
    covered = set(product_spans.covering(day.date())) | set(
        product_spans.covering(day.date() + timedelta(1))
    )
    assert len(spans) == len(covered) + 23
    assert session.execute(text("SELECT count(*) FROM product_spans")).scalar_one() == len(spans)


def test_customer_earnings_hold_their_running_totals_whatever_the_order_of_the_days(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    """Batches mixing days before, between, on and after the customers' recorded days, several
    per customer, earnings and revocations: `verify_rollups` proves every day and total."""
    rng = random.Random(12)
    start = datetime(2024, 1, 1, 9, tzinfo=UTC)
    kinds = (SourceKind.PURCHASE, SourceKind.PURCHASE, SourceKind.ADJUSTMENT)
    serial = 0
    for _ in range(12):
        batch = []
        for _ in range(rng.randint(1, 8)):
            serial += 1
            points = rng.choice((-1, 1)) * rng.randint(1, 40)
            batch.append(
                NewEntry(
                    rng.choice((alice.id, bob.id)),
                    points,
                    rng.choice(kinds),
                    f"order:{serial}",
                    f"order:{serial}#1",
                    start + timedelta(days=rng.randint(0, 20), hours=rng.randint(0, 30)),
                )
            )
        append_entries(session, store.id, batch, now=NOW)
        assert [d for d in verify_rollups(session, store.id) if "earnings" in d.table] == []
    assert session.execute(text("SELECT count(*) FROM customer_earnings")).scalar_one() > 20


def test_each_keyed_lookup_reads_what_sqlalchemy_reads(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    s = store.id
    line = (LinePoints(11, 2, 5), LinePoints(12, 0, 3))
    batch = [
        NewEntry(alice.id, 8, SourceKind.PURCHASE, "order:1", "order:1#1", NOW, lines=line),
        NewEntry(bob.id, 4, SourceKind.PURCHASE, "order:2", "order:2#1", NOW),
        NewEntry(bob.id, -4, SourceKind.PURCHASE, "order:2", "order:2#2", NOW),
    ]
    append_entries(session, s, batch, now=NOW)
    refs = ["order:1", "order:2", "order:3"]
    cases: list[tuple[KeyedSelect, list[Any], dict[str, Any]]] = [
        (entries._REF_HOLDINGS, refs, {"store_id": s, "expiry": SourceKind.EXPIRY.value}),
        (entries._REF_LINES, refs, {"store_id": s}),
        (entries._RECORDED_KEYS, ["order:1#1", "order:2#2", "order:2#3"], {"store_id": s}),
        (entries._LOCK_BALANCES, sorted([alice.id, bob.id, bob.id + 100]), {}),
        (customer_rollups._BOUGHT, refs, {"store_id": s}),
    ]
    connection = session.connection()
    for lookup, keys, values in cases:
        lean = [tuple(row) for row in lookup.rows(connection, keys, **values)]
        built = lookup.build(connection.dialect)
        plain = [tuple(row) for row in connection.execute(built, {"keys": keys, **values})]
        assert lean == plain
        assert lean
    ordered = entries._LOCK_BALANCES.rows(connection, sorted([bob.id, alice.id]))
    assert [row[0] for row in ordered] == sorted([alice.id, bob.id])


def test_ref_holdings_sees_what_the_session_has_not_flushed_yet(
    session: Session, store: Store, alice: Customer
) -> None:
    session.add(
        PointEntry(
            store_id=store.id, customer_id=alice.id, points=5, kind="purchase",
            source_ref="order:9", idempotency_key="order:9#1", occurred_at=NOW,
            recorded_at=NOW, balance_after=5,
        )
    )  # fmt: skip
    assert ref_holdings(session, store.id, ["order:9"]) == {
        "order:9": RefHolding(5, 1, holders=(Holder(alice.id, 5),))
    }
