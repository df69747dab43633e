"""The routing table: which resources the sandbox holds and serves, one line each.

For `sandbox.store` (a table per resource), `sandbox.server` (their REST and control routes) and
`sandbox.generator` (their `populate` hooks). Adding a resource is one module in
`sandbox.resources` that declares a `Resource`, and one line here.
"""

from __future__ import annotations

from sandbox.control import ControlRoute
from sandbox.resource import Resource
from sandbox.resources import (
    comments,
    coupons,
    customers,
    order_notes,
    orders,
    payment_gateways,
    product_attributes,
    product_categories,
    product_tags,
    product_variations,
    products,
    refunds,
    reviews,
    shipping_classes,
    shipping_methods,
    shipping_zones,
    system_status,
    tax_classes,
    taxes,
)
from sandbox.rest import Route

# In this order the store's tables are saved (`--state FILE`).
RESOURCES: tuple[Resource, ...] = (
    customers.RESOURCE,
    products.RESOURCE,
    orders.RESOURCE,
    refunds.RESOURCE,
    reviews.RESOURCE,
    comments.RESOURCE,
    coupons.RESOURCE,
    # Derived from the resources above or from the shop's fixed settings: served, never stored
    # (their tables stay empty), so saved stores carry nothing for them.
    product_categories.RESOURCE,
    product_tags.RESOURCE,
    product_attributes.RESOURCE,
    product_variations.RESOURCE,
    shipping_classes.RESOURCE,
    order_notes.RESOURCE,
    payment_gateways.RESOURCE,
    shipping_zones.RESOURCE,
    shipping_methods.RESOURCE,
    taxes.RESOURCE,
    tax_classes.RESOURCE,
    system_status.RESOURCE,
)

TABLES = {resource.name: resource.invalid_id for resource in RESOURCES}
REST_ROUTES: tuple[Route, ...] = tuple(route for res in RESOURCES for route in res.rest)
CONTROL_ROUTES: tuple[ControlRoute, ...] = tuple(
    route for res in RESOURCES for route in res.control
)
