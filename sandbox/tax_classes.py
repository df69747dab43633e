"""`/wc/v3/taxes/classes`: WooCommerce's tax classes (the three a new shop has), unpaged.

For `sandbox.rest_api`, which routes here. Read-only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.arguments import validate
from sandbox.messages import Response
from sandbox.rest_call import ITEM_ARGS, Call
from sandbox.short_lists import link, serve_all

if TYPE_CHECKING:
    from sandbox.rest_api import RestApi

Json = dict[str, Any]
CLASSES = (
    {"slug": "standard", "name": "Standard rate"},
    {"slug": "reduced-rate", "name": "Reduced rate"},
    {"slug": "zero-rate", "name": "Zero rate"},
)


def list_classes(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    collection = link(f"{api.server.api_url}/wc/v3/taxes/classes")
    return serve_all(call, CLASSES, lambda c: {**c, "_links": {"collection": collection}})


ROUTES = (("GET", "taxes/classes", list_classes),)
