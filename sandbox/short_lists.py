"""Paging for the sandbox's short, generated listings: product terms, taxes, notes and the like.

For the per-resource modules of routes a small shop answers from a handful of objects
(`sandbox.resources.product_categories`, `...taxes`, `...order_notes`, ...): `short_page` filters,
sorts and cuts a list as WordPress's term controllers and WooCommerce's settings-like
controllers do (include/exclude, a trimmed case-insensitive search, `orderby`, `order`, `offset`
winning over `page`), and `serve` answers it with the same paging headers as every listing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sandbox.arguments import Param, validate
from sandbox.errors import SandboxError
from sandbox.listing import Page
from sandbox.messages import Response
from sandbox.rest import ITEM_ARGS, Call, RestApi, require

Json = dict[str, Any]
SortKeys = Mapping[str, Callable[[Json], Any]]

PAGING = {
    "context": Param("enum", "view", ("view", "edit")),
    "page": Param("integer", 1, minimum=1),
    "per_page": Param("integer", 10, minimum=1, maximum=100),
    "search": Param("string"),
    "offset": Param("integer"),
    "exclude": Param("integers", ()),
    "include": Param("integers", ()),
    "order": Param("enum", "asc", ("asc", "desc")),
}
# WordPress's term listings (WC_REST_Terms_Controller): categories, tags, attribute terms, classes
TERM_PARAMS = {
    **PAGING,
    "orderby": Param(
        "enum", "name", ("id", "include", "name", "slug", "term_group", "description", "count")
    ),
    "hide_empty": Param("boolean", False),
    "parent": Param("integer"),
    "product": Param("integer"),
    "slug": Param("string"),
}
TERM_SORTS: SortKeys = {
    "id": lambda t: t["id"],
    "name": lambda t: t["name"].lower(),
    "slug": lambda t: t["slug"],
    "term_group": lambda t: 0,
    "description": lambda t: t["description"].lower(),
    "count": lambda t: t["count"],
}


def short_page(
    items: Iterable[Json],
    args: Mapping[str, Any],
    *,
    sort_keys: SortKeys,
    default_order: str = "name",
    search_fields: tuple[str, ...] = ("name", "slug"),
) -> Page:
    """One page of `items` for validated `args` (see the module docstring for the rules)."""
    chosen = list(items)
    if args.get("include"):
        wanted = set(args["include"])
        chosen = [o for o in chosen if o["id"] in wanted]
    if args.get("exclude"):
        unwanted = set(args["exclude"])
        chosen = [o for o in chosen if o["id"] not in unwanted]
    needle = (args.get("search") or "").strip().lower()  # WordPress trims search terms
    if needle:
        chosen = [o for o in chosen if any(needle in str(o[f]).lower() for f in search_fields)]
    orderby = args.get("orderby") or default_order
    if orderby == "include" and args.get("include"):
        position = {obj_id: n for n, obj_id in enumerate(args["include"])}
        chosen.sort(key=lambda o: position[o["id"]])
    else:
        key = sort_keys.get(orderby, sort_keys[default_order])
        chosen.sort(key=lambda o: (key(o), o["id"]), reverse=args.get("order") == "desc")
    per_page = args["per_page"]
    offset = args["offset"] if args.get("offset") else (args["page"] - 1) * per_page
    total = len(chosen)
    return Page(
        items=chosen[offset : offset + per_page],
        total=total,
        total_pages=-(-total // per_page),
        page=args["page"],
    )


def term_filters(
    terms: Iterable[Json], args: Mapping[str, Any], products: Callable[[int], set[int]]
) -> list[Json]:
    """WordPress's term query filters: hide_empty, parent, slug, and product (the terms of one
    product; `products(term_id)` answers which products carry a term)."""
    chosen = list(terms)
    if args.get("hide_empty"):
        chosen = [t for t in chosen if t["count"] > 0]
    if args.get("parent") is not None:
        chosen = [t for t in chosen if t.get("parent", 0) == args["parent"]]
    if args.get("slug"):
        slugs = {s.strip() for s in args["slug"].split(",")}
        chosen = [t for t in chosen if t["slug"] in slugs]
    if args.get("product") is not None:
        chosen = [t for t in chosen if args["product"] in products(t["id"])]
    return chosen


def serve(api: RestApi, call: Call, page: Page, present: Callable[[Json], Json]) -> Response:
    """A listing answer: the page's objects as served, with X-WP-Total, X-WP-TotalPages, Link."""
    return Response.json(
        200, [present(o) for o in page.items], api.paging_headers(call.request, page)
    )


def serve_all(call: Call, items: Iterable[Json], present: Callable[[Json], Json]) -> Response:
    """An unpaged listing (payment gateways, zones, tax classes...): every object, no headers."""
    require(call, "list")
    return Response.json(200, [present(o) for o in items])


def serve_one(
    call: Call,
    items: Iterable[Json],
    wanted: object,
    missing: SandboxError,
    present: Callable[[Json], Json],
) -> Response:
    """One object of a short list by its id, as served; `missing` when no object has that id."""
    validate(ITEM_ARGS, call.params)
    require(call, "view")
    for item in items:
        if item["id"] == wanted:
            return Response.json(200, present(item))
    raise missing


def listing_args(call: Call, params: Mapping[str, Param]) -> dict[str, Any]:
    """The validated arguments of a listing, after the caller's permission to list."""
    args = validate(params, call.params)
    require(call, "list")
    return args


def link(href: str, **attributes: Any) -> list[Json]:
    return [{**attributes, "href": href}]


def links(api: RestApi, path: str, collection: str, **more: str) -> Json:
    """`_links` as WooCommerce's prepare_links(): self, collection, then named relations."""
    wc = f"{api.site.api_url}/wc/v3"
    found: Json = {"self": link(f"{wc}/{path}"), "collection": link(f"{wc}/{collection}")}
    found.update({rel: link(f"{wc}/{href}") for rel, href in more.items()})
    return found
