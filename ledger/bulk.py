"""Rows written in bulk, for the sync's hot path: one statement compiled once, run for many rows.

For `append_entries` and the rollups it moves, and for `sync.order_points` (tracked orders, refund
details), whose batches write hundreds of rows to each of a few tables. SQLAlchemy's executemany
costs a Python-level pass per row (parameters built as dicts, compiled-parameter construction,
one bind processor call per value through its type machinery) and a cache-key walk per
statement: on a full sync that was more CPU than the database's own work. A `BulkStatement`
instead compiles its statement once per dialect, turns each row (a tuple, in the statement's
column order) into the driver's parameters with the bind processors fetched once, and hands the
whole list to the driver's `executemany` (through `Connection.exec_driver_sql`, so the
transaction, the events and the error wrapping are SQLAlchemy's as usual).

What is written is what SQLAlchemy would write: the same compiled SQL, the same processors (the
SQLite `DATE` and `DATETIME` storage formats through the same strings, faster), the column
defaults SQLAlchemy would add; `tests/ledger/test_bulk.py` compares both paths on each database.
Statements with RETURNING are not for this path (SQLite's executemany cannot return rows): it
returns the driver's rowcount instead, the rows inserted or updated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeDecorator

from ledger._dialect import dialect_insert
from ledger.types import UTCDateTime

Row = Sequence[Any]
_PYFORMAT = re.compile(r"%\(([^)]+)\)s")


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: Turns a row (values in `columns` order) into the driver's parameters.
    convert: Callable[[Row], tuple[Any, ...]] | None


class BulkStatement:
    """A statement for many rows: `build(dialect)` gives it (an insert, upsert, update or text
    construct, without RETURNING), `columns` the names of the values each row carries, in order.
    Compiled once per dialect, on first use."""

    def __init__(self, build: Callable[[Dialect], ClauseElement], columns: Sequence[str]) -> None:
        self.build = build
        self.columns = tuple(columns)
        self._compiled: dict[tuple[str, str, str], _Compiled] = {}

    def run(self, connection: Connection, rows: Sequence[Row]) -> int:
        """Execute the statement once per row, in order, in the connection's transaction; the
        number of rows the database says it inserted or updated."""
        if not rows:
            return 0
        dialect = connection.dialect
        key = (dialect.name, dialect.driver, str(dialect.paramstyle))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        parameters = list(rows) if compiled.convert is None else list(map(compiled.convert, rows))
        if len(parameters) == 1:  # a one-row executemany is not one on every driver
            return int(connection.exec_driver_sql(compiled.sql, parameters[0]).rowcount)
        return int(connection.exec_driver_sql(compiled.sql, parameters).rowcount)

    def sql(self, dialect: Dialect) -> str:
        """The SQL the driver runs (for tests and for reading)."""
        return self._compile(dialect).sql

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.build(dialect).compile(
            dialect=dialect, column_keys=list(self.columns), for_executemany=True
        )
        assert isinstance(compiled, SQLCompiler)
        if compiled.effective_returning:
            raise ValueError("a BulkStatement cannot return rows (SQLite's executemany cannot)")
        sql = compiled.string
        if compiled.positiontup is not None:
            names = list(compiled.positiontup)
        else:  # pyformat (psycopg): rendered as positional %s, the names in their order
            names = _PYFORMAT.findall(sql)
            sql = _PYFORMAT.sub("%s", sql)
        defaults = {c.key: c for c in compiled.insert_prefetch}
        parts: list[str] = []
        namespace: dict[str, Any] = {}
        for position, name in enumerate(names):
            bind = compiled.binds[name]
            processor = _processor(bind.type, dialect)
            if name in self.columns:
                value = f"r[{self.columns.index(name)}]"
                if processor is not None:
                    namespace[f"p{position}"] = processor
                    value = f"p{position}({value})"
            else:
                constant = _constant(name, bind, defaults.get(name))
                namespace[f"c{position}"] = processor(constant) if processor else constant
                value = f"c{position}"
            parts.append(value)
        identity = parts == [f"r[{i}]" for i in range(len(self.columns))]
        # One generated function per statement: a row's parameters in a single tuple display.
        convert = None if identity else eval(f"lambda r: ({', '.join(parts)},)", namespace)  # noqa: S307
        return _Compiled(sql, convert)


def _constant(name: str, bind: Any, column: Any) -> Any:
    """A parameter no row carries: a column's scalar default, or a value bound in the statement."""
    if column is not None:
        default = column.default
        if default is None or not default.is_scalar:
            raise ValueError(f"column {name!r}: no value in the rows and no scalar default")
        return default.arg
    if bind.callable is not None or bind.required:
        raise ValueError(f"parameter {name!r} is not among the rows' columns")
    return bind.value


def _processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    processor: Callable[[Any], Any] | None = type_._cached_bind_processor(dialect)
    if processor is None or dialect.name != "sqlite":
        return processor
    # SQLite stores dates and times as text; SQLAlchemy's default formats are ISO 8601 with a
    # space and always six digits of microseconds, which `isoformat` writes in C. Another storage
    # format, or a value of another type, keeps SQLAlchemy's processor.
    decorated = isinstance(type_, TypeDecorator)
    inner = type_.dialect_impl(dialect)
    if decorated:
        inner = inner.impl_instance  # what the decorator's value is written as
    storage = getattr(inner, "_storage_format", None)
    base = inner.bind_processor(dialect)
    if base is None:
        return processor
    if isinstance(inner, DateTime) and storage == _SQLITE_DATETIME:
        fast = _fast_datetime(base)
    elif isinstance(inner, Date) and storage == _SQLITE_DATE:
        fast = _fast_date(base)
    else:
        return processor
    if not decorated:
        return fast
    # A decorated type (UTCDateTime) keeps its own checks and conversion; only the formatting of
    # what it gives is replaced.
    process_bind_param = type_.process_bind_param
    if not isinstance(type_, UTCDateTime):
        return lambda value: fast(process_bind_param(value, dialect))

    last: tuple[Any, str] = (None, "")

    def utc(value: Any) -> Any:
        # Most values are aware UTC already: UTCDateTime would pass them and drop the zone, the
        # storage format write the wall time. One C call instead (its text ends in "+00:00");
        # about 2 % of a full sync's CPU, most of it datetimes made only to be formatted. The
        # same object again (a batch's `now`, on every row) is not formatted again: `isoformat`
        # costs about a microsecond.
        nonlocal last
        if type(value) is datetime and value.tzinfo is UTC:
            seen = last
            if seen[0] is value:
                return seen[1]
            written = value.isoformat(" ", "microseconds")[:-6]
            last = (value, written)
            return written
        return fast(process_bind_param(value, dialect))

    return utc


