"""Sorted indexes over a store table, so a page of a listing costs the same at any store size.

For `sandbox.state.StoreBase` (which keeps one per listed table, up to date on every write) and
`sandbox.listing` (which pages through them). A `TableIndex` holds, per listing order (a column:
`id`, the created date, the modified date) and per partition (orders: each status, and `any`,
everything but trash), the sorted `(value, id)` pairs of the table; and the same again per value
of each lookup column within each partition (orders of one customer, of one status).

An index is built the first time a table is listed (a freshly generated store pays nothing for it)
and then refreshed before each listing from the ids its `Table` noted as changed: set, deleted,
or stamped by `StoreBase._stamp` / `_changed`. Each insertion or removal is a binary search and one
list insertion, at C speed.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sandbox.bulk import collector_paused

Json = dict[str, Any]
Entry = tuple[Any, int]  # (sort value, id): ties are broken by id


def whole_table(obj: Json) -> tuple[Hashable, ...]:
    """The one partition of a table without partitions."""
    return ("*",)


@dataclass(frozen=True)
class IndexSpec:
    """What to index in a table: sorted columns, the partitions of an object, lookup columns."""

    columns: tuple[str, ...]
    partitions: Callable[[Json], tuple[Hashable, ...]] = whole_table
    lookups: tuple[str, ...] = ()


class Table(dict[int, Json]):
    """A store table (id -> object) that notes the ids set or deleted, once an index watches it."""

    __slots__ = ("changed",)

    def __init__(self, rows: Iterable[tuple[int, Json]] = ()) -> None:
        super().__init__(rows)
        self.changed: set[int] | None = None  # None: no index yet, nothing to note

    def __setitem__(self, key: int, value: Json) -> None:
        super().__setitem__(key, value)
        if self.changed is not None:
            self.changed.add(key)

    def __delitem__(self, key: int) -> None:
        super().__delitem__(key)
        if self.changed is not None:
            self.changed.add(key)

    def pop(self, key: int, *default: Any) -> Any:
        if self.changed is not None:
            self.changed.add(key)
        return super().pop(key, *default)


@dataclass
class _Recorded:
    """What the index holds for one object: its partitions, sort values and lookup values."""

    parts: tuple[Hashable, ...]
    values: tuple[Any, ...]
    lookups: tuple[Any, ...]


@dataclass
class TableIndex:
    """The sorted runs and lookups of one table; kept in step by `refresh`."""

    spec: IndexSpec
    runs: dict[tuple[str, Hashable], list[Entry]] = field(default_factory=dict)
    recorded: dict[int, _Recorded] = field(default_factory=dict)

    @classmethod
    def build(cls, spec: IndexSpec, table: Table) -> TableIndex:
        index = cls(spec)
        with collector_paused():
            for obj_id, obj in table.items():
                index._add(obj_id, index._record(obj), sort=False)
            for run in index.runs.values():
                run.sort()
        table.changed = set()
        return index

    def refresh(self, table: Table) -> None:
        """Bring the index in step with the table for every id it noted as changed."""
        changed = table.changed
        if not changed:
            return
        table.changed = set()
        for obj_id in changed:
            obj = table.get(obj_id)
            new = self._record(obj) if obj is not None else None
            old = self.recorded.get(obj_id)
            if old == new:
                continue
            if old is not None:
                self._remove(obj_id, old)
            if new is not None:
                self._add(obj_id, new, sort=True)

    def run(self, column: str, part: Hashable) -> list[Entry]:
        """The (value, id) pairs of a partition, sorted by `column` then id. A partition is one
        the spec names, or `narrowed(part, lookup column, value)`."""
        return self.runs.get((column, part), [])

    def holds(self, obj_id: int, part: Hashable) -> bool:
        """Whether the object is in that partition (a plain or a narrowed one)."""
        recorded = self.recorded.get(obj_id)
        if recorded is None:
            return False
        return part in self._parts(recorded)

    def value_of(self, obj_id: int, column: str) -> Any:
        return self.recorded[obj_id].values[self.spec.columns.index(column)]

    def _record(self, obj: Json) -> _Recorded:
        spec = self.spec
        return _Recorded(
            spec.partitions(obj),
            tuple(obj[column] for column in spec.columns),
            tuple(obj.get(column) for column in spec.lookups),
        )

    def _parts(self, recorded: _Recorded) -> list[Hashable]:
        parts: list[Hashable] = list(recorded.parts)
        for column, value in zip(self.spec.lookups, recorded.lookups, strict=True):
            parts += [narrowed(part, column, value) for part in recorded.parts]
        return parts

    def _add(self, obj_id: int, recorded: _Recorded, *, sort: bool) -> None:
        self.recorded[obj_id] = recorded
        parts = self._parts(recorded)
        for column, value in zip(self.spec.columns, recorded.values, strict=True):
            for part in parts:
                run = self.runs.setdefault((column, part), [])
                if sort:
                    insort(run, (value, obj_id))
                else:
                    run.append((value, obj_id))

    def _remove(self, obj_id: int, recorded: _Recorded) -> None:
        del self.recorded[obj_id]
        parts = self._parts(recorded)
        for column, value in zip(self.spec.columns, recorded.values, strict=True):
            for part in parts:
                run = self.runs[(column, part)]
                at = bisect_left(run, (value, obj_id))
                if at < len(run) and run[at] == (value, obj_id):
                    del run[at]


def narrowed(part: Hashable, column: str, value: Any) -> Hashable:
    """The partition of the objects of `part` whose lookup `column` equals `value`."""
    return (part, column, value)


# ---- reading a page from sorted runs -------------------------------------------------------------

Span = tuple[list[Entry], int, int]  # a run and the [start, end) of its entries within bounds


def _first(entry: Entry) -> Any:
    return entry[0]


def within(run: list[Entry], low: Any, high: Any) -> Span:
    """The entries of `run` whose value is > `low` and < `high` (None: unbounded), as a span."""
    start = 0 if low is None else bisect_right(run, low, key=_first)
    end = len(run) if high is None else bisect_left(run, high, key=_first)
    return run, start, max(start, end)


def _entries(span: Span, reverse: bool) -> Iterator[Entry]:
    run, start, end = span
    if reverse:
        return (run[i] for i in range(end - 1, start - 1, -1))
    return (run[i] for i in range(start, end))


def select(
    spans: list[Span], reverse: bool, skipped: Iterable[Entry], offset: int, limit: int
) -> tuple[list[int], int]:
    """Ids at [offset, offset + limit) of the spans in order, leaving out the `skipped` entries
    (each in one of the spans), and how many entries there are in all. One span: a few binary
    searches, whatever its size; several (orders of several statuses): merged up to the page."""
    skipped = sorted(set(skipped))
    total = sum(end - start for _, start, end in spans) - len(skipped)
    if len(spans) != 1:
        left_out = {obj_id for _, obj_id in skipped}
        merged = heapq.merge(*(_entries(span, reverse) for span in spans), reverse=reverse)
        kept = (obj_id for _, obj_id in merged if obj_id not in left_out)
        return list(islice(kept, offset, offset + limit)), total
    run, start, end = spans[0]
    # the skipped entries' ranks in the direction of reading, ascending
    ranks = sorted(
        (end - 1 - at) if reverse else (at - start)
        for at in (bisect_left(run, entry) for entry in skipped)
    )
    rank = offset
    for skip in ranks:  # each skipped entry at or before the wanted rank pushes it one further
        if skip > rank:
            break
        rank += 1
    out: list[int] = []
    gaps = set(ranks)
    while len(out) < limit and rank < end - start:
        if rank not in gaps:
            out.append(run[end - 1 - rank if reverse else start + rank][1])
        rank += 1
    return out, total


def walk(
    spans: list[Span],
    reverse: bool,
    left_out: set[int],
    keep: Callable[[int], bool],
    offset: int,
    limit: int,
) -> tuple[list[int], int]:
    """Like `select`, for filters the index cannot answer: every entry of the spans is checked
    (`keep(id)`), so this costs the size of the spans, not of the table."""
    merged = heapq.merge(*(_entries(span, reverse) for span in spans), reverse=reverse)
    out: list[int] = []
    total = 0
    for _, obj_id in merged:
        if obj_id in left_out or not keep(obj_id):
            continue
        if offset <= total < offset + limit:
            out.append(obj_id)
        total += 1
    return out, total
