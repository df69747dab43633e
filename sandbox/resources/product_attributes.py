"""`/wc/v3/products/attributes[/{id}]` and `.../attributes/{id}/terms[/{id}]`: global attributes.

Routed by `sandbox.routes` (its `RESOURCE`). The shop defines two global attributes with their
terms (as an owner sets them up before making variable products); the generated products are
simple and use none, so every term's `count` is 0. The attribute listing is not paged, as in
WooCommerce; the term listings are WordPress term listings.
"""

from __future__ import annotations

from typing import Any

from sandbox.arguments import validate
from sandbox.errors import SandboxError
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.rest import ITEM_ARGS, Call, RestApi, Route, require
from sandbox.short_lists import (
    TERM_PARAMS,
    TERM_SORTS,
    links,
    listing_args,
    serve,
    serve_all,
    serve_one,
    short_page,
    term_filters,
)

Json = dict[str, Any]
_NO_ATTRIBUTE = SandboxError("woocommerce_rest_invalid_id", "Invalid ID.", 404)
_NO_TERM = SandboxError("woocommerce_rest_term_invalid", "Resource does not exist.", 404)
_TAXONOMY_MISSING = SandboxError(
    "woocommerce_rest_taxonomy_invalid", "Resource does not exist.", 404
)

# id, name, slug, terms (id, name)
ATTRIBUTES = (
    (1, "Size", "pa_size", ((1001, "250 g"), (1002, "500 g"), (1003, "1 kg"))),
    (2, "Roast", "pa_roast", ((1011, "Light"), (1012, "Medium"), (1013, "Dark"))),
)


def attributes() -> list[Json]:
    return [
        {
            "id": attribute_id,
            "name": name,
            "slug": slug,
            "type": "select",
            "order_by": "menu_order",
            "has_archives": False,
        }
        for attribute_id, name, slug, _ in ATTRIBUTES
    ]


def terms(attribute_id: int) -> list[Json]:
    for known, _, _, attribute_terms in ATTRIBUTES:
        if known == attribute_id:
            return [
                {
                    "id": term_id,
                    "name": name,
                    "slug": name.lower().replace(" ", "-"),
                    "description": "",
                    "menu_order": n,
                    "count": 0,
                }
                for n, (term_id, name) in enumerate(attribute_terms)
            ]
    raise _TAXONOMY_MISSING


def _present(api: RestApi, attribute: Json) -> Json:
    path = f"products/attributes/{attribute['id']}"
    return {**attribute, "_links": links(api, path, "products/attributes")}


def _present_term(api: RestApi, attribute_id: int, term: Json) -> Json:
    base = f"products/attributes/{attribute_id}/terms"
    return {**term, "_links": links(api, f"{base}/{term['id']}", base)}


def list_attributes(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    return serve_all(call, attributes(), lambda a: _present(api, a))


def get_attribute(api: RestApi, call: Call) -> Response:
    return serve_one(call, attributes(), call.ids[0], _NO_ATTRIBUTE, lambda o: _present(api, o))


def list_terms(api: RestApi, call: Call) -> Response:
    args = listing_args(call, TERM_PARAMS)
    attribute_id = call.ids[0]
    chosen = term_filters(terms(attribute_id), args, lambda _: set())
    page = short_page(
        chosen, args, sort_keys={**TERM_SORTS, "menu_order": lambda t: t["menu_order"]}
    )
    return serve(api, call, page, lambda t: _present_term(api, attribute_id, t))


def get_term(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    require(call, "view")
    attribute_id, term_id = call.ids
    found = [t for t in terms(attribute_id) if t["id"] == term_id]
    if not found:
        raise _NO_TERM
    return Response.json(200, _present_term(api, attribute_id, found[0]))


RESOURCE = Resource(
    "product_attributes",
    ("woocommerce_rest_invalid_id", "Invalid ID."),
    rest=(
        Route("GET", r"/wc/v3/products/attributes", list_attributes),
        Route("GET", r"/wc/v3/products/attributes/(\d+)", get_attribute),
        Route("GET", r"/wc/v3/products/attributes/(\d+)/terms", list_terms),
        Route("GET", r"/wc/v3/products/attributes/(\d+)/terms/(\d+)", get_term),
    ),
)
