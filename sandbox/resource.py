"""What a resource module declares: its store table, REST routes and control routes.

For the modules in `sandbox.resources` (one per WooCommerce resource) and for `sandbox.routes`,
which lists them: the store creates a table per declared resource, the server serves the declared
routes (building the sorted indexes of their listings at start), and the generator calls
`populate` (if any) to fill the table of a fresh store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sandbox.control import ControlRoute
from sandbox.listing import Collection
from sandbox.rest import Route
from sandbox.state import StoreBase


@dataclass(frozen=True)
class Resource:
    """One WooCommerce resource as the sandbox holds and serves it.

    `name` is its store table (`store.get(name, id)`); `invalid_id` WooCommerce's error code and
    message for an id it does not hold (answered with 404); `listings` the collections its routes
    list (their sorted indexes are built when the server starts).
    """

    name: str
    invalid_id: tuple[str, str]
    rest: Sequence[Route] = ()
    control: Sequence[ControlRoute] = ()
    listings: Sequence[Collection] = ()
    populate: Callable[[StoreBase], None] | None = None
