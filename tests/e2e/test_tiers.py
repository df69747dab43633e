"""Tiers against the sandbox store: the order that crosses a tier earns at the old tier, the next
order at the new tier's multiplier; the `loyalty_tier` meta is exact; the move is recorded as an
event; a full resync changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from ledger.balances import verify_balances
from ledger.models import PointEntry, TierEvent
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from rules.tiers import Tier, TierRules
from sandbox.store import SandboxStore
from sync.recalculate import run_recalculation
from sync.summary import SyncSummary
from tests.e2e.conftest import gift_shop, meta

Sync = Callable[..., SyncSummary]
EMAIL = "alice@example.com"
TIERS = TierRules((Tier("silver", 100, Decimal(2)), Tier("gold", 1000, Decimal(3))))


@pytest.fixture
def store() -> SandboxStore:
    return gift_shop(EMAIL)


def buy(store: SandboxStore, customer: int, cards: int, when: datetime) -> int:
    product = int(store.all("products")[0]["id"])
    with store.clock_at(when):
        order = store.place_order(customer_id=customer, items=[(product, cards)])
        store.set_order_status(order["id"], "completed")
    return int(order["id"])


def purchases(engine: Engine) -> list[tuple[str, int]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(PointEntry.source_ref, PointEntry.points)
            .where(PointEntry.kind == "purchase")
            .order_by(PointEntry.id)
        )
        return [(ref, points) for ref, points in rows]


def test_crossing_a_tier_earns_the_multiplier_from_the_next_order_on(
    store: SandboxStore, config: Config, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    config = replace(config, tiers=TIERS)
    engine = engine_for()
    alice = store.customer_id_by_email(EMAIL)
    assert alice is not None
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)

    first = buy(store, alice, 80, start)
    sync(config)
    assert (meta(store, alice, "loyalty_points"), meta(store, alice, "loyalty_tier")) == (
        "80",
        None,
    )

    crossing = buy(store, alice, 30, start + timedelta(minutes=1))  # earns at no tier: 30
    sync(config)
    assert (meta(store, alice, "loyalty_points"), meta(store, alice, "loyalty_tier")) == (
        "110",
        "silver",
    )

    next_order = buy(store, alice, 10, start + timedelta(minutes=2))  # at silver: 10 times 2
    sync(config)
    resync = sync(config, full=True)

    assert purchases(engine) == [
        (f"order:{first}", 80),
        (f"order:{crossing}", 30),
        (f"order:{next_order}", 20),
    ]
    assert (meta(store, alice, "loyalty_points"), meta(store, alice, "loyalty_tier")) == (
        "130",
        "silver",
    )
    assert (resync.entries_appended, resync.customers_written) == (0, 0)
    with session_scope(engine) as session:
        moves = session.execute(
            select(TierEvent.before, TierEvent.after, TierEvent.at).order_by(TierEvent.id)
        ).all()
        assert verify_balances(session) == []
    assert [(before, after) for before, after, _ in moves] == [(None, "silver")]
    assert moves[0][2].replace(tzinfo=UTC) == start + timedelta(minutes=1)  # when it crossed


def test_a_tier_multiplier_changed_is_recalculated_at_the_tier_each_order_earned_at(
    store: SandboxStore, config: Config, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    config = replace(config, tiers=TIERS)
    alice = store.customer_id_by_email(EMAIL)
    assert alice is not None
    # Days ago: later syncs list neither order again (they would decide it at the new multiplier).
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    buy(store, alice, 120, start)  # earns at no tier, and lifts alice to silver
    sync(config)
    at_silver = buy(store, alice, 10, start + timedelta(minutes=1))  # 10 times 2
    sync(config, full=True)
    faster = replace(config, tiers=TierRules((Tier("silver", 100, Decimal(3)), TIERS.tiers[1])))
    assert sync(faster).entries_appended == 0  # the order is not decided again by a sync

    run = run_recalculation(sync_settings(faster), point_value=Decimal(1), engine=engine_for())

    assert (run.decided, run.total) == ({"orders": 2}, 10)  # 10 times 3, instead of 10 times 2
    with session_scope(engine_for()) as session:
        recalculated = session.execute(
            select(PointEntry.source_ref, PointEntry.points).where(
                PointEntry.source_ref.like("recalc:%")
            )
        ).all()
    assert [tuple(row) for row in recalculated] == [(f"recalc:order:{at_silver}", 10)]
