"""Collection listings as WooCommerce and WordPress serve them: arguments, filters, order, pages.

The paging layer shared by every listed route. A resource module declares its listing as a
`Collection` (its store table, query arguments, filters and sort keys by `orderby`), built from
the pieces here (`PAGING`, `CRUD`, `crud_sorts`, `within`, ...); `list_page` pages through it for
arguments `sandbox.arguments.validate` has checked: it walks the store once under its lock
without copying (collecting sort keys of the matches), sorts only what the page needs, and copies
only the page.

Semantics followed (see ../shared/woocommerce-api.md): `per_page` 1..100 (default 10), `page` from
1, `offset` wins over `page`; date/modified sorts break ties by id in the same direction;
`orderby=include` follows the include list; `after`/`before`/`modified_after`/`modified_before`
are exclusive and compare with the site-local column, or the `_gmt` one with `dates_are_gmt=true`
(a zoned value is first converted to site time, as WordPress's date query does).
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from collections.abc import Collection as Sized
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sandbox import indexes
from sandbox.arguments import Param
from sandbox.errors import SandboxError
from sandbox.formats import SITE_TZ
from sandbox.indexes import IndexSpec, Span, TableIndex
from sandbox.state import StoreBase

Json = dict[str, Any]
Predicate = Callable[[Json], bool]
SortKey = str | Callable[[Json], Any]  # a column name (the fast path) or a key function

PAGING = {
    "context": Param("enum", "view", ("view", "edit")),
    "page": Param("integer", 1, minimum=1),
    "per_page": Param("integer", 10, minimum=1, maximum=100),
    "search": Param("string"),
    "offset": Param("integer"),
    "order": Param("enum", "desc", ("asc", "desc")),
    "include": Param("integers", ()),
    "exclude": Param("integers", ()),
}
CRUD = {
    **PAGING,
    "after": Param("date"),
    "before": Param("date"),
    "modified_after": Param("date"),
    "modified_before": Param("date"),
    "dates_are_gmt": Param("boolean", False),
    "parent": Param("integers", ()),
    "parent_exclude": Param("integers", ()),
}


def crud_orderby(*extra: str) -> Param:
    return Param("enum", "date", ("date", "id", "include", "title", "slug", "modified", *extra))


def _all_of_it(args: dict[str, Any]) -> tuple[Hashable, ...]:
    return ("*",)


@dataclass(frozen=True)
class Partition:
    """How a listing's main filter splits its table (orders: by status); each part is indexed.

    `groups(obj)` names the parts an object is listed in; `wanted(args)` the parts the query
    asks for, which must not overlap (an object is counted once).
    """

    groups: Callable[[Json], tuple[Hashable, ...]]
    wanted: Callable[[dict[str, Any]], tuple[Hashable, ...]]


EVERYTHING = Partition(indexes.whole_table, _all_of_it)


@dataclass(frozen=True)
class Collection:
    """A listed route: its store resource, arguments, filters and sort keys by `orderby`.

    `filters` are the route's own; `partition` and `lookups` ((argument, column) pairs: an
    equality filter, e.g. orders' `customer`) are filters the sorted index answers.
    """

    resource: str
    params: Mapping[str, Param]
    sort_keys: Mapping[str, SortKey]
    filters: Callable[[dict[str, Any]], list[Predicate]]
    date_columns: tuple[str, str] = ("date_created", "date_modified")
    search_fields: tuple[str, ...] = ()
    page_beyond_end: str | None = None  # WordPress's 400 code for a page past the last one
    partition: Partition = EVERYTHING
    lookups: tuple[tuple[str, str], ...] = ()

    @property
    def index_spec(self) -> IndexSpec:
        """The sorted orders kept: id and the dates (UTC columns; site time sorts the same)."""
        dates = tuple(dict.fromkeys(f"{column}_gmt" for column in self.date_columns))
        lookups = tuple(column for _, column in self.lookups)
        return IndexSpec(("id", *dates), self.partition.groups, lookups)


def by(name: str) -> SortKey:
    return name


def by_lower(name: str) -> SortKey:
    return lambda obj: str(obj[name]).lower()


BY_ID: SortKey = "id"


def crud_sorts(created: str, modified: str, title: str) -> dict[str, SortKey]:
    return {
        "date": by(created),
        "id": BY_ID,
        "title": by_lower(title),
        "slug": by_lower(title),
        "modified": by(modified),
    }


def equals(column: str, value: Any) -> Predicate:
    return lambda obj: bool(obj[column] == value)


def within(column: str, wanted: set[Any]) -> Predicate:
    return lambda obj: obj[column] in wanted


def outside(column: str, unwanted: set[Any]) -> Predicate:
    return lambda obj: obj[column] not in unwanted


def wp_comment_status(query_status: str, *, approved_name: str) -> Predicate:
    """WP_Comment_Query's status: approve/approved, hold, spam, trash; all = approved + held."""
    wanted = {
        approved_name: {"approved"},
        "hold": {"hold"},
        "all": {"approved", "hold"},
        "any": {"approved", "hold", "spam", "trash"},
    }.get(query_status, {query_status})
    return lambda c: c["status"] in wanted


