"""`/wc/v3/shipping_methods[/{id}]`: the shipping method types WooCommerce offers.

Routed by `sandbox.routes` (its `RESOURCE`): WooCommerce core's three, unpaged. Read-only.
"""

from __future__ import annotations

from typing import Any

from sandbox.arguments import validate
from sandbox.errors import SandboxError
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.rest import ITEM_ARGS, Call, RestApi, Route
from sandbox.short_lists import links, serve_all, serve_one

Json = dict[str, Any]
_NO_METHOD = SandboxError(
    "woocommerce_rest_shipping_method_invalid", "Resource does not exist.", 404
)
METHODS = (
    {"id": "flat_rate", "title": "Flat rate",
     "description": "Lets you charge a fixed rate for shipping."},
    {"id": "free_shipping", "title": "Free shipping",
     "description": "Free shipping is a special method which can be triggered with coupons and "
                    "minimum spends."},
    {"id": "local_pickup", "title": "Local pickup",
     "description": "Allow customers to pick up orders themselves. By default, when using local "
                    "pickup store base taxes will apply regardless of customer address."},
)  # fmt: skip


def _present(api: RestApi, method: Json) -> Json:
    return {**method, "_links": links(api, f"shipping_methods/{method['id']}", "shipping_methods")}


def list_methods(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    return serve_all(call, METHODS, lambda m: _present(api, m))


def get_method(api: RestApi, call: Call) -> Response:
    return serve_one(call, METHODS, str(call.ids[0]), _NO_METHOD, lambda o: _present(api, o))


RESOURCE = Resource(
    "shipping_methods",
    ("woocommerce_rest_shipping_method_invalid", "Resource does not exist."),
    rest=(
        Route("GET", r"/wc/v3/shipping_methods", list_methods),
        Route("GET", r"/wc/v3/shipping_methods/([\w-]+)", get_method),
    ),
)
