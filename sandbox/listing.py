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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from sandbox.arguments import Param
from sandbox.errors import SandboxError
from sandbox.formats import SITE_TZ
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


@dataclass(frozen=True)
class Collection:
    """A listed route: its store resource, arguments, filters and sort keys by `orderby`."""

    resource: str
    params: Mapping[str, Param]
    sort_keys: Mapping[str, SortKey]
    filters: Callable[[dict[str, Any]], list[Predicate]]
    date_columns: tuple[str, str] = ("date_created", "date_modified")
    search_fields: tuple[str, ...] = ()
    page_beyond_end: str | None = None  # WordPress's 400 code for a page past the last one


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


def list_page(
    store: StoreBase,
    collection: Collection,
    args: dict[str, Any],
    *,
    scope: Iterable[Predicate] = (),
    cache: SortCache | None = None,
) -> Page:
    """Filter, sort and cut one page of `collection` for validated `args`.

    `scope` adds route filters (e.g. the order of /orders/{id}/refunds). One pass over the stored
    dicts under the store's lock collects the sort keys of the matches; only the page is copied.
    A `cache` lets consecutive pages of an unchanged listing skip the sort.
    """
    predicates = [*scope, *_common_filters(collection, args), *collection.filters(args)]
    sort_key, reverse = _ordering(collection, args)
    per_page = args["per_page"]
    offset = args["offset"] if args.get("offset") else (args["page"] - 1) * per_page
    matches: list[tuple[Any, int]] = []
    visit = _collector(predicates, sort_key, matches.append)
    with store.lock:
        store.query(collection.resource, where=visit)
        chosen = _slice(collection.resource, matches, offset, per_page, reverse, cache)
        items = [store.get(collection.resource, obj_id) for obj_id in chosen]
    total = len(matches)
    pages = -(-total // per_page)
    if collection.page_beyond_end and args["page"] > pages and total > 0:
        raise SandboxError(
            collection.page_beyond_end,
            "The page number requested is larger than the number of pages available.",
            400,
        )
    return Page(items=items, total=total, total_pages=pages, page=args["page"], ids=chosen)


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
    if args.get("search"):
        needle, fields = args["search"].lower(), collection.search_fields
        found.append(lambda obj: any(needle in str(obj.get(f, "")).lower() for f in fields))
    found.extend(_date_filters(collection, args))
    return found


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
