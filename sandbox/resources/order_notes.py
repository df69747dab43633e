"""`/wc/v3/orders/{id}/notes[/{id}]`: the notes WooCommerce writes on an order as it moves.

Routed by `sandbox.routes` (its `RESOURCE`). Notes are derived from the order as stored, the way
WooCommerce would have written them: a status change when it was paid, another when it was
completed (or when it reached a final status unpaid), and one per refund. All are system notes
(`author` "system", private). Newest first, unpaged, with the `type` filter (any, customer,
internal). Ids are derived from the order's id (see the README's departures).
"""

from __future__ import annotations

from typing import Any

from sandbox.arguments import Param, validate
from sandbox.errors import SandboxError
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.rest import ITEM_ARGS, Call, RestApi, Route, require
from sandbox.short_lists import link, serve_all

Json = dict[str, Any]
PARAMS = {**ITEM_ARGS, "type": Param("enum", "any", ("any", "customer", "internal"))}
NOTE_ID_BASE = 5_000_000  # notes are comments; this keeps them clear of reviews and comments
_LABELS = {
    "pending": "Pending payment",
    "processing": "Processing",
    "on-hold": "On hold",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "refunded": "Refunded",
    "failed": "Failed",
    "checkout-draft": "Draft",
    "trash": "Trash",
}
_NO_ORDER = SandboxError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)
_NO_NOTE = SandboxError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)


def notes(order: Json, refunds: list[Json]) -> list[Json]:
    """The order's notes, newest first."""
    found: list[tuple[str | None, str | None, str]] = []
    paid = order["date_paid"] is not None
    if paid:
        found.append((order["date_paid"], order["date_paid_gmt"], _change("pending", "processing")))
    if order["date_completed"] is not None:
        found.append(
            (
                order["date_completed"],
                order["date_completed_gmt"],
                _change("processing" if paid else "pending", "completed"),
            )
        )
    elif order["status"] in ("cancelled", "failed", "on-hold", "refunded"):
        before = "processing" if paid else "pending"
        found.append(
            (order["date_modified"], order["date_modified_gmt"], _change(before, order["status"]))
        )
    for refund in refunds:
        reason = f" – {refund['reason']}" if refund["reason"] else ""
        text = f"Refunded ${refund['amount']}{reason}"
        found.append((refund["date_created"], refund["date_created_gmt"], text))
    rows = [
        {
            "id": NOTE_ID_BASE + order["id"] * 20 + n,
            "author": "system",
            "date_created": local,
            "date_created_gmt": gmt,
            "note": text,
            "customer_note": False,
        }
        for n, (local, gmt, text) in enumerate(found[:20])
    ]
    return sorted(rows, key=lambda note: (note["date_created_gmt"], note["id"]), reverse=True)


def _change(before: str, after: str) -> str:
    return f"Order status changed from {_LABELS[before]} to {_LABELS[after]}."


def _order_notes(api: RestApi, order_id: int) -> list[Json]:
    try:
        order = api.store.get("orders", order_id)
    except SandboxError:
        raise _NO_ORDER from None
    refunds = [api.store.get("refunds", entry["id"]) for entry in order["refunds"]]
    return notes(order, refunds)


def _present(api: RestApi, order_id: int, note: Json) -> Json:
    base = f"{api.site.api_url}/wc/v3/orders/{order_id}"
    return {
        **note,
        "_links": {
            "self": link(f"{base}/notes/{note['id']}"),
            "collection": link(f"{base}/notes"),
            "up": link(base),
        },
    }


def list_notes(api: RestApi, call: Call) -> Response:
    args = validate(PARAMS, call.params)
    order_id = call.ids[0]
    found = _order_notes(api, order_id)
    if args["type"] != "any":
        wanted = args["type"] == "customer"
        found = [n for n in found if n["customer_note"] is wanted]
    return serve_all(call, found, lambda n: _present(api, order_id, n))


def get_note(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    require(call, "view")
    order_id, note_id = call.ids
    found = [n for n in _order_notes(api, order_id) if n["id"] == note_id]
    if not found:
        raise _NO_NOTE
    return Response.json(200, _present(api, order_id, found[0]))


RESOURCE = Resource(
    "order_notes",
    ("woocommerce_rest_invalid_id", "Invalid resource ID."),
    rest=(
        Route("GET", r"/wc/v3/orders/(\d+)/notes", list_notes),
        Route("GET", r"/wc/v3/orders/(\d+)/notes/(\d+)", get_note),
    ),
)
