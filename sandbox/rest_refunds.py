"""The refund routes: `/wc/v3/orders/{id}/refunds[/{id}]` and the store-wide `/wc/v3/refunds`.

For `sandbox.rest_api`, which routes them here. Both listings ignore `parent` as WooCommerce
does (see `sandbox.listed_collections`); the store-wide one honours `parent_exclude`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sandbox.arguments import validate
from sandbox.listed_collections import Predicate
from sandbox.messages import Response
from sandbox.rest_call import ITEM_ARGS, Call, require
from sandbox.store import SandboxError

if TYPE_CHECKING:
    from sandbox.rest_api import RestApi


def list_order_refunds(api: RestApi, call: Call) -> Response:
    """GET orders/{id}/refunds: the order's refunds (none for an unknown order)."""
    order_id = call.ids[0]
    try:
        refund_ids = {e["id"] for e in api.store.get("orders", order_id)["refunds"]}
    except SandboxError:
        refund_ids = set()  # WooCommerce lists nothing for an unknown order
    return api.serve_list(call, "refunds", "refund", lambda args: [lambda r: r["id"] in refund_ids])


def get_order_refund(api: RestApi, call: Call) -> Response:
    """GET orders/{id}/refunds/{id}: one refund, which must belong to that order."""
    order_id, refund_id = call.ids
    args = validate(ITEM_ARGS, call.params)
    require(call, "view", exists=api.exists("refunds", refund_id))
    refund = api.store.get("refunds", refund_id)
    if not api.exists("orders", order_id):
        raise SandboxError("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
    if api.store.refund_parent(refund_id) != order_id:
        raise SandboxError(
            "woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.", 404
        )
    return Response.json(200, api.shape("refund", refund, args["context"]))


def list_store_refunds(api: RestApi, call: Call) -> Response:
    """GET refunds: every refund in the store, each with its parent order id."""

    def scope(args: dict[str, Any]) -> list[Predicate]:
        if not args["parent_exclude"]:
            return []
        excluded = set(args["parent_exclude"])
        return [lambda r: api.store.refund_parent(r["id"]) not in excluded]

    return api.serve_list(call, "refunds", "store_refund", scope)
