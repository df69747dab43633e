"""The listed routes' definitions: per resource, its arguments, filters and sort keys.

For `sandbox.listing` (which pages through them) and `sandbox.rest_api` (which serves them). Each
listed route has a `Collection` in `COLLECTIONS`: its query arguments (validated by
`sandbox.arguments`), its filters and its sort orders by `orderby`.

Defaults followed (see ../shared/woocommerce-api.md): orders' `status=any` is everything but
trash and wins anywhere in the list; customers default to `orderby=name&order=asc` and
`role=customer`; reviews to `status=approved`; comments to `status=approve&type=comment`, where
`all` means approved and held ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.arguments import Param, wp_parse_list
from sandbox.store import ORDER_STATUSES

Json = dict[str, Any]
Predicate = Callable[[Json], bool]
SortKey = str | Callable[[Json], Any]  # a column name (the fast path) or a key function

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


BY_ID: SortKey = "id"


def _crud_sorts(created: str, modified: str, title: str) -> dict[str, SortKey]:
    return {
        "date": _by(created),
        "id": BY_ID,
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
        wanted = {int(c) for c in wp_parse_list(args["category"]) if c.isdigit()}
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
        {"id": BY_ID, "name": _display_name, "registered_date": _by("date_created_gmt")},
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
            "id": BY_ID,
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
            "id": BY_ID,
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
