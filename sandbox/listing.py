"""Collection listings as WooCommerce and WordPress serve them: arguments, filters, order, pages.

For the sandbox server. Each listed route has a `Collection`: its query arguments with WordPress's
validation (a bad one is 400 `rest_invalid_param` naming it, with WordPress's messages), its
filters and its sort orders. `list_page` walks the store once under its lock without copying
(collecting sort keys of the matches), sorts only what the page needs, and copies only the page.

Semantics followed (see ../shared/woocommerce-api.md): `per_page` 1..100 (default 10), `page` from
1, `offset` wins over `page`; date/modified sorts break ties by id in the same direction;
`orderby=include` follows the include list; `after`/`before`/`modified_after`/`modified_before`
are exclusive and compare with the site-local column, or the `_gmt` one with `dates_are_gmt=true`
(a zoned value is first converted to site time, as WordPress's date query does); orders'
`status=any` is everything but trash and wins anywhere in the list; customers default to
`orderby=name&order=asc` and `role=customer`; reviews to `status=approved`; comments to
`status=approve&type=comment`, where `all` means approved and held ones.
"""

from __future__ import annotations

import heapq
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from sandbox.resources import COMMENT_EDIT_ONLY, SITE_TZ
from sandbox.store import ORDER_STATUSES, SandboxError, SandboxStore, wp_list

Json = dict[str, Any]
Predicate = Callable[[Json], bool]
SortKey = str | Callable[[Json], Any]  # a column name (the fast path) or a key function

_DATE = re.compile(
    r"^(\d{4})-(0[1-9]|1[012])-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ROLES = (
    "all",
    "administrator",
    "editor",
    "author",
    "contributor",
    "subscriber",
    "customer",
    "shop_manager",
)


@dataclass(frozen=True)
class Param:
    """One query argument: kind is integer, integers, string, enum, enums, date, boolean or email."""

    kind: str
    default: Any = None
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


