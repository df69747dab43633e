"""A recalculated order's difference follows the order: what the order carries under the rule
set it was recalculated to, less what it carries under its own, whatever happens to it later."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from ledger.customers import get_or_create_store
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sandbox.store import SandboxStore
from sync.expiry import run_expiry
from sync.recalculate import run_recalculation
from sync.summary import SyncSummary
from tests.e2e.test_expiry_reconcile import (
    ALICE,
    completed_order,
    dump,
    expiring,
    gift_shop,
    ledger_total,
    net_of,
)
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


def test_a_refund_after_the_recalculated_difference_expired_still_scales_it(
    config: Config, store: SandboxStore, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    """Its expiry entry carries its reference and no rule version: read as the latest decision,
    it left the difference as if its rule set were gone, and a refund scaled the order alone."""
    """af7e1c5: 100 under v1, recalculated to v2: +100 beside it. 31 days later both lots expire
    (per-lot expiry: the expiry entries carry `order:N` and `recalc:order:N`, rule_version NULL).
    Half the cards are then refunded: the order's own reference goes to 50, and its difference
    under v2 must go to 50 as well (100 under v2 - 50 under v1), as it does when nothing expired
    (test_recalculate_follows). `_recalculated` reads the rule set from the reference's *latest*
    entry, which is now the expiry entry (no rule_version): taken for "a rule set no longer in
    the config", the difference stays 100 for ever."""
    old_cfg, new_cfg = rule_sets(config)
    old_cfg, new_cfg = expiring(old_cfg), expiring(new_cfg)
    order_id = completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    engine = engine_for()
    sync(old_cfg)
    run_recalculation(sync_settings(new_cfg), point_value=Decimal("0.01"), engine=engine_for())
    assert net_of(engine, f"recalc:order:{order_id}", "adjustment") == 100

    later = datetime.now(UTC) + timedelta(days=31)  # the worker's daily expiry, a month on
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        run_expiry(session, store_id, new_cfg.expiry, as_of=later.date(), now=later)
    assert net_of(engine, f"recalc:order:{order_id}", "expiry") == -100  # the lot expired

    line = store.get("orders", order_id)["line_items"][0]
    store.refund_order(order_id, lines=[(line["id"], 50)])
    sync(new_cfg)

    assert net_of(engine, f"order:{order_id}", "purchase") == 50, dump(engine)
    assert net_of(engine, f"recalc:order:{order_id}", "adjustment") == 50, dump(engine)
