"""Pending points against the sandbox store: a refund inside the window never lowers the available
balance, after the window the points become available exactly once, the meta keys are exact, and
redemptions see only available points."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.balances import verify_balances
from ledger.customers import get_or_create_store
from ledger.models import PointEntry
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import make_client
from rules.redemption import RedemptionRules, RedemptionTier
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.redemptions import Redeemer, RedemptionRefused, RedemptionSettings, Request
from sync.summary import SyncSummary
from tests.e2e.conftest import gift_shop, meta

Sync = Callable[..., SyncSummary]
EMAIL = "alice@example.com"
DAYS = 14


@pytest.fixture
def store() -> SandboxStore:
    return gift_shop(EMAIL)


def figures(store: SandboxStore, customer: int) -> tuple[Any, Any]:
    return meta(store, customer, "loyalty_points"), meta(store, customer, "loyalty_points_pending")


def entries(engine: Engine) -> list[tuple[str, str, int]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(PointEntry.kind, PointEntry.idempotency_key, PointEntry.points).order_by(
                PointEntry.id
            )
        )
        return [(kind, key.split(":", 1)[0] + ":" + key.split("#")[1], p) for kind, key, p in rows]


def test_pending_points_wait_out_the_window_then_become_available_once(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    tiers = RedemptionRules(tiers=(RedemptionTier("1-off", 10, Decimal("1.00")),))
    config = replace(config, points=replace(config.points, pending_days=DAYS), redemption=tiers)
    engine = engine_for()
    alice = store.customer_id_by_email(EMAIL)
    assert alice is not None
    product = int(store.all("products")[0]["id"])
    now = datetime.now(UTC).replace(microsecond=0)
    # completed 14 days ago less 5 minutes: the window ends 5 minutes from now
    with store.clock_at(now - timedelta(days=DAYS) + timedelta(minutes=5)):
        order = store.place_order(customer_id=alice, items=[(product, 50)])
        store.set_order_status(order["id"], "completed")

    sync(config)
    assert figures(store, alice) == ("0", "50")
    with pytest.raises(RedemptionRefused, match="the balance is 0"):  # pending is not spendable
        redeemer(config, engine).redeem(Request(alice, EMAIL, tier="1-off"))

    store.refund_order(order["id"], amount=Decimal("20.00"), reason="one card back")
    inside = sync(config)
    assert figures(store, alice) == ("0", "30")  # the refund took pending points only
    assert (inside.entries_appended, sync(config).entries_appended) == (1, 0)

    sandbox.set_clock_skew(10 * 60)  # the store's clock is now past the end of the window
    matured = sync(config)
    replay = sync(config)

    assert figures(store, alice) == ("30", "0")
    assert (matured.entries_appended, replay.entries_appended) == (2, 0)
    assert entries(engine) == [
        ("pending", "pending:1", 50),
        ("pending", "pending:2", -20),
        ("purchase", "order:1", 30),  # matured into available points, once...
        ("pending", "pending:3", -30),  # ... taken from the pending ones (same batch)
    ]
    with session_scope(engine) as session:
        assert verify_balances(session) == []
    assert redeemer(config, engine).redeem(Request(alice, EMAIL, tier="1-off")).balance == 20


def redeemer(config: Config, engine: Engine) -> Redeemer:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
    return Redeemer(
        make_client(config.require_store()),
        lambda: session_scope(engine),
        store_id,
        RedemptionSettings(config.redemption),
        now=lambda: datetime.now(UTC).replace(microsecond=0),
    )


def test_an_order_untouched_since_it_earned_matures_on_the_first_sync_after_its_window(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    config = replace(config, points=replace(config.points, pending_days=DAYS))
    engine = engine_for()
    alice = store.customer_id_by_email(EMAIL)
    assert alice is not None
    product = int(store.all("products")[0]["id"])
    earned = datetime.now(UTC).replace(microsecond=0) - timedelta(days=DAYS) + timedelta(minutes=5)
    with store.clock_at(earned):
        order = store.place_order(customer_id=alice, items=[(product, 25)])
        store.set_order_status(order["id"], "completed")
    sync(config)
    assert figures(store, alice) == ("0", "25")

    sandbox.set_clock_skew(10 * 60)  # no listing shows the order again: the ledger knows it waits
    matured = sync(config)

    assert figures(store, alice) == ("25", "0")
    assert matured.sources["orders"].entries == 2
    assert sync(config).entries_appended == 0
    with session_scope(engine) as session:
        when = session.execute(
            select(PointEntry.occurred_at).where(PointEntry.kind == "purchase")
        ).scalar_one()
    assert when.replace(tzinfo=UTC) == earned + timedelta(days=DAYS)  # dated when it matured
