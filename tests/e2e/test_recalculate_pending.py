"""A recalculated order's difference waits out the order's pending window with it
(`[points] pending_days`): it was spendable at once while the order's own points waited, so a
customer could spend points of an order still inside its return window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from ledger.balances import verify_balances
from ledger.models import PointEntry
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from rules.types import PurchaseRuleBook, PurchaseRules
from sandbox.server import SandboxServer
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
DAYS = 14
V1 = PurchaseRules(version="v1")  # 1 point a unit


@pytest.fixture
def store() -> SandboxStore:
    return gift_shop()


def under(config: Config, *rules: PurchaseRules, pending: bool = True) -> Config:
    points = replace(config.points, pending_days=DAYS if pending else 0)
    return replace(
        config, points=points, rules=replace(config.rules, purchase=PurchaseRuleBook(rules))
    )


def v2(points_per_unit: str) -> PurchaseRules:
    """A second rule set in force from today: orders created before keep v1."""
    today = datetime.now(UTC).date()
    return replace(V1, version="v2", points_per_unit=Decimal(points_per_unit), effective_from=today)


def window_ends_in_five_minutes() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=DAYS, minutes=-5)


def pending_held(engine: Engine) -> int:
    return net_of(engine, "pending:", "pending")


@dataclass
class Shop:
    """Alice's order of 100 cards, completed 14 days less 5 minutes ago: its window ends in 5
    minutes (`matured` moves the store's clock past it)."""

    config: Config
    store: SandboxStore
    sandbox: SandboxServer
    sync: Sync
    engine: Engine
    order_id: int
    alice: int

    def recalculated(self, points_per_unit: str, *, pending_first: bool = True) -> Config:
        """Synced under v1 (with pending points on, or off), then recalculated under v2 (pending
        points on); the config of v2."""
        self.sync(under(self.config, V1, pending=pending_first))
        new = under(self.config, V1, v2(points_per_unit))
        run_recalculation(sync_settings(new), point_value=Decimal("0.01"), engine=self.engine)
        return new

    def held(self) -> tuple[tuple[int, int], int]:
        """(cached balance, sum of spendable entries) and the pending points."""
        return ledger_total(self.engine, self.config, self.alice), pending_held(self.engine)

    def matured(self, new: Config) -> None:
        """The store's clock past the end of the window, then a sync; a second appends nothing."""
        self.sandbox.set_clock_skew(10 * 60)
        self.sync(new)
        assert self.sync(new).entries_appended == 0
        with session_scope(self.engine) as session:
            assert verify_balances(session) == []


@pytest.fixture
def shop(
    config: Config,
    store: SandboxStore,
    sandbox: SandboxServer,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> Shop:
    order_id = completed_order(store, window_ends_in_five_minutes())
    alice = store.customer_id_by_email(ALICE)
    assert alice is not None
    return Shop(config, store, sandbox, sync, engine_for(), order_id, alice)


def test_a_recalculated_difference_waits_with_the_order_then_becomes_available_once(
    shop: Shop,
) -> None:
    new = shop.recalculated("2")
    # +100 under v2, pending like the order's own 100: nothing spendable yet
    assert shop.held() == ((0, 0), 200), dump(shop.engine)
    assert net_of(shop.engine, "pending:recalc:order:") == 100

    shop.matured(new)
    assert shop.held() == ((200, 200), 0), dump(shop.engine)
    assert net_of(shop.engine, "recalc:order:", "adjustment") == 100


def test_a_difference_under_rules_that_give_less_lowers_the_pending_points_not_the_balance(
    shop: Shop,
) -> None:
    """v2 gives half as much: -50 beside the order's pending 100. Taken from the spendable
    balance at once, it left Alice at -50 (a debt) for an order whose points she could not
    spend yet."""
    new = shop.recalculated("0.5")
    assert shop.held() == ((0, 0), 50), dump(shop.engine)

    shop.matured(new)
    assert shop.held() == ((50, 50), 0), dump(shop.engine)


def test_an_order_cancelled_inside_its_window_after_a_recalculation_never_touched_the_balance(
    shop: Shop,
) -> None:
    new = shop.recalculated("2")
    shop.store.set_order_status(shop.order_id, "cancelled")
    shop.sync(new)

    assert shop.held() == ((0, 0), 0), dump(shop.engine)
    with session_scope(shop.engine) as session:
        spendable = session.execute(
            select(PointEntry.idempotency_key).where(PointEntry.kind != "pending")
        ).scalars()
        assert list(spendable) == []  # no spendable point came and went
    assert shop.sync(new).entries_appended == 0


def test_a_difference_pending_beside_points_available_before_the_window_was_on_matures(
    shop: Shop,
) -> None:
    """The order earned before pending points were switched on: its 100 are available and it
    holds no pending points of its own. Recalculated inside its window, the +100 waits; the
    ledger must find it when the window ends, though the order itself waits for nothing (no
    listing shows the order again)."""
    new = shop.recalculated("2", pending_first=False)
    assert shop.held() == ((100, 100), 100)

    shop.matured(new)
    assert shop.held() == ((200, 200), 0), dump(shop.engine)


def test_the_rule_set_is_read_from_the_pending_difference_when_nothing_is_available(
    shop: Shop,
) -> None:
    """All of the difference is pending, so `recalc:order:{id}` has no entry naming v2: a refund
    inside the window must still scale the difference under v2 (half the cards: 50 + 50)."""
    new = shop.recalculated("2")
    line = shop.store.get("orders", shop.order_id)["line_items"][0]
    shop.store.refund_order(shop.order_id, lines=[(line["id"], 50)])
    shop.sync(new)
    assert shop.held() == ((0, 0), 100), dump(shop.engine)  # 50 of the order's own, 50 beside

    shop.matured(new)
    assert shop.held() == ((100, 100), 0), dump(shop.engine)


def test_a_pending_difference_whose_rule_set_left_the_config_still_matures(shop: Shop) -> None:
    """Found by a review (4 Dec): an order whose recalculated rule set is no longer in the
    config was skipped ("the difference stays as it is"), so nothing moved its pending part:
    100 points pending for good, the order re-read by every sync."""
    shop.recalculated("2")
    assert shop.held() == ((0, 0), 200)
    only_v1 = under(shop.config, V1)  # v2 taken out of the config after the recalculation

    shop.matured(only_v1)
    assert shop.held() == ((200, 200), 0), dump(shop.engine)


def test_a_difference_under_rules_that_give_less_never_makes_pending_points_negative(
    shop: Shop,
) -> None:
    """Found by a review (4 Dec): the order earned its 100 before pending points were on, so it
    holds no pending points; recalculated under rules giving half, its -50 went to pending
    (-50 pending beside 100 spendable: all 100 could be spent, a debt when the window ended).
    Nothing of the order waits: the reduction is taken at once."""
    new = shop.recalculated("0.5", pending_first=False)
    assert shop.held() == ((50, 50), 0), dump(shop.engine)

    shop.matured(new)
    assert shop.held() == ((50, 50), 0), dump(shop.engine)
