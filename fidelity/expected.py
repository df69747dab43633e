"""What the sandbox holds for each of Airbyte's WooCommerce streams, counted over plain HTTP.

For fidelity/run.py: each stream's count comes from the route the stream reads, with the
defaults the connector leaves in place, as X-WP-Total where WooCommerce pages the route and as
the length of the answer where it does not; nested streams add up over their parents.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import requests

from sandbox.server import SandboxServer

# stream -> (route, params) for top-level listings
LISTED = {
    "customers": ("customers", {}),
    "coupons": ("coupons", {}),
    "orders": ("orders", {}),
    "products": ("products", {}),
    "product_categories": ("products/categories", {}),
    "product_reviews": ("products/reviews", {}),
    "product_shipping_classes": ("products/shipping_classes", {}),
    "product_tags": ("products/tags", {}),
    "tax_rates": ("taxes", {}),
}
UNPAGED = {
    "payment_gateways": "payment_gateways",
    "product_attributes": "products/attributes",
    "shipping_methods": "shipping_methods",
    "shipping_zones": "shipping/zones",
    "system_status_tools": "system_status/tools",
    "tax_classes": "taxes/classes",
}


class _Client:
    def __init__(self, server: SandboxServer, key: str, secret: str) -> None:
        self.base = f"{server.api_url}/wc/v3"
        self.session = requests.Session()
        self.session.auth = (key, secret)
        # per request: a session's `verify` loses to REQUESTS_CA_BUNDLE in the environment
        self.verify: str | bool = server.ca_bundle or True

    def get(self, route: str, **params: Any) -> requests.Response:
        response = self.session.get(
            f"{self.base}/{route}", params=params, timeout=60, verify=self.verify
        )
        response.raise_for_status()
        return response

    def total(self, route: str, **params: Any) -> int:
        return int(self.get(route, per_page=1, **params).headers["X-WP-Total"])

    def length(self, route: str) -> int:
        return len(self.get(route).json())

    def nested_length(self, parents: str, part: str) -> int:
        return sum(self.length(f"{parents}/{p['id']}/{part}") for p in self.get(parents).json())

    def ids(self, route: str) -> list[Any]:
        found: list[Any] = []
        page = 1
        while True:
            response = self.get(route, per_page=100, page=page)
            found += [item["id"] for item in response.json()]
            if page >= int(response.headers.get("X-WP-TotalPages", "1")):
                return found
            page += 1


def expected_counts(server: SandboxServer, key: str, secret: str) -> dict[str, int | str]:
    """The record count each Airbyte stream should read from this sandbox (or why there is none)."""
    client = _Client(server, key, secret)
    counters: dict[str, Callable[[], int]] = {
        name: partial(client.total, route, **params) for name, (route, params) in LISTED.items()
    }
    counters |= {name: partial(client.length, route) for name, route in UNPAGED.items()}
    counters["refunds"] = lambda: sum(
        client.total(f"orders/{o}/refunds") for o in client.ids("orders")
    )
    counters["order_notes"] = lambda: sum(
        client.length(f"orders/{o}/notes") for o in client.ids("orders")
    )
    counters["product_variations"] = lambda: sum(
        client.total(f"products/{p}/variations") for p in client.ids("products")
    )
    counters["product_attribute_terms"] = lambda: sum(
        client.total(f"products/attributes/{a}/terms") for a in client.ids("products/attributes")
    )
    for stream, part in (
        ("shipping_zone_locations", "locations"),
        ("shipping_zone_methods", "methods"),
    ):
        counters[stream] = partial(client.nested_length, "shipping/zones", part)
    counts: dict[str, int | str] = {}
    for name, count in counters.items():
        try:
            counts[name] = count()
        except requests.HTTPError as error:
            counts[name] = f"the sandbox answers {error}"
    return counts
