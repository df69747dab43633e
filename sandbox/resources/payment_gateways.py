"""`/wc/v3/payment_gateways[/{id}]`: the shop's payment gateways and their settings.

Routed by `sandbox.routes` (its `RESOURCE`). The gateways are the ones the generated orders were
paid with (Stripe cards, bank transfers) plus WooCommerce's two offline ones, disabled. Unpaged,
in the order the checkout shows them. Read-only.
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
_NO_GATEWAY = SandboxError(
    "woocommerce_rest_payment_gateway_invalid", "Resource does not exist.", 404
)

# id, title, description, enabled, method title, method description, supports
GATEWAYS = (
    ("stripe", "Credit card (Stripe)", "Pay with your credit card.", True, "Stripe",
     "Take card payments through Stripe.", ("products", "refunds")),
    ("bacs", "Direct bank transfer", "Make your payment directly into our bank account.", True,
     "Direct bank transfer", "Take payments in person via BACS.", ("products",)),
    ("cheque", "Check payments", "Please send a check to the store.", False, "Check payments",
     "Take payments in person via checks.", ("products",)),
    ("cod", "Cash on delivery", "Pay with cash upon delivery.", False, "Cash on delivery",
     "Have your customers pay with cash upon delivery.", ("products",)),
)  # fmt: skip


def _setting(key: str, label: str, kind: str, value: Any, default: Any, tip: str = "") -> Json:
    return {
        "id": key,
        "label": label,
        "description": "",
        "type": kind,
        "value": value,
        "default": default,
        "tip": tip,
        "placeholder": "",
    }


def gateways(api: RestApi) -> list[Json]:
    admin = f"{api.site.base_url}/wp-admin/admin.php?page=wc-settings&tab=checkout&section="
    return [
        {
            "id": gateway_id,
            "title": title,
            "description": description,
            "order": n,
            "enabled": enabled,
            "method_title": method_title,
            "method_description": method_description,
            "method_supports": list(supports),
            "settings": {
                "title": _setting(
                    "title",
                    "Title",
                    "safe_text",
                    title,
                    method_title,
                    "This controls the title which the user sees during checkout.",
                ),
                "instructions": _setting("instructions", "Instructions", "textarea", "", ""),
            },
            "needs_setup": False,
            "post_install_scripts": [],
            "settings_url": f"{admin}{gateway_id}",
            "connection_url": None,
            "setup_help_text": None,
            "required_settings_keys": [],
        }
        for n, (
            gateway_id,
            title,
            description,
            enabled,
            method_title,
            method_description,
            supports,
        ) in enumerate(GATEWAYS)
    ]


def _present(api: RestApi, gateway: Json) -> Json:
    path = f"payment_gateways/{gateway['id']}"
    return {**gateway, "_links": links(api, path, "payment_gateways")}


def list_gateways(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    return serve_all(call, gateways(api), lambda g: _present(api, g))


def get_gateway(api: RestApi, call: Call) -> Response:
    return serve_one(call, gateways(api), str(call.ids[0]), _NO_GATEWAY, lambda o: _present(api, o))


RESOURCE = Resource(
    "payment_gateways",
    ("woocommerce_rest_payment_gateway_invalid", "Resource does not exist."),
    rest=(
        Route("GET", r"/wc/v3/payment_gateways", list_gateways),
        Route("GET", r"/wc/v3/payment_gateways/([\w-]+)", get_gateway),
    ),
)