def no_filters(args: dict[str, Any]) -> list[Predicate]:
    return []


@dataclass(frozen=True)
class Page:
    """The items of one page (deep copies) and the totals for X-WP-Total / X-WP-TotalPages."""

    items: list[Json]
    total: int
    total_pages: int
    page: int
    ids: list[int] = field(default_factory=list)


# Candidate sets up to this size are checked and sorted directly; bigger ones are walked in order.
SMALL = 2_000


@dataclass(frozen=True)
class _Query:
    collection: Collection
    args: dict[str, Any]
    scope: list[Predicate]
    among: Sized[int] | None
    sort_key: SortKey
    reverse: bool
    offset: int
    limit: int


def list_page(
    store: StoreBase,
    collection: Collection,
    args: dict[str, Any],
    *,
    scope: Iterable[Predicate] = (),
    among: Sized[int] | None = None,
    cache: SortCache | None = None,
    scan: bool = False,
) -> Page:
    """Filter, sort and cut one page of `collection` for validated `args`.

    `scope` adds route filters; `among` limits the listing to some ids (e.g. the refunds of
    /orders/{id}/refunds). Only the page is copied. A `cache` lets consecutive pages of an
    unchanged listing in an order no index keeps skip the sort. `scan` walks the table even
    where an index could answer: the reference the indexes are tested against.
    """
    sort_key, reverse = _ordering(collection, args)
    per_page = args["per_page"]
    offset = args["offset"] if args.get("offset") else (args["page"] - 1) * per_page
    query = _Query(collection, args, list(scope), among, sort_key, reverse, offset, per_page)
    with store.lock:
        found = None if scan else _from_index(store, query)
        if found is None:
            found = _from_scan(store, query, cache)
        chosen, total = found
        items = [store.get(collection.resource, obj_id) for obj_id in chosen]
    pages = -(-total // per_page)
    if collection.page_beyond_end and args["page"] > pages and total > 0:
        raise SandboxError(
            collection.page_beyond_end,
            "The page number requested is larger than the number of pages available.",
            400,
        )
    return Page(items=items, total=total, total_pages=pages, page=args["page"], ids=chosen)


def _every_filter(query: _Query) -> list[Predicate]:
    """All the query's filters as predicates (what paths 1 and 3 check on each object)."""
    collection, args = query.collection, query.args
    found = [*query.scope, *_common_filters(collection, args), *collection.filters(args)]
    if query.among is not None:
        among = query.among
        found.append(lambda obj: obj["id"] in among)
    if collection.partition is not EVERYTHING:
        wanted, groups = set(collection.partition.wanted(args)), collection.partition.groups
        found.append(lambda obj: not wanted.isdisjoint(groups(obj)))
    for name, column in collection.lookups:
        if args.get(name) is not None:
            found.append(equals(column, args[name]))
    return found


def _from_scan(store: StoreBase, query: _Query, cache: SortCache | None) -> tuple[list[int], int]:
    """Path 3: one pass over the table, collecting (sort key, id) of the matches."""
    matches: list[tuple[Any, int]] = []
    visit = _collector(_every_filter(query), query.sort_key, matches.append)
    resource = query.collection.resource
    store.query(resource, where=visit)
    chosen = _slice(resource, matches, query.offset, query.limit, query.reverse, cache)
    return chosen, len(matches)


def _from_index(store: StoreBase, query: _Query) -> tuple[list[int], int] | None:
    """Paths 1 and 2 (see the module's docstring); None when only a scan can answer."""
    collection, args = query.collection, query.args
    index = store.sorted_index(collection.resource, collection.index_spec)
    groups = collection.partition.wanted(args)
    candidates: list[Sized[int]] = [set(args["include"])] if args["include"] else []
    if query.among is not None:
        candidates.append(query.among)
    residual = [*query.scope, *_search_filter(collection, args), *collection.filters(args)]
    narrowed = False
    for name, column in collection.lookups:
        if args.get(name) is None:
            continue
        if narrowed:  # one lookup narrows the partitions; a second one is checked along the run
            residual.append(equals(column, args[name]))
        else:
            groups = tuple(indexes.narrowed(group, column, args[name]) for group in groups)
            narrowed = True
    key = query.sort_key
    sorted_by = key if isinstance(key, str) and key in index.spec.columns else None
    bounds = _utc_bounds(collection, args)
    low, high = bounds.pop(sorted_by, (None, None)) if sorted_by else (None, None)
    left_out = set(args["exclude"])
    for other, (other_low, other_high) in bounds.items():
        spans = [indexes.within(index.run(other, group), other_low, other_high) for group in groups]
        inside = sum(end - start for _, start, end in spans)
        if inside <= SMALL:
            candidates.append({e[1] for run, start, end in spans for e in run[start:end]})
        elif sum(len(run) for run, _, _ in spans) - inside <= SMALL:
            left_out |= {e[1] for run, s, t in spans for e in (*run[:s], *run[t:])}
        else:
            residual.append(_between(other, other_low, other_high))
    if candidates:
        return _from_candidates(store, query, min(candidates, key=len))
    if sorted_by is None:
        return None
    spans = [indexes.within(index.run(sorted_by, group), low, high) for group in groups]
    if residual:
        rows = store.rows(collection.resource)
        checks = tuple(residual)

        def keep(obj_id: int) -> bool:
            obj = rows[obj_id]
            return all(check(obj) for check in checks)

        return indexes.walk(spans, query.reverse, left_out, keep, query.offset, query.limit)
    skipped = _skipped(index, sorted_by, groups, spans, left_out)
    return indexes.select(spans, query.reverse, skipped, query.offset, query.limit)


def _skipped(
    index: TableIndex,
    column: str,
    groups: tuple[Hashable, ...],
    spans: list[Span],
    left_out: set[int],
) -> list[tuple[Any, int]]:
    """The entries of `left_out` ids that lie in the spans (the others change nothing)."""
    found = []
    for obj_id in left_out:
        for group, (run, start, end) in zip(groups, spans, strict=True):
            if not index.holds(obj_id, group):
                continue
            entry = (index.value_of(obj_id, column), obj_id)
            if start < end and run[start] <= entry <= run[end - 1]:
                found.append(entry)
    return found


def _from_candidates(
    store: StoreBase, query: _Query, candidates: Sized[int]
) -> tuple[list[int], int]:
    """Path 1: each candidate checked against every filter; the matches sorted."""
    rows = store.rows(query.collection.resource)
    checks = _every_filter(query)
    key = query.sort_key
    pair: Callable[[Json], tuple[Any, int]]
    if isinstance(key, str):
        pair = itemgetter(key, "id")
    else:
        sort_key = key

        def pair(obj: Json) -> tuple[Any, int]:
            return sort_key(obj), obj["id"]

    matches = [
        pair(obj)
        for obj_id in set(candidates)
        if (obj := rows.get(obj_id)) is not None and all(check(obj) for check in checks)
    ]
    matches.sort(reverse=query.reverse)
    chosen = [obj_id for _, obj_id in matches[query.offset : query.offset + query.limit]]
    return chosen, len(matches)


def _collector(
    predicates: list[Predicate], sort_key: SortKey, add: Callable[[tuple[Any, int]], None]
) -> Predicate:
    """A `where` for store.query that records (sort key, id) of the matches and copies nothing.

    Specialised by the number of filters, with a C itemgetter for column keys: this runs once
    per stored object per request, so it is the cost of a listing.
    """
    if isinstance(sort_key, str):
        pair: Callable[[Json], tuple[Any, int]] = itemgetter(sort_key, "id")
    else:
        key = sort_key

        def pair(obj: Json) -> tuple[Any, int]:
            return key(obj), obj["id"]

    checks = tuple(predicates)
    if not checks:

        def visit_all(obj: Json) -> bool:
            add(pair(obj))
            return False

        return visit_all
    if len(checks) == 1:
        check = checks[0]

        def visit_one(obj: Json) -> bool:
            if check(obj):
                add(pair(obj))
            return False

        return visit_one

    def visit(obj: Json) -> bool:
        for check in checks:
            if not check(obj):
                return False
        add(pair(obj))
        return False

    return visit


class SortCache:
    """The last sorted match list per (resource, direction), reused while the matches are equal.

    Walking a long listing page by page collects the same (sort key, id) pairs on every request
    unless the store changed; comparing two lists of pairs runs at C speed, sorting them does not.
    The comparison is the validity check, so a change made by any means is always seen.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, bool], tuple[list[tuple[Any, int]], list[int]]] = {}
        self._lock = threading.Lock()

    def ordered(self, resource: str, matches: list[tuple[Any, int]], reverse: bool) -> list[int]:
        with self._lock:
            cached = self._entries.get((resource, reverse))
        if cached is not None and cached[0] == matches:
            return cached[1]
        ordered = [obj_id for _, obj_id in sorted(matches, reverse=reverse)]
        with self._lock:
            self._entries[(resource, reverse)] = (matches, ordered)
        return ordered


def _slice(
    resource: str,
    matches: list[tuple[Any, int]],
    offset: int,
    limit: int,
    reverse: bool,
    cache: SortCache | None,
) -> list[int]:
    needed = offset + limit
    if needed * 8 < len(matches):
        # An early page: a partial heap sort, fed in the order that keeps replacements rare
        # (stores hold objects in creation order, which dates mostly follow).
        top = (
            heapq.nlargest(needed, reversed(matches))
            if reverse
            else heapq.nsmallest(needed, matches)
        )
        return [obj_id for _, obj_id in top[offset:needed]]
    if cache is None:
        return [obj_id for _, obj_id in sorted(matches, reverse=reverse)[offset:needed]]
    return cache.ordered(resource, matches, reverse)[offset:needed]


def _ordering(collection: Collection, args: dict[str, Any]) -> tuple[SortKey, bool]:
    orderby = args.get("orderby") or "date"
    if orderby == "include" and args["include"]:
        position = {obj_id: n for n, obj_id in enumerate(args["include"])}
        return (lambda obj: position.get(obj["id"], len(position))), False
    return collection.sort_keys.get(orderby, BY_ID), args["order"] == "desc"


def _common_filters(collection: Collection, args: dict[str, Any]) -> list[Predicate]:
    found: list[Predicate] = []
    if args["include"]:
        included = set(args["include"])
        found.append(lambda obj: obj["id"] in included)
    if args["exclude"]:
        excluded = set(args["exclude"])
        found.append(lambda obj: obj["id"] not in excluded)
    found.extend(_search_filter(collection, args))
    found.extend(_date_filters(collection, args))
    return found


def _search_filter(collection: Collection, args: dict[str, Any]) -> list[Predicate]:
    # WordPress sanitizes `search` with sanitize_text_field, which trims it ("Dubois " finds)
    needle = (args.get("search") or "").strip().lower()
    if not needle:
        return []
    fields = collection.search_fields
    return [lambda obj: any(needle in str(obj.get(f, "")).lower() for f in fields)]


def _utc_bounds(collection: Collection, args: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The date arguments as exclusive (low, high) bounds on the indexed UTC columns.

    A site-time bound becomes the same moment in UTC: SITE_TZ is a fixed offset (no DST), so a
    site-time column orders and compares exactly as its `_gmt` twin does.
    """
    gmt = bool(args.get("dates_are_gmt"))
    created, modified = (f"{c}_gmt" for c in collection.date_columns)
    bounds: dict[str, tuple[Any, Any]] = {}
    for name, column, is_low in (
        ("after", created, True),
        ("before", created, False),
        ("modified_after", modified, True),
        ("modified_before", modified, False),
    ):
        if args.get(name) is None:
            continue
        edge = wall_time(args[name])
        if not gmt:
            moment = datetime.fromisoformat(edge).replace(tzinfo=SITE_TZ).astimezone(UTC)
            edge = moment.replace(tzinfo=None).isoformat(timespec="seconds")
        low, high = bounds.get(column, (None, None))
        if is_low:
            low = edge if low is None else max(low, edge)
        else:
            high = edge if high is None else min(high, edge)
        bounds[column] = (low, high)
    return bounds


def _between(column: str, low: Any, high: Any) -> Predicate:
    return lambda obj: (low is None or obj[column] > low) and (high is None or obj[column] < high)


def _date_filters(collection: Collection, args: dict[str, Any]) -> list[Predicate]:
    """Exclusive date bounds; the column is site-local unless `dates_are_gmt` picks `_gmt`."""
    found: list[Predicate] = []
    suffix = "_gmt" if args.get("dates_are_gmt") else ""
    created, modified = (f"{c}{suffix}" for c in collection.date_columns)
    bounds = (
        ("after", created, True),
        ("before", created, False),
        ("modified_after", modified, True),
        ("modified_before", modified, False),
    )
    for name, column, is_lower in bounds:
        if args.get(name) is None:
            continue
        found.append(_beyond(column, wall_time(args[name]), after=is_lower))
    return found


def _beyond(column: str, edge: str, *, after: bool) -> Predicate:
    """Exclusive bound on a date column (same-format strings compare as the dates do)."""
    if after:
        return lambda obj: bool(obj[column] > edge)
    return lambda obj: bool(obj[column] < edge)


def wall_time(value: str) -> str:
    """A date argument as WordPress compares it: naive as given, zoned converted to site time."""
    moment = datetime.fromisoformat(
        value.replace("t", "T").replace(" ", "T").replace("Z", "+00:00")
    )
    if moment.tzinfo is not None:
        moment = moment.astimezone(SITE_TZ).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat(timespec="seconds")
