"""Expiry and the sources' reconcile: an expiry entry carries its lot's reference (`order:7`), but
the points it takes are not the source's decision. An expired order, edited, refunded or followed
by another order, keeps what it earned: nothing comes back. And an expiry is reconciled in turn:
a refund dated before it, synced after it ran, undoes it (found by a review, 4 Dec)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ledger.customers import get_or_create_store
from ledger.models import Balance, Customer, PointEntry
from ledger.session import session_scope
from loyalty.config import Config
from rules.expiry import ExpiryRules
from sandbox.store import SandboxStore
from sync.expiry import run_expiry
from sync.summary import SyncSummary
from tests.e2e.conftest import store_midnight

Sync = Callable[..., SyncSummary]
ALICE = "alice@example.com"


def gift_shop() -> SandboxStore:
    shop = SandboxStore()
    shop.register_customer(email=ALICE)
    category = shop.add_category("Gifts")["id"]
    shop.add_product(
        name="Card", price=Decimal("1.00"), category_ids=[category], virtual=True, taxable=False
    )
    return shop


def product_of(shop: SandboxStore) -> int:
    return int(shop.all("products")[0]["id"])


def ledger_total(engine: Engine, config: Config, wc_id: int) -> tuple[int, int]:
    """(cached balance, sum of spendable entries) of one customer, read independently."""
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        cid = session.execute(
            select(Customer.id).where(Customer.store_id == store_id, Customer.wc_id == wc_id)
        ).scalar_one()
        cached = session.execute(
            select(Balance.balance).where(Balance.customer_id == cid)
        ).scalar_one()
        summed = session.execute(
            select(func.coalesce(func.sum(PointEntry.points), 0)).where(
                PointEntry.customer_id == cid, PointEntry.kind != "pending"
            )
        ).scalar_one()
        return int(cached), int(summed)


@pytest.fixture
def store() -> SandboxStore:
    return gift_shop()


def completed_order(shop: SandboxStore, at: datetime, cards: int = 100) -> int:
    customer = shop.customer_id_by_email(ALICE)
    with shop.clock_at(at):
        order = shop.place_order(customer_id=customer, items=[(product_of(shop), cards)])
        shop.set_order_status(order["id"], "completed")
    return int(order["id"])


def net_of(engine: Engine, ref_prefix: str, kind: str | None = None) -> int:
    """Net points of the entries whose reference starts with `ref_prefix` (of `kind`)."""
    with session_scope(engine) as session:
        query = select(func.coalesce(func.sum(PointEntry.points), 0)).where(
            PointEntry.source_ref.startswith(ref_prefix)
        )
        if kind is not None:
            query = query.where(PointEntry.kind == kind)
        return int(session.execute(query).scalar_one())


def dump(engine: Engine) -> list[tuple[Any, ...]]:
    with session_scope(engine) as session:
        return [
            tuple(r)
            for r in session.execute(
                select(
                    PointEntry.customer_id,
                    PointEntry.kind,
                    PointEntry.source_ref,
                    PointEntry.points,
                    PointEntry.idempotency_key,
                    PointEntry.occurred_at,
                    PointEntry.note,
                ).order_by(PointEntry.id)
            )
        ]


def expiring(config: Config, days: int = 30, **rules: object) -> Config:
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=days))
    if rules:
        cfg = replace(cfg, rules=replace(cfg.rules, **rules))
    return cfg


def spendable(engine: Engine, config: Config, store: SandboxStore) -> int:
    cached, summed = ledger_total(engine, config, store.customer_id_by_email(ALICE))
    assert cached == summed
    return cached


def test_an_expired_order_edited_in_the_store_earns_its_points_again(
    config: Config, store: SandboxStore, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    """An order earned 100 points 40 days ago; with 30-day expiry the first sync awards them and
    expires them (balance 0). An admin then edits the old order (a note: only date_modified
    changes). The order still earns 100, which it was given once and which expired: nothing
    should change. The sync re-decides it: target 100, but what `order:{id}` "holds" is
    +100 - 100 (the expiry entry has the same source_ref) = 0, so it appends +100 again.
    Each further edit re-awards them again (they expire the day after they arrive)."""
    cfg = expiring(config)
    order_id = completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    assert spendable(engine, config, store) == 0  # earned 100, expired 100

    store.touch_order(order_id)
    sync(cfg)

    assert net_of(engine, f"order:{order_id}", "purchase") == 100, dump(engine)
    assert spendable(engine, config, store) == 0, dump(engine)


def test_a_partial_refund_after_expiry_gives_points_back(
    config: Config, store: SandboxStore, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    """The order's 100 points expired; then 40.00 of it is refunded. A refund can only take
    points away (README: points expired before a refund revokes them are revoked all the same,
    the balance going below zero). The sync decides the order at 60, sees `order:{id}` holding
    0 (expiry counted) and appends +60: the refund *gives* the customer 60 spendable points."""
    cfg = expiring(config)
    order_id = completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    assert spendable(engine, config, store) == 0

    store.refund_order(order_id, amount=Decimal("40.00"))
    sync(cfg)

    assert net_of(engine, f"order:{order_id}", "purchase") == 60, dump(engine)  # 100 - 40
    assert spendable(engine, config, store) <= 0, dump(engine)


def test_the_first_order_bonus_comes_back_with_every_order_after_it_expired(
    config: Config, store: SandboxStore, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    """First-order bonus 50, expiry 30 days. The first order earns 100 + the bonus 50. 31 days
    later (the store's clock, which the sync's expiry follows) both have expired. The customer
    then places a second order of 10 cards: they should hold exactly 10 (the bonus is given once).
    Deciding the new order reconciles the owner's bonus: target 50, and
    `first_order:customer:{id}` "holds" +50 - 50 (the expiry entry, same reference) = 0, so the
    bonus is awarded again: 60. It happens for every customer whose bonus expired, on their next
    order (and again after each re-award expires)."""
    cfg = expiring(config, first_order_points=50)
    completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))
    engine = engine_for()
    sync(cfg)
    assert spendable(engine, config, store) == 150

    # A month later: the daily expiry (the worker's `run_expiry`) expires both lots. (This
    # machine's clock cannot be moved, so the run is given the day it would run on.)
    later = datetime.now(UTC) + timedelta(days=31)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        run_expiry(session, store_id, cfg.expiry, as_of=later.date(), now=later)
    assert spendable(engine, config, store) == 0  # 100 + 50 earned, all expired

    completed_order(store, datetime.now(UTC).replace(microsecond=0), cards=10)
    sync(cfg)

    assert net_of(engine, "first_order:", "first_order") == 50, dump(engine)
    assert spendable(engine, config, store) == 10, dump(engine)


def test_a_refund_synced_after_the_daily_expiry_undoes_the_expiry_it_came_before(
    config: Config,
    store: SandboxStore,
    at_store_time: Callable[[datetime], None],
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    """Expiry after 30 days. An order earns 100 points 30 days before today 00:00 UTC, so they
    expire today at 00:00 UTC. The whole order is refunded yesterday at 23:00 (store clock),
    an hour *before* the points expire. The worker's daily `expire_points_task` (run_expiry as of
    today) runs at 00:05 before the next hourly sync has seen the refund; then the sync revokes
    the order's 100 points, dated 23:00 yesterday.

    Independently: the points left with the refund before their expiry moment, so nothing
    expires and nothing is owed. The ledger held -100 expired AND -100 revoked: 100 points of
    debt the customer never spent. Now the sync reconciles that customer's expiries of the day
    again, and a correction (`#2`) gives the expired 100 back."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    midnight = store_midnight()
    order_id = completed_order(store, midnight - timedelta(days=30) + timedelta(hours=1))
    engine = engine_for()
    at_store_time(midnight - timedelta(hours=2))  # the 22:00 sync: nothing due yet
    sync(cfg)
    with store.clock_at(midnight - timedelta(hours=1)):  # 23:00: refunded in full
        store.refund_order(order_id)
    with session_scope(engine) as session:  # 00:05: the worker's daily expiry
        store_id = get_or_create_store(session, config.require_store().key).id
        run_expiry(
            session,
            store_id,
            cfg.expiry,
            as_of=midnight.date(),
            now=midnight + timedelta(minutes=5),
        )
    at_store_time(midnight + timedelta(minutes=10))
    sync(cfg)  # the next sync sees the refund

    # The audit trail must say what happened: the refund revoked the 100 points, nothing expired.
    assert (net_of(engine, f"order:{order_id}", "purchase"), net_of(engine, "", "expiry")) == (
        0,
        0,
    ), dump(engine)
    assert net_of(engine, "debt:") == 0, dump(engine)
