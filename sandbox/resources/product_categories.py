"""`/wc/v3/products/categories[/{id}]`: the shop's product categories, as WordPress terms.

Routed by `sandbox.routes` (its `RESOURCE`). The categories are the store's own (the ones its
products embed); `count` is the number of published products in each, as WordPress's term
counts are, and `product` lists the categories of one product. Read-only: the sandbox's owner
shapes the catalogue through the generator and the control API.
"""

from __future__ import annotations

from typing import Any

from sandbox.errors import SandboxError
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.resources.products import ProductsMixin
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
        for c in api.store_as(ProductsMixin).categories()
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
    return serve_one(call, categories(api), call.ids[0], _INVALID, lambda o: _present(api, o))


RESOURCE = Resource(
    "product_categories",
    ("woocommerce_rest_term_invalid", "Resource does not exist."),
    rest=(
        Route("GET", r"/wc/v3/products/categories", list_categories),
        Route("GET", r"/wc/v3/products/categories/(\d+)", get_category),
    ),
)
