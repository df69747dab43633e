"""What every wc/v3 and wp/v2 handler of the sandbox receives and checks first.

For the REST route modules (`sandbox.rest_api`, `sandbox.rest_batch`, `sandbox.rest_refunds`,
`sandbox.rest_comments`): the matched `Call`, the arguments of single-object routes, and
WooCommerce's permission callbacks (`require`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.arguments import Param
from sandbox.auth import Identity
from sandbox.faults import FaultDecision
from sandbox.messages import Request, Response
from sandbox.store import SandboxError

Json = dict[str, Any]

ITEM_ARGS = {"context": Param("enum", "view", ("view", "edit"))}
DELETE_ARGS = {"force": Param("boolean", False), "reassign": Param("integer")}
_DENIED = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": (
        "woocommerce_rest_cannot_delete",
        "Sorry, you are not allowed to delete this resource.",
    ),
    "batch": (
        "woocommerce_rest_cannot_batch",
        "Sorry, you are not allowed to batch manipulate this resource.",
    ),
}


@dataclass
class Call:
    """One matched REST request: who calls, the URL ids, the merged parameters and the body."""

    request: Request
    identity: Identity
    ids: tuple[int, ...]
    params: dict[str, Any]
    body: Json
    decision: FaultDecision


Handler = Callable[[Call], Response]


def require(call: Call, action: str, *, exists: bool = True) -> None:
    """WooCommerce's permission callbacks: anonymous callers get 401, except on a missing
    object, where the controller's invalid-id error answers instead."""
    if call.identity.authenticated or not exists:
        return
    code, message = _DENIED[action]
    raise SandboxError(code, message, 401)
