"""`/wc/v3/products/tags[/{id}]`: product tags, as WordPress terms.

Routed by `sandbox.routes` (its `RESOURCE`). A small shop has a few tags its owner created; the
generated products carry none, so every tag's `count` is 0 (and `hide_empty` or `product` lists
nothing). Ids come from a range of their own (see the README's departures).
"""

from __future__ import annotations

from typing import Any

from sandbox.errors import SandboxError
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.rest import Call, RestApi, Route
from sandbox.short_lists import (
    TERM_PARAMS,
    TERM_SORTS,
    links,
    listing_args,
    serve,
    serve_one,
    short_page,
    term_filters,
)

Json = dict[str, Any]
_INVALID = SandboxError("woocommerce_rest_term_invalid", "Resource does not exist.", 404)
TAGS = ("Gift idea", "New in", "Organic", "Staff pick")
FIRST_ID = 901


def tags(api: RestApi) -> list[Json]:
    """The shop's tags, with the number of products carrying each."""
    carried: dict[int, int] = {}

    def visit(product: Json) -> bool:
        if product["status"] == "publish":
            for tag in product["tags"]:
                carried[tag["id"]] = carried.get(tag["id"], 0) + 1
        return False

    api.store.query("products", where=visit)
    return [
        {
            "id": FIRST_ID + n,
            "name": name,
            "slug": name.lower().replace(" ", "-"),
            "description": "",
            "count": carried.get(FIRST_ID + n, 0),
        }
        for n, name in enumerate(TAGS)
    ]


def _present(api: RestApi, tag: Json) -> Json:
    return {**tag, "_links": links(api, f"products/tags/{tag['id']}", "products/tags")}


def _carriers(api: RestApi, tag_id: int) -> set[int]:
    found: set[int] = set()

    def visit(product: Json) -> bool:
        if any(t["id"] == tag_id for t in product["tags"]):
            found.add(product["id"])
        return False

    api.store.query("products", where=visit)
    return found


def list_tags(api: RestApi, call: Call) -> Response:
    args = listing_args(call, TERM_PARAMS)
    chosen = term_filters(tags(api), args, lambda tag_id: _carriers(api, tag_id))
    page = short_page(chosen, args, sort_keys=TERM_SORTS)
    return serve(api, call, page, lambda t: _present(api, t))


def get_tag(api: RestApi, call: Call) -> Response:
    return serve_one(call, tags(api), call.ids[0], _INVALID, lambda o: _present(api, o))


RESOURCE = Resource(
    "product_tags",
    ("woocommerce_rest_term_invalid", "Resource does not exist."),
    rest=(
        Route("GET", r"/wc/v3/products/tags", list_tags),
        Route("GET", r"/wc/v3/products/tags/(\d+)", get_tag),
    ),
)