_SQLITE_DATETIME = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)
_SQLITE_DATE = "%(year)04d-%(month)02d-%(day)02d"


def _fast_datetime(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def process(value: Any) -> Any:
        if type(value) is datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return processor(value)

    return process


#: Dates formatted by `_fast_date`, kept: a batch's rows name few days, each many times.
_DATE_TEXTS_MAX = 4096


def _fast_date(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    texts: dict[date, str] = {}

    def process(value: Any) -> Any:
        if type(value) is date:
            written = texts.get(value)
            if written is None:
                if len(texts) >= _DATE_TEXTS_MAX:
                    texts.clear()
                written = texts[value] = value.isoformat()
            return written
        return processor(value)

    return process


# -- lookups by many keys -----------------------------------------------------------------------

_POSTCOMPILE = re.compile(r"\(__\[POSTCOMPILE_keys\]\)")


@dataclass(frozen=True)
class _CompiledSelect:
    head: str
    tail: str
    #: Each parameter's name ("keys": where the keys go) and bind processor, in order.
    parameters: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    placeholder: str


class KeyedSelect:
    """A SELECT of the rows matching many keys (`... IN :keys`, an expanding bind parameter named
    `keys`), for the hot path's lookups: `build(dialect)` gives it, compiled once per dialect;
    each call only writes the keys' placeholders. The rows are the driver's (no result
    processing: the callers read numbers and strings)."""

    def __init__(self, build: Callable[[Dialect], ClauseElement]) -> None:
        self.build = build
        self._compiled: dict[tuple[str, str, str], _CompiledSelect] = {}

    def rows(self, connection: Connection, keys: Sequence[Any], **values: Any) -> Sequence[Any]:
        """The rows for `keys` (at least one), the other parameters named in `values`."""
        dialect = connection.dialect
        key = (dialect.name, dialect.driver, str(dialect.paramstyle))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        marks = ", ".join([compiled.placeholder] * len(keys))
        sql = f"{compiled.head}({marks}){compiled.tail}"
        parameters: list[Any] = []
        for name, processor in compiled.parameters:
            if name == "keys":
                parameters += keys if processor is None else map(processor, keys)
            else:
                value = values[name]
                parameters.append(value if processor is None else processor(value))
        return connection.exec_driver_sql(sql, tuple(parameters)).fetchall()

    def sql(self, dialect: Dialect, count: int) -> str:
        """The SQL the driver runs for `count` keys (for tests and for reading)."""
        compiled = self._compile(dialect)
        return f"{compiled.head}({', '.join([compiled.placeholder] * count)}){compiled.tail}"

    def _compile(self, dialect: Dialect) -> _CompiledSelect:
        compiled = self.build(dialect).compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        head, tail = _POSTCOMPILE.split(compiled.string)  # exactly one list of keys
        if compiled.positiontup is not None:
            names = list(compiled.positiontup)
            placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
        else:  # pyformat (psycopg): positional %s, the names in their order
            names = [*_PYFORMAT.findall(head), "keys", *_PYFORMAT.findall(tail)]
            head, tail = _PYFORMAT.sub("%s", head), _PYFORMAT.sub("%s", tail)
            placeholder = "%s"
        parameters = tuple((name, _processor(compiled.binds[name].type, dialect)) for name in names)
        return _CompiledSelect(head, tail, parameters, placeholder)


# -- tables by name: upserts of whole rows ------------------------------------------------------

_UPSERTS: dict[tuple[str, tuple[str, ...], tuple[str, ...]], BulkStatement] = {}


def upsert_rows(
    session: Session, table: Table | Any, rows: Sequence[dict[str, Any]], keys: Collection[str]
) -> None:
    """Insert `rows` into `table`, or update every other column where the `keys` exist already,
    in the session's transaction (pending ORM objects are flushed first: rows may name them).

    Every row names the same columns (the first row's); each key may appear once in `rows`
    (PostgreSQL refuses to update a row twice in one statement).
    """
    session.flush()
    if not rows:
        return
    columns = tuple(rows[0])
    statement = upsert_statement(table, columns, tuple(sorted(keys)))
    statement.run(session.connection(), [tuple(row[c] for c in columns) for row in rows])


def upsert_statement(
    table: Table, columns: tuple[str, ...], keys: tuple[str, ...]
) -> BulkStatement:
    """INSERT of `columns` ... ON CONFLICT (`keys`) DO UPDATE every other column of the table."""
    cache_key = (table.name, columns, keys)
    statement = _UPSERTS.get(cache_key)
    if statement is None:

        def build(dialect: Dialect) -> ClauseElement:
            insert = dialect_insert(dialect, table)
            return insert.on_conflict_do_update(
                index_elements=list(keys),
                set_={c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys},
            )

        statement = _UPSERTS[cache_key] = BulkStatement(build, columns)
    return statement
