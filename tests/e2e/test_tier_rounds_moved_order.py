"""Tiers decided in rounds: an order moved away from a customer counts for her next order,
synced together with it (a review, 4 Dec)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from sandbox.store import SandboxStore
from tests.e2e.conftest import gift_shop
from tests.e2e.test_point_life_review import TIERS, Sync
from tests.e2e.test_tiers import buy, purchases

ALICE, BOB = "alice@example.com", "bob@example.com"


@pytest.fixture
def store() -> SandboxStore:
    return gift_shop(ALICE, BOB)


@pytest.mark.parametrize("together", [False, True])
def test_an_order_after_its_owners_order_moved_away_earns_at_her_tier_without_it(
    together: bool,
    store: SandboxStore,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    """Alice's order X (120 cards) lifted her to silver (100). Later the shop manager
    moves X to Bob (its -120 on alice is dated then); a moment after that alice buys 10 cards
    (Y). Before Y she had earned 0: Y earns 10, at no tier. Synced with a sync between
    the move and Y (together=False), that is what the ledger records. Synced together (one
    page), `_rounds` puts X (owner Bob now) and Y (owner alice) in one round: Y's tier is read
    from the ledger before X's move is written, so Y earns at silver (20), kept for good on the
    tracked order."""
    engine = engine_for()
    config = replace(config, tiers=TIERS)
    alice = store.customer_id_by_email(ALICE)
    bob = store.customer_id_by_email(BOB)
    assert alice is not None
    assert bob is not None
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    x = buy(store, alice, 120, start)
    sync(config)
    store.update_order(x, {"customer_id": bob})  # now: after the first sync's cursor
    if not together:
        sync(config)
    time.sleep(1.1)  # Y is created a second after the move
    y = buy(store, alice, 10, datetime.now(UTC).replace(microsecond=0))
    sync(config)
    sync(config, full=True)

    assert (f"order:{y}", 10) in purchases(engine)
