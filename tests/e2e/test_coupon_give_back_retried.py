"""A coupon given back by an order cancelled then deleted outright: the check is made again until
the store answers, and an order only a customer's resync found deleted is followed too (a
review, 4 Dec); a use the store still counts is checked once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.models import TrackedOrder
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sandbox.store import SandboxStore
from sync import redemption_lifecycle
from sync.errors import StoreUnavailable
from sync.paging import ListingStalled
from sync.service import run_sync
from tests.e2e.test_redemption import alice, redemption, store  # noqa: F401 # fixtures
from tests.e2e.test_redemption_lifecycle import (  # noqa: F401 # fixtures
    Sync,
    coffee,
    expires_unused_and_returns_its_points,
    issue,
    outcome_coupon_id,
    shop_config,
    used_then_cancelled,
)


def test_a_gone_orders_coupon_is_asked_again_after_the_store_failed_to_answer_once(
    shop_config: Config,  # noqa: F811
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,  # noqa: F811
    sync: Sync,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The order is cancelled (the store gives the use back) and deleted outright; the full
    sync that finds it gone cannot read the coupon (the store is down for that one request). A
    deleted order is never read again, so with the candidates taken from the orders one run
    saw, no later sync asked again: the redemption stayed `used` for good, and when the coupon
    expired unused its 1000 points never came back."""
    outcome, order_id, coupon_id = used_then_cancelled(
        shop_config, engine, store, alice, coffee, sync
    )
    store.delete_order(order_id, force=True)

    real = redemption_lifecycle._read_coupons
    calls = {"n": 0}

    def flaky(client: Any, coupon_ids: list[int]) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:  # the store fails this one request (retries ran out)
            raise StoreUnavailable("503 Service Unavailable")
        return real(client, coupon_ids)

    monkeypatch.setattr(redemption_lifecycle, "_read_coupons", flaky)
    sync(shop_config, full=True)  # finds the order gone; the coupon could not be read
    assert calls["n"] >= 1
    sync(shop_config, full=True)  # the store answers again
    sync(shop_config, full=True)

    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.used_order_id) == ("issued", None)
    expires_unused_and_returns_its_points(shop_config, engine, store, outcome, coupon_id, sync)


def test_a_gone_orders_coupon_is_issued_again_after_a_customer_resync_found_it_gone_first(
    shop_config: Config,  # noqa: F811
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,  # noqa: F811
    sync: Sync,
) -> None:
    """The same order, cancelled then deleted outright, found gone first by `loyalty resync
    --customer` (`OrdersSource.resync_customer` marks it deleted, and a resync tracks no
    coupons): every later full sync skips deleted orders, so none found it gone again and the
    coupon, given back by the store, stayed `used` for good, until the candidates were read
    from the ledger."""
    outcome, order_id, coupon_id = used_then_cancelled(
        shop_config, engine, store, alice, coffee, sync
    )
    store.delete_order(order_id, force=True)
    run_sync(sync_settings(shop_config), engine=engine, customer=alice)
    with session_scope(engine) as session:  # the resync found it gone
        deleted = select(TrackedOrder.deleted).where(TrackedOrder.order_id == order_id)
        assert session.execute(deleted).scalar_one() is True
    sync(shop_config, full=True)

    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.used_order_id) == ("issued", None)
    expires_unused_and_returns_its_points(shop_config, engine, store, outcome, coupon_id, sync)


def test_a_coupon_still_used_after_its_order_was_deleted_is_checked_once(
    shop_config: Config,  # noqa: F811
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,  # noqa: F811
    sync: Sync,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Deleting a paid order keeps its coupon's use in WooCommerce: the sync that finds the order
    gone reads the coupon, and no run after asks for it again (`Redemption.drop_checked`)."""
    outcome = issue(shop_config, engine, alice)
    order = store.place_order(
        customer_id=alice, items=[(coffee, 2)], coupon_code=outcome.code, status="completed"
    )
    sync(shop_config)
    store.delete_order(order["id"], force=True)
    coupon_id = outcome_coupon_id(engine, outcome)
    real = redemption_lifecycle._read_coupons
    asked: list[int] = []

    def counted(client: Any, coupon_ids: list[int]) -> Any:
        asked.extend(coupon_ids)
        return real(client, coupon_ids)

    monkeypatch.setattr(redemption_lifecycle, "_read_coupons", counted)
    sync(shop_config, full=True)  # finds the order gone: the coupon is read, still used
    assert asked.count(coupon_id) == 1
    sync(shop_config, full=True)
    sync(shop_config)

    assert asked.count(coupon_id) == 1
    assert redemption(engine, outcome.redemption_id).status == "used"


def test_what_the_coupon_step_did_before_a_read_stalled_is_in_the_summary(
    shop_config: Config,  # noqa: F811
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,  # noqa: F811
    sync: Sync,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From a review (4 Dec): the coupon step runs guarded, so a stalled read stops it alone; the
    give-back it had committed before the stall was missing from the run's summary."""
    outcome, _, _ = used_then_cancelled(shop_config, engine, store, alice, coffee, sync)
    real = redemption_lifecycle._read_coupons
    calls = {"n": 0}

    def stalls_second(client: Any, coupon_ids: list[int]) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the pass over issued coupons, after the give-back committed
            raise ListingStalled("coupons listing stopped: hostile", detail="hostile")
        return real(client, coupon_ids)

    monkeypatch.setattr(redemption_lifecycle, "_read_coupons", stalls_second)
    summary = sync(shop_config)

    assert redemption(engine, outcome.redemption_id).status == "issued"
    assert summary.redemptions["given_back"] == 1
    assert "coupons" in summary.sources_stopped
