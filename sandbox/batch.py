"""`POST /wp-json/wc/v3/{base}/batch`: create, update and delete in one request.

For the resource modules that offer a batch route (customers, coupons): they pass their store
operations. As WooCommerce's batch_items(): at most 100 items in all, each failure reported in
place of its item, the answer 200.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.errors import SandboxError
from sandbox.messages import Response
from sandbox.rest import Call, RestApi, Served, require

Json = dict[str, Any]

_BATCH_LIMIT = 100


@dataclass(frozen=True)
class BatchOps:
    """A resource's store operations as its batch route applies them, item by item."""

    create: Callable[[Json], Json]
    update: Callable[[int, Json], Json]
    delete: Callable[[int], Json]


def batch(api: RestApi, call: Call, served: Served, ops: BatchOps) -> Response:
    """POST {base}/batch: at most 100 items; each failure is reported in place, answer 200."""
    require(call, "batch")
    lists = {
        k: v for k in ("create", "update", "delete") if isinstance(v := call.body.get(k), list)
    }
    if sum(len(items) for items in lists.values()) > _BATCH_LIMIT:
        raise SandboxError(
            "woocommerce_rest_request_entity_too_large",
            f"Unable to accept more than {_BATCH_LIMIT} items for this request.",
            413,
        )
    out: Json = {}
    for action, items in lists.items():
        if items:
            results = [_batch_item(api, served, ops, action, item) for item in items]
            out[action] = [r for r in results if r is not None]
    return Response.json(200, out)


def _batch_item(api: RestApi, served: Served, ops: BatchOps, action: str, item: Any) -> Json | None:
    item_id = _int_or_zero(item.get("id") if isinstance(item, dict) else item)
    try:
        if not isinstance(item, dict) and action != "delete":
            raise SandboxError("rest_invalid_param", "Invalid parameter(s): item", 400)
        if action == "create":
            item_id, obj = 0, ops.create(item)
        elif action == "update":
            obj = ops.update(item_id, item)
        elif item_id == 0:
            return None  # WooCommerce skips ids that cast to 0
        else:
            obj = ops.delete(item_id)
    except SandboxError as error:
        body = error.body()
        failure = {"code": body["code"], "message": body["message"], "data": body["data"]}
        failed_id = (
            0 if action == "create" else item.get("id") if isinstance(item, dict) else item_id
        )
        return {"id": failed_id, "error": failure}
    return api.shape(served, obj, "edit")


def _int_or_zero(value: Any) -> int:
    """PHP's (int) cast, enough for ids: numbers and numeric strings, anything else 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return 0
