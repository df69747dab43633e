"""Batches for `IN (...)` lists and multi-row statements: one size and one helper for the ledger
and its callers, well inside both databases' bound-parameter limits."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

#: Rows per INSERT and values per IN (...): well inside SQLite's and PostgreSQL's parameter limits.
IN_BATCH = 500

_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int = IN_BATCH) -> Iterator[list[_T]]:
    """`items` in consecutive lists of at most `size`, in order."""
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