class _Invalid(Exception):
    def __init__(self, code: str, message: str, data: Json | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def validate(params: Mapping[str, Param], query: Mapping[str, Any]) -> dict[str, Any]:
    """The route's arguments from the (PHP-parsed) query: defaults filled, types converted.

    Every bad argument is reported at once, as WordPress's has_valid_params() does.
    """
    args: dict[str, Any] = {}
    invalid: dict[str, str] = {}
    details: dict[str, Json] = {}
    for name, param in params.items():
        if name not in query:
            args[name] = list(param.default) if isinstance(param.default, tuple) else param.default
            continue
        try:
            args[name] = _convert(name, param, query[name])
        except _Invalid as exc:
            invalid[name] = exc.message
            details[name] = {"code": exc.code, "message": exc.message, "data": exc.data}
    if invalid:
        message = f"Invalid parameter(s): {', '.join(invalid)}"
        raise SandboxError(
            "rest_invalid_param", message, 400, {"params": invalid, "details": details}
        )
    return args


def _convert(name: str, param: Param, raw: Any) -> Any:
    if param.kind in ("integers", "enums"):
        items = list(raw.values()) if isinstance(raw, dict) else _wp_parse_list(raw)
        item = Param("integer" if param.kind == "integers" else "enum", enum=param.enum)
        return [_convert(f"{name}[{n}]", item, value) for n, value in enumerate(items)]
    if isinstance(raw, dict):
        raise _Invalid(
            "rest_invalid_type", f"{name} is not of type {_type_name(param)}.", {"param": name}
        )
    if param.kind == "integer":
        return _integer(name, param, raw)
    if param.kind == "boolean":
        if raw.lower() not in ("true", "false", "1", "0"):
            raise _Invalid("rest_invalid_type", f"{name} is not of type boolean.", {"param": name})
        return raw.lower() in ("true", "1")
    if param.kind == "enum" and raw not in param.enum:
        raise _Invalid("rest_not_in_enum", f"{name} is not one of {wp_list(param.enum)}.")
    if param.kind == "date" and not _DATE.match(raw):
        raise _Invalid("rest_invalid_date", "Invalid date.")
    if param.kind == "email" and not _EMAIL.match(raw):
        raise _Invalid("rest_invalid_email", "Invalid email address.")
    return raw


def _type_name(param: Param) -> str:
    return {"integer": "integer", "boolean": "boolean"}.get(param.kind, "string")


def _integer(name: str, param: Param, raw: str) -> int:
    try:
        number = float(raw)
    except ValueError:
        number = float("nan")
    if number != number or number != round(number):  # NaN or a fraction: not an integer
        raise _Invalid("rest_invalid_type", f"{name} is not of type integer.", {"param": name})
    value = int(number)
    low, high = param.minimum, param.maximum
    if low is not None and high is not None and not low <= value <= high:
        raise _Invalid(
            "rest_out_of_bounds", f"{name} must be between {low} (inclusive) and {high} (inclusive)"
        )
    if low is not None and value < low:
        raise _Invalid("rest_out_of_bounds", f"{name} must be greater than or equal to {low}")
    return value


def _wp_parse_list(raw: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", raw) if part]


# --- the collections ---------------------------------------------------------------------------

_PAGING = {
    "context": Param("enum", "view", ("view", "edit")),
    "page": Param("integer", 1, minimum=1),
    "per_page": Param("integer", 10, minimum=1, maximum=100),
    "search": Param("string"),
    "offset": Param("integer"),
    "order": Param("enum", "desc", ("asc", "desc")),
    "include": Param("integers", ()),
    "exclude": Param("integers", ()),
}
_CRUD = {
    **_PAGING,
    "after": Param("date"),
    "before": Param("date"),
    "modified_after": Param("date"),
    "modified_before": Param("date"),
    "dates_are_gmt": Param("boolean", False),
    "parent": Param("integers", ()),
    "parent_exclude": Param("integers", ()),
}
_ORDER_STATUS_ENUM = ("any", "trash", *ORDER_STATUSES, "checkout-draft")


def _crud_orderby(*extra: str) -> Param:
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


def _by(name: str) -> SortKey:
    return name


def _by_lower(name: str) -> SortKey:
    return lambda obj: str(obj[name]).lower()


_ID: SortKey = "id"


def _crud_sorts(created: str, modified: str, title: str) -> dict[str, SortKey]:
    return {
        "date": _by(created),
        "id": _ID,
        "title": _by_lower(title),
        "slug": _by_lower(title),
        "modified": _by(modified),
    }


def _order_filters(args: dict[str, Any]) -> list[Predicate]:
    found: list[Predicate] = []
    statuses = set(args["status"])
    if "any" in statuses:
        found.append(lambda o: o["status"] != "trash")
    else:
        found.append(lambda o: o["status"] in statuses)
    if args["customer"] is not None:
        customer = args["customer"]
        found.append(lambda o: o["customer_id"] == customer)
    if args["product"] is not None:
        product = args["product"]
        found.append(lambda o: any(li["product_id"] == product for li in o["line_items"]))
    if args["parent"]:
        parents = set(args["parent"])
        found.append(lambda o: o["parent_id"] in parents)
    if args["parent_exclude"]:
        excluded = set(args["parent_exclude"])
        found.append(lambda o: o["parent_id"] not in excluded)
    return found


def _equals(column: str, value: Any) -> Predicate:
    return lambda obj: bool(obj[column] == value)


def _within(column: str, wanted: set[Any]) -> Predicate:
    return lambda obj: obj[column] in wanted


def _outside(column: str, unwanted: set[Any]) -> Predicate:
    return lambda obj: obj[column] not in unwanted


def _beyond(column: str, edge: str, *, after: bool) -> Predicate:
    """Exclusive bound on a date column (same-format strings compare as the dates do)."""
    if after:
        return lambda obj: bool(obj[column] > edge)
    return lambda obj: bool(obj[column] < edge)


def _customer_filters(args: dict[str, Any]) -> list[Predicate]:
    found: list[Predicate] = []
    if args["role"] != "all":
        role = args["role"]
        found.append(lambda c: c["role"] == role)
    if args["email"]:
        email = args["email"].strip().lower()
        found.append(lambda c: c["email"].lower() == email)
    return found


def _display_name(customer: Json) -> str:
    """WordPress's display_name as set at registration: "First Last", one of them, or the login."""
    names = " ".join(n for n in (customer["first_name"], customer["last_name"]) if n)
    return (names or customer["username"]).lower()


def _coupon_filters(args: dict[str, Any]) -> list[Predicate]:
    # WP_Query's default post statuses for a REST listing: published (and private) posts.
    found: list[Predicate] = [lambda c: c["status"] in ("publish", "private")]
    if args["code"]:
        code = args["code"].strip().lower()
        found.append(lambda c: c["code"] == code and c["status"] == "publish")
    return found


def _product_filters(args: dict[str, Any]) -> list[Predicate]:
    found: list[Predicate] = []
    if args["status"] != "any":
        status = args["status"]
        found.append(lambda p: p["status"] == status)
    else:
        found.append(lambda p: p["status"] != "trash")
    if args["category"]:
        wanted = {int(c) for c in _wp_parse_list(args["category"]) if c.isdigit()}
        found.append(lambda p: any(c["id"] in wanted for c in p["categories"]))
    for key in ("sku", "type"):
        if args[key]:
            found.append(_equals(key, args[key]))
    return found


def _review_filters(args: dict[str, Any]) -> list[Predicate]:
    found: list[Predicate] = [_comment_status(args["status"], approved_name="approved")]
    if args["product"]:
        products = set(args["product"])
        found.append(lambda r: r["product_id"] in products)
    if args["reviewer_email"]:
        email = args["reviewer_email"].lower()
        found.append(lambda r: r["reviewer_email"].lower() == email)
    return found


def _comment_filters(args: dict[str, Any]) -> list[Predicate]:
    found: list[Predicate] = [_comment_status(args["status"], approved_name="approve")]
    comment_type = args["type"]
    found.append(lambda c: c["type"] == comment_type)
    for key, column in (("post", "post"), ("parent", "parent"), ("author", "author")):
        if args[key]:
            found.append(_within(column, set(args[key])))
    for key, column in (("parent_exclude", "parent"), ("author_exclude", "author")):
        if args[key]:
            found.append(_outside(column, set(args[key])))
    if args["author_email"]:
        email = args["author_email"].lower()
        found.append(lambda c: c["author_email"].lower() == email)
    return found


def _comment_status(query_status: str, *, approved_name: str) -> Predicate:
    """WP_Comment_Query's status: approve/approved, hold, spam, trash; all = approved + held."""
    wanted = {
        approved_name: {"approved"},
        "hold": {"hold"},
        "all": {"approved", "hold"},
        "any": {"approved", "hold", "spam", "trash"},
    }.get(query_status, {query_status})
    return lambda c: c["status"] in wanted


def _no_filters(args: dict[str, Any]) -> list[Predicate]:
    return []


_REFUND_SORTS = _crud_sorts("date_created_gmt", "date_created_gmt", "date_created_gmt")

COLLECTIONS: dict[str, Collection] = {
    "orders": Collection(
        "orders",
        {
            **_CRUD,
            "orderby": _crud_orderby(),
            "status": Param("enums", ("any",), _ORDER_STATUS_ENUM),
            "customer": Param("integer"),
            "product": Param("integer"),
            "dp": Param("integer", 2),
        },
        _crud_sorts("date_created_gmt", "date_modified_gmt", "date_created_gmt"),
        _order_filters,
        search_fields=("number",),
    ),
    # Both refund routes ignore `parent`: WooCommerce overwrites it with the URL's order id and
    # the store-wide route then drops it. `parent_exclude` survives.
    "refunds": Collection(
        "refunds",
        {**_CRUD, "orderby": _crud_orderby(), "dp": Param("integer", 2)},
        _REFUND_SORTS,
        _no_filters,
        date_columns=("date_created", "date_created"),
        search_fields=("reason",),
    ),
    "customers": Collection(
        "customers",
        {
            **_PAGING,
            "order": Param("enum", "asc", ("asc", "desc")),
            "orderby": Param("enum", "name", ("id", "include", "name", "registered_date")),
            "email": Param("email"),
            "role": Param("enum", "customer", _ROLES),
        },
        {"id": _ID, "name": _display_name, "registered_date": _by("date_created_gmt")},
        _customer_filters,
        search_fields=("username", "email", "first_name", "last_name"),
    ),
    "coupons": Collection(
        "coupons",
        {**_CRUD, "orderby": _crud_orderby(), "code": Param("string")},
        _crud_sorts("date_created_gmt", "date_modified_gmt", "code"),
        _coupon_filters,
        search_fields=("code", "description"),
    ),
    "products": Collection(
        "products",
        {
            **_CRUD,
            "orderby": _crud_orderby("price", "popularity", "rating", "menu_order"),
            "status": Param(
                "enum", "any", ("any", "future", "trash", "draft", "pending", "private", "publish")
            ),
            "category": Param("string"),
            "sku": Param("string"),
            "type": Param("enum", None, ("simple", "grouped", "external", "variable")),
        },
        {
            **_crud_sorts("date_created_gmt", "date_modified_gmt", "name"),
            "slug": _by("slug"),
            "price": lambda p: float(p["price"] or 0),
            "popularity": _by("total_sales"),
            "rating": lambda p: float(p["average_rating"]),
            "menu_order": _by("menu_order"),
        },
        _product_filters,
        search_fields=("name", "sku"),
    ),
    "reviews": Collection(
        "reviews",
        {
            **_PAGING,
            "after": Param("date"),
            "before": Param("date"),
            "orderby": Param("enum", "date_gmt", ("date", "date_gmt", "id", "include", "product")),
            "product": Param("integers", ()),
            "status": Param("enum", "approved", ("all", "hold", "approved", "spam", "trash")),
            "reviewer_email": Param("email"),
        },
        {
            "date": _by("date_created_gmt"),
            "date_gmt": _by("date_created_gmt"),
            "id": _ID,
            "product": _by("product_id"),
        },
        _review_filters,
        date_columns=("date_created", "date_created"),
        search_fields=("reviewer", "reviewer_email", "review"),
    ),
    "comments": Collection(
        "comments",
        {
            **_PAGING,
            "after": Param("date"),
            "before": Param("date"),
            "orderby": Param(
                "enum",
                "date_gmt",
                ("date", "date_gmt", "id", "include", "post", "parent", "type"),
            ),
            "post": Param("integers", ()),
            "parent": Param("integers", ()),
            "parent_exclude": Param("integers", ()),
            "author": Param("integers", ()),
            "author_exclude": Param("integers", ()),
            "author_email": Param("email"),
            "status": Param("string", "approve"),
            "type": Param("string", "comment"),
        },
        {
            "date": _by("date_gmt"),
            "date_gmt": _by("date_gmt"),
            "id": _ID,
            "post": _by("post"),
            "parent": _by("parent"),
            "type": _by("type"),
        },
        _comment_filters,
        date_columns=("date", "date"),
        search_fields=("author_name", "author_email"),
        page_beyond_end="rest_comment_invalid_page_number",
    ),
}


# --- one page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """The items of one page (deep copies) and the totals for X-WP-Total / X-WP-TotalPages."""

    items: list[Json]
    total: int
    total_pages: int
    page: int
    ids: list[int] = field(default_factory=list)


def list_page(
    store: SandboxStore,
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
    return collection.sort_keys.get(orderby, _ID), args["order"] == "desc"


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


def wall_time(value: str) -> str:
    """A date argument as WordPress compares it: naive as given, zoned converted to site time."""
    moment = datetime.fromisoformat(
        value.replace("t", "T").replace(" ", "T").replace("Z", "+00:00")
    )
    if moment.tzinfo is not None:
        moment = moment.astimezone(SITE_TZ).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat(timespec="seconds")


# --- presentation: `_links` and contexts, as the controllers' prepare_links() build them --------


def _link(href: str, **attributes: Any) -> list[Json]:
    return [{**attributes, "href": href}]


def present(
    kind: str, obj: Json, api: str, *, context: str = "view", extra: Json | None = None
) -> Json:
    """An object as served: context fields settled and `_links` added (hrefs under `api`, the
    base URL + /wp-json). `kind` is a route kind: order, refund, store_refund, customer, coupon,
    product, review or comment; `extra` carries what the links need beyond the object."""
    extra = extra or {}
    wc = f"{api}/wc/v3"
    if kind == "comment":
        obj = _comment_context(obj, context)
    links: Json
    if kind == "order":
        links = {"self": _link(f"{wc}/orders/{obj['id']}"), "collection": _link(f"{wc}/orders")}
        if obj["customer_id"]:
            links["customer"] = _link(f"{wc}/customers/{obj['customer_id']}")
    elif kind in ("refund", "store_refund"):
        base = f"{wc}/orders/{extra['parent']}/refunds"
        links = {
            "self": _link(f"{base}/{obj['id']}"),
            "collection": _link(base),
            "up": _link(f"{wc}/orders/{extra['parent']}"),
        }
        if kind == "store_refund":
            links["refunded_by"] = _link(f"{api}/wp/v2/users/{obj['refunded_by']}", embeddable=True)
    elif kind == "review":
        links = {
            "self": _link(f"{wc}/products/reviews/{obj['id']}"),
            "collection": _link(f"{wc}/products/reviews"),
            "up": _link(f"{wc}/products/{obj['product_id']}"),
        }
        if extra.get("reviewer_id"):
            links["reviewer"] = _link(f"{api}/wp/v2/users/{extra['reviewer_id']}", embeddable=True)
    elif kind == "comment":
        links = _comment_links(obj, f"{api}/wp/v2", extra)
    else:
        base = f"{wc}/{kind}s"
        links = {"self": _link(f"{base}/{obj['id']}"), "collection": _link(base)}
    return {**obj, "_links": links}


def _comment_links(comment: Json, wp: str, extra: Json) -> Json:
    links: Json = {
        "self": _link(f"{wp}/comments/{comment['id']}"),
        "collection": _link(f"{wp}/comments"),
    }
    if comment["author"]:
        links["author"] = _link(f"{wp}/users/{comment['author']}", embeddable=True)
    links["up"] = _link(f"{wp}/posts/{comment['post']}", embeddable=True, post_type="post")
    if comment["parent"]:
        links["in-reply-to"] = _link(f"{wp}/comments/{comment['parent']}", embeddable=True)
    if comment["id"] in extra.get("with_children", ()):
        links["children"] = _link(f"{wp}/comments?parent={comment['id']}", embeddable=True)
    return links


_COMMENT_EDIT_ORDER = (
    "id", "post", "parent", "author", "author_email", "author_ip", "author_name", "author_url",
    "author_user_agent", "date", "date_gmt", "content", "link", "status", "type",
    "author_avatar_urls", "meta",
)  # fmt: skip


def _comment_context(comment: Json, context: str) -> Json:
    """WordPress's view context hides the author's email, IP and agent; edit adds raw content."""
    if context != "edit":
        return {k: v for k, v in comment.items() if k not in COMMENT_EDIT_ONLY}
    rendered = comment["content"]["rendered"]
    raw = rendered.removeprefix("<p>").removesuffix("</p>\n")
    edited = {**comment, "content": {"raw": raw, "rendered": rendered}}
    return {k: edited[k] for k in _COMMENT_EDIT_ORDER if k in edited}
