"""`/wc/v3/taxes[/{id}]`: the shop's tax rates.

Routed by `sandbox.routes` (its `RESOURCE`). The shop charges one standard US rate, the store's
`tax_rate`, with the id, code and label its orders' tax lines carry. Paged and filtered
(`class`, `orderby` id/order/priority) as WooCommerce's taxes controller does. Read-only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.arguments import Param, validate
from sandbox.errors import SandboxError
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.resources.order_shapes import TAX_LABEL, TAX_RATE_ID
from sandbox.rest import ITEM_ARGS, Call, RestApi, Route, require
from sandbox.short_lists import PAGING, links, listing_args, serve, short_page

Json = dict[str, Any]
_NO_RATE = SandboxError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
PARAMS = {
    **PAGING,
    "orderby": Param("enum", "order", ("id", "order", "priority")),
    "class": Param("string"),
}
SORTS = {
    "id": lambda t: t["id"],
    "order": lambda t: t["order"],
    "priority": lambda t: t["priority"],
}


def rates(tax_rate: Decimal) -> list[Json]:
    return [
        {
            "id": TAX_RATE_ID,
            "country": "US",
            "state": "",
            "postcode": "",
            "city": "",
            "postcodes": [],
            "cities": [],
            "rate": f"{tax_rate * 100:.4f}",
            "name": TAX_LABEL,
            "priority": 1,
            "compound": False,
            "shipping": True,
            "order": 0,
            "class": "standard",
        }
    ]


def _present(api: RestApi, rate: Json) -> Json:
    return {**rate, "_links": links(api, f"taxes/{rate['id']}", "taxes")}


def list_rates(api: RestApi, call: Call) -> Response:
    args = listing_args(call, PARAMS)
    found = rates(api.store.tax_rate)
    if args["class"]:
        found = [r for r in found if r["class"] == args["class"]]
    page = short_page(found, args, sort_keys=SORTS, default_order="order", search_fields=("name",))
    return serve(api, call, page, lambda r: _present(api, r))


def get_rate(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    require(call, "view")
    found = [r for r in rates(api.store.tax_rate) if r["id"] == call.ids[0]]
    if not found:
        raise _NO_RATE
    return Response.json(200, _present(api, found[0]))


RESOURCE = Resource(
    "taxes",
    ("woocommerce_rest_invalid_id", "Invalid resource ID."),
    rest=(
        Route("GET", r"/wc/v3/taxes", list_rates),
        Route("GET", r"/wc/v3/taxes/(\d+)", get_rate),
    ),
)
