"""`/wc/v3/shipping/zones[/{id}]` with `.../locations` and `.../methods[/{instance}]`.

Routed by `sandbox.routes` (its `RESOURCE`). The shop ships within the United States: one zone
for the US with the two methods the generated orders carry (flat rate, instance 1; free
shipping, instance 2, which a coupon unlocks), plus WooCommerce's built-in zone 0 for every
other location, which has no location and no method. Unpaged, as in WooCommerce. Read-only.
"""

from __future__ import annotations

from typing import Any

from sandbox.arguments import Param, validate
from sandbox.errors import SandboxError
from sandbox.messages import Response
from sandbox.resource import Resource
from sandbox.resources.orders import DEFAULT_SHIPPING
from sandbox.rest import ITEM_ARGS, Call, RestApi, Route, require
from sandbox.short_lists import link, serve_all

Json = dict[str, Any]
_NO_ZONE = SandboxError("woocommerce_rest_shipping_zone_invalid", "Resource does not exist.", 404)
_NO_METHOD = SandboxError(
    "woocommerce_rest_shipping_zone_method_invalid", "Resource does not exist.", 404
)
FLAT_RATE_INSTANCE = 1
FREE_SHIPPING_INSTANCE = 2
ZONES = ((0, "Locations not covered by your other zones", 0), (1, "United States (US)", 0))
LOCATIONS = {1: ({"code": "US", "type": "country"},)}
METHOD_PARAMS = {**ITEM_ARGS, "context": Param("enum", "view", ("view", "edit"))}


def _setting(key: str, label: str, kind: str, value: str, default: str) -> Json:
    return {
        "id": key,
        "label": label,
        "description": "",
        "type": kind,
        "value": value,
        "default": default,
        "tip": "",
        "placeholder": "",
    }


def methods(zone_id: int, flat_rate: str) -> list[Json]:
    """The zone's shipping method instances (flat rate's cost is the store's)."""
    if zone_id != 1:
        return []
    flat = {
        "title": _setting("title", "Method title", "text", "Flat rate", "Flat rate"),
        "tax_status": _setting("tax_status", "Tax status", "select", "taxable", "taxable"),
        "cost": _setting("cost", "Cost", "text", flat_rate, "0"),
    }
    free = {
        "title": _setting("title", "Title", "text", "Free shipping", "Free shipping"),
        "requires": _setting("requires", "Free shipping requires...", "select", "coupon", ""),
    }
    return [
        _method(FLAT_RATE_INSTANCE, "flat_rate", "Flat rate", flat,
                "Lets you charge a fixed rate for shipping."),
        _method(FREE_SHIPPING_INSTANCE, "free_shipping", "Free shipping", free,
                "Free shipping is a special method which can be triggered with coupons and "
                "minimum spends."),
    ]  # fmt: skip


def _method(instance: int, method_id: str, title: str, settings: Json, description: str) -> Json:
    return {
        "id": instance,
        "instance_id": instance,
        "title": title,
        "order": instance,
        "enabled": True,
        "method_id": method_id,
        "method_title": title,
        "method_description": f"<p>{description}</p>\n",
        "settings": settings,
    }


def _zone(api: RestApi, zone_id: int) -> Json:
    for known, name, order in ZONES:
        if known == zone_id:
            return {"id": known, "name": name, "order": order}
    raise _NO_ZONE


def _zone_url(api: RestApi, zone_id: int) -> str:
    return f"{api.site.api_url}/wc/v3/shipping/zones/{zone_id}"


def _present_zone(api: RestApi, zone: Json) -> Json:
    base = _zone_url(api, zone["id"])
    return {
        **zone,
        "_links": {
            "self": link(base),
            "collection": link(f"{api.site.api_url}/wc/v3/shipping/zones"),
            "describedby": link(f"{base}/locations"),
        },
    }


def _flat_rate(api: RestApi) -> str:
    return str(DEFAULT_SHIPPING)


def list_zones(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    zones = [_zone(api, zone_id) for zone_id, _, _ in ZONES]
    return serve_all(call, zones, lambda z: _present_zone(api, z))


def get_zone(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    require(call, "view")
    return Response.json(200, _present_zone(api, _zone(api, call.ids[0])))


def list_locations(api: RestApi, call: Call) -> Response:
    validate(ITEM_ARGS, call.params)
    zone_id = _zone(api, call.ids[0])["id"]
    base = _zone_url(api, zone_id)

    def present(location: Json) -> Json:
        return {
            **location,
            "_links": {"collection": link(f"{base}/locations"), "describes": link(base)},
        }

    return serve_all(call, LOCATIONS.get(zone_id, ()), present)


def _present_method(api: RestApi, zone_id: int, method: Json) -> Json:
    base = _zone_url(api, zone_id)
    return {
        **method,
        "_links": {
            "self": link(f"{base}/methods/{method['instance_id']}"),
            "collection": link(f"{base}/methods"),
            "describes": link(base),
        },
    }


def list_methods(api: RestApi, call: Call) -> Response:
    validate(METHOD_PARAMS, call.params)
    zone_id = _zone(api, call.ids[0])["id"]
    found = methods(zone_id, _flat_rate(api))
    return serve_all(call, found, lambda m: _present_method(api, zone_id, m))


def get_method(api: RestApi, call: Call) -> Response:
    validate(METHOD_PARAMS, call.params)
    require(call, "view")
    zone_id = _zone(api, call.ids[0])["id"]
    found = [m for m in methods(zone_id, _flat_rate(api)) if m["instance_id"] == call.ids[1]]
    if not found:
        raise _NO_METHOD
    return Response.json(200, _present_method(api, zone_id, found[0]))


RESOURCE = Resource(
    "shipping_zones",
    ("woocommerce_rest_shipping_zone_invalid", "Resource does not exist."),
    rest=(
        Route("GET", r"/wc/v3/shipping/zones", list_zones),
        Route("GET", r"/wc/v3/shipping/zones/(\d+)", get_zone),
        Route("GET", r"/wc/v3/shipping/zones/(\d+)/locations", list_locations),
        Route("GET", r"/wc/v3/shipping/zones/(\d+)/methods", list_methods),
        Route("GET", r"/wc/v3/shipping/zones/(\d+)/methods/(\d+)", get_method),
    ),
)
