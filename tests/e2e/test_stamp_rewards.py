"""Stamp card rewards against the sandbox store: the coupon of a full card, once per card number,
through the redemption machinery; the `loyalty_stamps` meta through the write-back."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.customers import account_customer, get_or_create_store
from ledger.models import PointEntry, Redemption
from ledger.session import session_scope
from ledger.stamps import StampTarget, set_stamps
from loyalty.config import Config
from loyalty.sync_settings import make_client
from rules.stamps import RewardKind, StampCard
from sandbox.store import SandboxStore
from sync.customer_meta import push_balances
from sync.redemptions import Redeemer, RedemptionSettings
from sync.stamps import StampMeta, StampRewards, StampSettings
from tests.e2e.test_redemption import EMAIL, alice, ours, store  # noqa: F401 # fixtures

COFFEE = 501
CARD = StampCard(name="coffee", product_ids=frozenset({COFFEE}))


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def ledger_engine(engine_for: Callable[[], Engine]) -> Engine:
    return engine_for()


def stamps(config: Config, engine: Engine, wc_id: int, count: int, order_id: int = 1) -> int:
    """`count` stamps on the coffee card, carried by one order; returns the ledger customer id."""
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        customer = account_customer(session, store_id, wc_id, EMAIL)
        set_stamps(
            session, store_id, [StampTarget("coffee", order_id, customer.id, count)], now=now()
        )
        return customer.id


def rewards(config: Config, engine: Engine, settings: StampSettings) -> StampRewards:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
    redeemer = Redeemer(
        make_client(config.require_store()),
        lambda: session_scope(engine),
        store_id,
        RedemptionSettings(config.redemption),
        now=now,
    )
    return StampRewards(redeemer, lambda: session_scope(engine), store_id, settings)


def stamp_coupons(shop: SandboxStore) -> list[dict[str, Any]]:
    return [c for c in shop.all("coupons") if c["description"].startswith("Stamp card reward")]


def test_a_full_card_issues_one_free_item_coupon_for_that_customer_and_product(
    config: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    stamps(config, ledger_engine, alice, 10)

    counts = rewards(config, ledger_engine, StampSettings((CARD,))).issue_due()

    assert (counts.issued, counts.pending, counts.refused) == (1, 0, 0)
    [coupon] = stamp_coupons(store)
    assert {k: coupon[k] for k in ("discount_type", "amount", "product_ids")} == {
        "discount_type": "percent",
        "amount": "100.00",
        "product_ids": [COFFEE],
    }
    assert (coupon["limit_usage_to_x_items"], coupon["usage_limit"]) == (1, 1)
    assert (coupon["usage_limit_per_user"], coupon["email_restrictions"]) == (1, [EMAIL])
    with session_scope(ledger_engine) as session:
        redemption = session.execute(select(Redemption)).scalar_one()
        assert (redemption.request_key, redemption.points, redemption.tier) == (
            f"stamps:coffee:{alice}:1",
            0,
            "coffee",
        )
        assert (redemption.status, redemption.coupon_id) == ("issued", coupon["id"])
        assert session.execute(select(PointEntry)).first() is None  # no points move
    assert ours(store, redemption.id) == [coupon]


def test_each_card_number_is_rewarded_once_ever(
    config: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    stamps(config, ledger_engine, alice, 25)
    issuer = rewards(config, ledger_engine, StampSettings((CARD,)))

    assert issuer.issue_due().issued == 2
    assert issuer.issue_due().issued == 0
    stamps(config, ledger_engine, alice, 5)  # a refund after both rewards: nothing is taken back
    assert issuer.issue_due().issued == 0
    stamps(config, ledger_engine, alice, 30)  # the third card is full: one more
    assert issuer.issue_due().issued == 1
    assert len(stamp_coupons(store)) == 3
    with session_scope(ledger_engine) as session:
        keys = session.execute(select(Redemption.request_key).order_by(Redemption.id)).scalars()
        assert list(keys) == [f"stamps:coffee:{alice}:{n}" for n in (1, 2, 3)]


def test_an_amount_card_issues_a_fixed_cart_coupon(
    config: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    card = replace(CARD, reward=RewardKind.AMOUNT, reward_amount=Decimal("5.00"), coupon_days=7)
    stamps(config, ledger_engine, alice, 10)

    rewards(config, ledger_engine, StampSettings((card,))).issue_due()

    [coupon] = stamp_coupons(store)
    assert (coupon["discount_type"], coupon["amount"], coupon["product_ids"]) == (
        "fixed_cart",
        "5.00",
        [],
    )
    expires = datetime.fromisoformat(coupon["date_expires_gmt"]).replace(tzinfo=UTC)
    assert (expires - now()).days in (6, 7)


def test_the_write_back_writes_the_stamps_meta_of_changed_customers_only(
    config: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    stamps(config, ledger_engine, alice, 3)
    with session_scope(ledger_engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
    settings = StampSettings((CARD,), meta_key="loyalty_stamps")
    meta = StampMeta(store_id, settings, now=now)

    def write() -> int:
        return push_balances(
            make_client(config.require_store()),
            lambda: session_scope(ledger_engine),
            store_id,
            balance_key="loyalty_points",
            lifetime_key="loyalty_points_lifetime",
            now=now,
            more_meta=(meta.pending,),
        ).written

    assert write() == 1
    values = {m["key"]: m["value"] for m in store.get("customers", alice)["meta_data"]}
    assert json.loads(values["loyalty_stamps"]) == {
        "coffee": {"stamps": 3, "for_reward": 10, "rewards_issued": 0, "owed": 0}
    }
    assert "loyalty_points" not in values  # the balance had nothing to write
    assert write() == 0
