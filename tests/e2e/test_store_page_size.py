"""`[store] per_page` is the size of every request the sync makes, not only of the order listings.

Found by a review (3 Dec): refunds, customers, reads by id and the write-back asked for or sent a
hundred whatever the setting, so a store too slow to answer a hundred orders in time (the reason
to lower it) still timed out on them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine

from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.conftest import always_check_known_orders
from tests.e2e.test_order_sync import assert_exact

PER_PAGE = 20


def test_every_listing_read_by_ids_and_write_back_batch_holds_per_page_items(
    sync: Callable[..., SyncSummary],
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    small = replace(config, store=replace(config.store, per_page=PER_PAGE))
    asked: list[tuple[str, str, dict[str, Any]]] = []
    sandbox.before_request = lambda method, path, query: asked.append((method, path, query))

    first = sync(small)
    sync(small, **always_check_known_orders())  # the known orders are read again by id

    sandbox.before_request = None
    listed = {path.rsplit("/", 1)[-1] for method, path, q in asked if "per_page" in q}
    assert {"orders", "refunds", "customers"} <= listed
    assert all(int(q["per_page"]) == PER_PAGE for _, _, q in asked if "per_page" in q)
    includes = [len(str(q["include"]).split(",")) for _, _, q in asked if "include" in q]
    assert max(includes, default=0) == PER_PAGE
    batches = sum(1 for method, path, _ in asked if method == "POST" and path.endswith("/batch"))
    assert first.customers_written > PER_PAGE
    assert batches == -(-first.customers_written // PER_PAGE)
    assert_exact(store, small, engine_for())
