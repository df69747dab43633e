"""A recalculated order's difference follows the order: what the order carries under the rule
set it was recalculated to, less what it carries under its own, whatever happens to it later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sandbox.store import SandboxStore
from sync.recalculate import run_recalculation
from sync.summary import SyncSummary
from tests.e2e.test_expiry_reconcile import ALICE, completed_order, dump, gift_shop, ledger_total
from tests.e2e.test_recalculate_stale import rule_sets

Sync = Callable[..., SyncSummary]


@pytest.fixture
def store() -> SandboxStore:
    return gift_shop()


@dataclass(frozen=True)
class Recalculated:
    """Alice's order of 100 cards, 100 points under v1, recalculated to v2: 200 in all."""

    order_id: int
    wc_id: int
    engine: Engine
    rules: Config  # v1 and v2 (v2 in force from today)


@pytest.fixture
def recalculated(
    config: Config, store: SandboxStore, sync: Sync, engine_for: Callable[[], Engine]
) -> Recalculated:
    old_cfg, new_cfg = rule_sets(config)
    order_id = completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    engine = engine_for()
    sync(old_cfg)
    wc_id = store.customer_id_by_email(ALICE)
    assert wc_id is not None
    run_recalculation(sync_settings(new_cfg), point_value=Decimal("0.01"), engine=engine_for())
    assert ledger_total(engine, config, wc_id) == (200, 200)
    return Recalculated(order_id, wc_id, engine, new_cfg)


def test_an_order_cancelled_after_its_recalculation_carries_nothing_under_either_rule_set(
    config: Config, store: SandboxStore, sync: Sync, recalculated: Recalculated
) -> None:
    """Cancelled in the store after the recalculation, the order's own 100 went, and the +100
    beside it stayed: 100 points for a cancelled order."""
    store.set_order_status(recalculated.order_id, "cancelled")
    sync(recalculated.rules)

    assert ledger_total(recalculated.engine, config, recalculated.wc_id) == (0, 0), dump(
        recalculated.engine
    )
    assert sync(recalculated.rules).entries_appended == 0


def test_a_refund_after_the_recalculation_scales_the_difference_with_the_order(
    config: Config, store: SandboxStore, sync: Sync, recalculated: Recalculated
) -> None:
    """Half the cards refunded: 50 under v1 and 100 under v2, so 100 in all, not 50 + 100."""
    line = store.get("orders", recalculated.order_id)["line_items"][0]
    store.refund_order(recalculated.order_id, lines=[(line["id"], 50)])
    sync(recalculated.rules)

    assert ledger_total(recalculated.engine, config, recalculated.wc_id) == (100, 100), dump(
        recalculated.engine
    )
    assert sync(recalculated.rules, full=True).entries_appended == 0


def test_an_order_deleted_after_its_recalculation_takes_its_difference_with_it(
    config: Config, store: SandboxStore, sync: Sync, recalculated: Recalculated
) -> None:
    store.delete_order(recalculated.order_id, force=True)
    sync(recalculated.rules, full=True)

    assert ledger_total(recalculated.engine, config, recalculated.wc_id) == (0, 0), dump(
        recalculated.engine
    )
