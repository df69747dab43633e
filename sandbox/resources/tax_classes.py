"""`/wc/v3/taxes/classes`: WooCommerce's tax classes (the three a new shop has), unpaged.

Routed by `sandbox.routes` (its `RESOURCE`). Read-only.
"""

from __future__ import annotations

from typing import Any

from sandbox.arguments import validate
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.rest import ITEM_ARGS, Call, RestApi, Route
from sandbox.short_lists import link, serve_all

Json = dict[str, Any]
CLASSES = (
    {"slug": "standard", "name": "Standard rate"},
    {"slug": "reduced-rate", "name": "Reduced rate"},
    {"slug": "zero-rate", "name": "Zero rate"},
)


def list_classes(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    collection = link(f"{api.site.api_url}/wc/v3/taxes/classes")
    return serve_all(call, CLASSES, lambda c: {**c, "_links": {"collection": collection}})


RESOURCE = Resource(
    "tax_classes",
    ("woocommerce_rest_invalid_id", "Invalid resource ID."),
    rest=(Route("GET", r"/wc/v3/taxes/classes", list_classes),),
)
