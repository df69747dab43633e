"""Batches for `IN (...)` lists and multi-row statements: one size and one helper for the ledger
and its callers, well inside both databases' bound-parameter limits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

#: Rows per INSERT and values per IN (...): well inside SQLite's and PostgreSQL's parameter limits.
IN_BATCH = 500

_T = TypeVar("_T")
_Key = TypeVar("_Key", int, str)


def chunks(items: Sequence[_T], size: int = IN_BATCH) -> Iterator[list[_T]]:
    """`items` in consecutive lists of at most `size`, in order."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def rows_in(
    session: Session, values: Iterable[_Key], statement: Callable[[list[_Key]], Executable]
) -> list[Any]:
    """The rows of `statement(chunk)` for each chunk of `values` (sorted, without repeats), in
    chunk order: a lookup by an `IN` list of any length, where one statement may bind at most
    65,535 parameters on PostgreSQL (a list of 70,000 ids failed there)."""
    wanted = sorted(set(values))
    return [row for chunk in chunks(wanted) for row in session.execute(statement(chunk)).all()]
