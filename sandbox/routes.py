"""The routing table: which resources the sandbox holds and serves, one line each.

For `sandbox.store` (a table per resource), `sandbox.server` (their REST and control routes) and
`sandbox.generator` (their `populate` hooks). Adding a resource is one module in
`sandbox.resources` that declares a `Resource`, and one line here.
"""

from __future__ import annotations

from sandbox.control import ControlRoute
from sandbox.resource import Resource
from sandbox.resources import comments, coupons, customers, orders, products, refunds, reviews
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
)

TABLES = {resource.name: resource.invalid_id for resource in RESOURCES}
REST_ROUTES: tuple[Route, ...] = tuple(route for res in RESOURCES for route in res.rest)
CONTROL_ROUTES: tuple[ControlRoute, ...] = tuple(
    route for res in RESOURCES for route in res.control
)
