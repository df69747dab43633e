"""`/wc/v3/products/categories[/{id}]`: the shop's product categories, as WordPress terms.

For `sandbox.rest_api`, which routes here. The categories are the store's own (the ones its
products embed); `count` is the number of published products in each, as WordPress's term
counts are, and `product` lists the categories of one product. Read-only: the sandbox's owner
shapes the catalogue through the generator and the control API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.arguments import validate
from sandbox.messages import Response
from sandbox.rest_call import ITEM_ARGS, Call, require
from sandbox.short_lists import (
    TERM_PARAMS,
    TERM_SORTS,
    links,
    listing_args,
    serve,
    short_page,
    term_filters,
)
from sandbox.store import SandboxError

if TYPE_CHECKING:
    from sandbox.rest_api import RestApi

Json = dict[str, Any]
_INVALID = SandboxError("woocommerce_rest_term_invalid", "Resource does not exist.", 404)


def categories(api: RestApi) -> list[Json]:
    """Every category as WooCommerce serves it (without `_links`), with its product count."""
    members: dict[int, set[int]] = {}

    def visit(product: Json) -> bool:
        if product["status"] == "publish":
            for category in product["categories"]:
                members.setdefault(category["id"], set()).add(product["id"])
        return False

    api.store.query("products", where=visit)
    return [
        {
            "id": c["id"],
            "name": c["name"],
            "slug": c["slug"],
            "parent": 0,
            "description": "",
            "display": "default",
            "image": None,
            "menu_order": 0,
            "count": len(members.get(c["id"], ())),
        }
        for c in api.store.categories()
    ]


def _members(api: RestApi) -> dict[int, set[int]]:
    found: dict[int, set[int]] = {}

    def visit(product: Json) -> bool:
        for category in product["categories"]:
            found.setdefault(category["id"], set()).add(product["id"])
        return False

    api.store.query("products", where=visit)
    return found


def _present(api: RestApi, category: Json) -> Json:
    path = f"products/categories/{category['id']}"
    return {**category, "_links": links(api, path, "products/categories")}


def list_categories(api: RestApi, call: Call) -> Response:
    args = listing_args(call, TERM_PARAMS)
    members = _members(api) if args["product"] is not None else {}
    chosen = term_filters(categories(api), args, lambda term: members.get(term, set()))
    page = short_page(chosen, args, sort_keys=TERM_SORTS)
    return serve(api, call, page, lambda c: _present(api, c))


def get_category(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    require(call, "view")
    found = [c for c in categories(api) if c["id"] == call.ids[0]]
    if not found:
        raise _INVALID
    return Response.json(200, _present(api, found[0]))


ROUTES = (
    ("GET", "products/categories", list_categories),
    ("GET", "products/categories/(\\d+)", get_category),
)
