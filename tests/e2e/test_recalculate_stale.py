"""Recalculating orders against what they carry now: the difference a new rule set makes is
taken from the order as read from the store at the recalculation, under both rule sets, not from
what the last sync decided, which may be stale (found by a review, 4 Dec)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from rules.types import PurchaseRuleBook, PurchaseRules
from sandbox.store import SandboxStore
from sync.recalculate import run_recalculation
from sync.summary import SyncSummary
from tests.e2e.test_expiry_reconcile import (
    ALICE,
    completed_order,
    dump,
    gift_shop,
    ledger_total,
    net_of,
)

Sync = Callable[..., SyncSummary]


OLD = PurchaseRules(version="v1")


def rule_sets(config: Config) -> tuple[Config, Config]:
    """v1 (1 point a unit) alone, then with v2 (2 points a unit) in force from today: orders
    created before today keep v1."""
    new = replace(
        OLD, version="v2", points_per_unit=Decimal(2), effective_from=datetime.now(UTC).date()
    )

    def under(*versions: PurchaseRules) -> Config:
        return replace(config, rules=replace(config.rules, purchase=PurchaseRuleBook(versions)))

    return under(OLD), under(OLD, new)


@pytest.fixture
def store() -> SandboxStore:
    return gift_shop()


def test_recalculation_after_an_unsynced_cancellation_takes_the_order_back_once(
    config: Config, store: SandboxStore, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    """An order earned 100 (v1: 1 point per unit). The shop changes to v2 (2 points per unit, in
    force from today: the order keeps v1). The order is then cancelled in the store, and the
    owner runs the recalculation before the next sync. A cancelled order carries nothing under
    either rule set, so after the recalculation and the next sync the customer must hold 0.

    Recalculation compared the order as read *now* from the store (cancelled: 0 under v2) with
    what the ledger decided on the *last sync* (100 under v1) and appended -100 beside it; the
    next sync then revoked the order's own 100 too: -100 for an order that earned +100."""
    old_cfg, new_cfg = rule_sets(config)
    order_id = completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    engine = engine_for()
    sync(old_cfg)
    wc_id = store.customer_id_by_email(ALICE)
    assert ledger_total(engine, config, wc_id) == (100, 100)

    store.set_order_status(order_id, "cancelled")  # not synced yet
    run_recalculation(sync_settings(new_cfg), point_value=Decimal("0.01"), engine=engine_for())
    sync(new_cfg)

    # Independent expectation: a cancelled order is worth 0 points under any rule set, so the
    # order's own entries and its recalculated difference net to 0 and nothing is owed.
    assert (
        net_of(engine, f"order:{order_id}", "purchase") + net_of(engine, f"recalc:order:{order_id}")
        == 0
    )
    assert net_of(engine, "debt:") == 0, dump(engine)


def test_recalculation_after_an_unsynced_completion_awards_the_order_once(
    config: Config, store: SandboxStore, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    """The reverse: the order was processing at the last sync (it earns nothing until completed),
    is completed in the store, and the owner recalculates under v2 before the next sync. Under
    v2 the completed order is worth 200: the recalculation took 200 - 0 beside it, and the next
    sync added the order's own 100 under v1: 300."""
    old_cfg, new_cfg = rule_sets(config)
    customer = store.customer_id_by_email(ALICE)
    with store.clock_at(datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)):
        order = store.place_order(
            customer_id=customer, items=[(int(store.all("products")[0]["id"]), 100)]
        )
        store.set_order_status(order["id"], "processing")
    engine = engine_for()
    sync(old_cfg)

    store.set_order_status(order["id"], "completed")  # not synced yet
    run_recalculation(sync_settings(new_cfg), point_value=Decimal("0.01"), engine=engine_for())
    sync(new_cfg)

    # Independently: 100 cards at 2 points a card under the rule set in force now.
    assert ledger_total(engine, config, customer) == (200, 200), dump(engine)
