"""`/wc/v3/products/{id}/variations[/{id}]`: product variations.

Routed by `sandbox.routes` (its `RESOURCE`). The generated shop sells simple products only, so
every product's variation listing is empty (with the paging headers of an empty listing), as
WooCommerce answers for a simple product, and no variation id exists.
"""

from __future__ import annotations

from sandbox.arguments import Param, validate
from sandbox.errors import SandboxError
from sandbox.listing import Page
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.rest import ITEM_ARGS, Call, RestApi, Route, require
from sandbox.short_lists import PAGING, listing_args, serve

PARAMS = {
    **PAGING,
    "order": Param("enum", "desc", ("asc", "desc")),
    "orderby": Param("enum", "date", ("date", "id", "include", "title", "slug", "modified")),
}


def list_variations(api: RestApi, call: Call) -> Response:
    args = listing_args(call, PARAMS)
    return serve(api, call, Page(items=[], total=0, total_pages=0, page=args["page"]), dict)


def get_variation(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    require(call, "view", exists=False)
    raise SandboxError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 404)


RESOURCE = Resource(
    "product_variations",
    ("woocommerce_rest_product_variation_invalid_id", "Invalid ID."),
    rest=(
        Route("GET", r"/wc/v3/products/(\d+)/variations", list_variations),
        Route("GET", r"/wc/v3/products/(\d+)/variations/(\d+)", get_variation),
    ),
)
