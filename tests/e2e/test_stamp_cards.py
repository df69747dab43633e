"""Acceptance 6, stamp cards end to end: the sync counts the coffees of the orders it reads,
issues the free coffee of a full card once, takes a refunded coffee's stamp back, and writes the
`loyalty_stamps` meta; a second sync changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.models import PointEntry, Redemption
from ledger.models import StampCard as CardRow
from ledger.session import session_scope
from ledger.stamps import verify_stamps
from loyalty.config import Config, RewardsConfig
from rules.stamps import StampCard
from sandbox.store import SandboxStore
from sync.summary import SyncSummary

EMAIL = "alice@example.com"
Sync = Callable[..., SyncSummary]


@pytest.fixture
def store() -> SandboxStore:
    shop = SandboxStore()
    drinks = shop.add_category("Drinks")["id"]
    shop.add_product(name="Coffee", price=Decimal("3.00"), category_ids=[drinks])
    shop.add_product(name="Muffin", price=Decimal("2.50"), category_ids=[drinks])
    shop.register_customer(email=EMAIL, first_name="Alice")
    return shop


def product(shop: SandboxStore, name: str) -> int:
    return next(p["id"] for p in shop.all("products") if p["name"] == name)


@pytest.fixture
def alice(store: SandboxStore) -> int:
    found = store.customer_id_by_email(EMAIL)
    assert found is not None
    return found


@pytest.fixture
def coffee(store: SandboxStore) -> int:
    return product(store, "Coffee")


@pytest.fixture
def cards(config: Config, coffee: int) -> Config:
    card = StampCard(name="coffee", product_ids=frozenset({coffee}))
    return replace(config, rewards=RewardsConfig(stamp_cards=(card,)))


def buy(shop: SandboxStore, wc_id: int, *items: tuple[int, int], status: str = "completed") -> Any:
    return shop.place_order(customer_id=wc_id, items=list(items), status=status)


def stamps_meta(shop: SandboxStore, wc_id: int) -> Any:
    rows = [
        m["value"]
        for m in shop.get("customers", wc_id)["meta_data"]
        if m["key"] == "loyalty_stamps"
    ]
    return json.loads(rows[0]) if rows else None


def card_meta(stamps: int, issued: int = 0, owed: int = 0) -> dict[str, Any]:
    return {"coffee": {"stamps": stamps, "for_reward": 10, "rewards_issued": issued, "owed": owed}}


def reward_coupons(shop: SandboxStore) -> list[dict[str, Any]]:
    return [c for c in shop.all("coupons") if c["description"].startswith("Stamp card reward")]


def twice(sync: Sync, config: Config) -> SyncSummary:
    """Sync, then sync again: the second run must change nothing."""
    first = sync(config)
    second = sync(config)
    assert second.entries_appended == 0
    assert second.customers_written == 0
    assert second.redemptions.get("stamp_rewards_issued", 0) == 0
    return first


def consistent(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert verify_stamps(session) == []


def test_nine_coffees_then_one_more_issue_exactly_one_free_coffee(
    cards: Config, engine: Engine, store: SandboxStore, alice: int, coffee: int, sync: Sync
) -> None:
    muffin = product(store, "Muffin")
    buy(store, alice, (coffee, 4), (muffin, 2))
    buy(store, alice, (coffee, 5))
    buy(store, alice, (coffee, 3), status="processing")  # not completed: no stamp yet

    twice(sync, cards)

    assert reward_coupons(store) == []
    assert stamps_meta(store, alice) == card_meta(9)

    buy(store, alice, (coffee, 1))
    first = twice(sync, cards)

    assert first.redemptions["stamp_rewards_issued"] == 1
    [coupon] = reward_coupons(store)
    assert (coupon["discount_type"], coupon["amount"]) == ("percent", "100.00")
    assert (coupon["product_ids"], coupon["limit_usage_to_x_items"]) == ([coffee], 1)
    assert (coupon["email_restrictions"], coupon["usage_limit"]) == ([EMAIL], 1)
    assert stamps_meta(store, alice) == card_meta(0, issued=1)
    listed = json.loads(
        next(
            m["value"]
            for m in store.get("customers", alice)["meta_data"]
            if m["key"] == "loyalty_coupons"
        )
    )
    assert [(c["code"], c["stamp_card"], c["reward"]) for c in listed] == [
        (coupon["code"], "coffee", "free_item")
    ]
    with session_scope(engine) as session:
        redemption = session.execute(select(Redemption)).scalar_one()
        assert (redemption.request_key, redemption.points) == (f"stamps:coffee:{alice}:1", 0)
        kinds = set(session.execute(select(PointEntry.kind)).scalars())
        assert "redemption" not in kinds  # stamps are not points
    consistent(engine)


def test_a_refunded_coffee_takes_its_stamp_back(
    cards: Config, engine: Engine, store: SandboxStore, alice: int, coffee: int, sync: Sync
) -> None:
    order = buy(store, alice, (coffee, 9))
    twice(sync, cards)
    assert stamps_meta(store, alice) == card_meta(9)

    store.refund_order(order["id"], lines=[(order["line_items"][0]["id"], 1)])
    twice(sync, cards)
    assert stamps_meta(store, alice) == card_meta(8)

    buy(store, alice, (coffee, 1))
    twice(sync, cards)
    assert reward_coupons(store) == []  # 9 again: the refunded coffee counted no more
    assert stamps_meta(store, alice) == card_meta(9)
    consistent(engine)


def test_a_refund_after_the_reward_owes_the_stamp_and_never_issues_twice(
    cards: Config, engine: Engine, store: SandboxStore, alice: int, coffee: int, sync: Sync
) -> None:
    order = buy(store, alice, (coffee, 10))
    twice(sync, cards)
    assert len(reward_coupons(store)) == 1

    store.refund_order(order["id"], lines=[(order["line_items"][0]["id"], 1)])
    twice(sync, cards)
    assert stamps_meta(store, alice) == card_meta(0, issued=1, owed=1)

    buy(store, alice, (coffee, 1))  # pays the owed stamp back
    twice(sync, cards)
    assert stamps_meta(store, alice) == card_meta(0, issued=1)
    assert len(reward_coupons(store)) == 1
    consistent(engine)


def test_cancelled_trashed_and_deleted_orders_give_their_stamps_back(
    cards: Config, engine: Engine, store: SandboxStore, alice: int, coffee: int, sync: Sync
) -> None:
    orders = [buy(store, alice, (coffee, n))["id"] for n in (1, 2, 3)]
    twice(sync, cards)
    assert stamps_meta(store, alice) == card_meta(6)

    store.set_order_status(orders[0], "cancelled")
    store.delete_order(orders[1], force=False)  # to the trash
    store.delete_order(orders[2], force=True)  # gone
    twice(sync, replace(cards, sync=replace(cards.sync, reconcile_every_hours=0)))

    assert stamps_meta(store, alice) == card_meta(0)
    consistent(engine)


def test_a_guests_full_card_is_held_for_its_account_and_issues_no_reward(
    cards: Config, engine: Engine, store: SandboxStore, coffee: int, sync: Sync
) -> None:
    """A guest could never be told of a reward: its stamps are held, like its points, until it
    registers (tests/e2e/test_stamp_moves.py)."""
    store.place_order(email="guest@example.com", items=[(coffee, 12)], status="completed")

    twice(sync, cards)

    assert reward_coupons(store) == []
    with session_scope(engine) as session:
        assert session.execute(select(Redemption)).first() is None
        assert session.execute(select(CardRow.stamps)).scalar_one() == 12
    consistent(engine)


def test_a_dry_run_counts_no_stamp_issues_nothing_and_writes_no_meta(
    cards: Config, engine: Engine, store: SandboxStore, alice: int, coffee: int, sync: Sync
) -> None:
    buy(store, alice, (coffee, 10))

    summary = sync(cards, dry_run=True)

    assert summary.pending_writes == 1  # the stamps meta it would write
    assert reward_coupons(store) == []
    assert stamps_meta(store, alice) is None
    with session_scope(engine) as session:
        assert session.execute(select(CardRow)).first() is None
        assert session.execute(select(Redemption)).first() is None
