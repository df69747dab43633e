"""`/wc/v3/products/shipping_classes[/{id}]`: product shipping classes, as WordPress terms.

Routed by `sandbox.routes` (its `RESOURCE`). The shop has one class, for bulky parcels; the
generated products use none (their `shipping_class_id` is 0), so its `count` is 0.
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
CLASSES = ((951, "Bulky parcel", "Over 10 kg or longer than 1 m: carriers charge extra."),)


def shipping_classes(api: RestApi) -> list[Json]:
    """The shop's shipping classes, each with the number of products in it."""
    used: dict[int, set[int]] = {}

    def visit(product: Json) -> bool:
        used.setdefault(product["shipping_class_id"], set()).add(product["id"])
        return False

    api.store.query("products", where=visit)
    return [
        {
            "id": class_id,
            "name": name,
            "slug": name.lower().replace(" ", "-"),
            "description": description,
            "count": len(used.get(class_id, ())),
        }
        for class_id, name, description in CLASSES
    ]


def _present(api: RestApi, shipping_class: Json) -> Json:
    path = f"products/shipping_classes/{shipping_class['id']}"
    return {**shipping_class, "_links": links(api, path, "products/shipping_classes")}


def list_classes(api: RestApi, call: Call) -> Response:
    args = listing_args(call, TERM_PARAMS)
    chosen = term_filters(shipping_classes(api), args, lambda _: set())
    page = short_page(chosen, args, sort_keys=TERM_SORTS)
    return serve(api, call, page, lambda c: _present(api, c))


def get_class(api: RestApi, call: Call) -> Response:
    return serve_one(call, shipping_classes(api), call.ids[0], _INVALID, lambda o: _present(api, o))


RESOURCE = Resource(
    "shipping_classes",
    ("woocommerce_rest_term_invalid", "Resource does not exist."),
    rest=(
        Route("GET", r"/wc/v3/products/shipping_classes", list_classes),
        Route("GET", r"/wc/v3/products/shipping_classes/(\d+)", get_class),
    ),
)
