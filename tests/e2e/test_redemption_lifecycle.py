"""After a coupon is issued: used at checkout, expired unused, deleted in the store, refunded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.customers import get_or_create_store
from ledger.models import Balance
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import make_client
from sandbox.store import SandboxError, SandboxStore
from sync.redemption_lifecycle import CouponUses, track_redemptions
from sync.redemptions import Outcome, Redeemer, RedemptionSettings, Request
from tests.e2e.test_redemption import (  # noqa: F401 # fixtures
    EMAIL,
    TIERS,
    alice,
    consistent,
    give,
    redemption,
    redemption_entries,
    store,
)

Sync = Callable[..., Any]


@pytest.fixture
def coffee(store: SandboxStore) -> int:  # noqa: F811
    category = store.add_category("Coffee")["id"]
    return int(
        store.add_product(name="Beans", price=Decimal("25.00"), category_ids=[category])["id"]
    )


@pytest.fixture
def shop_config(config: Config) -> Config:
    return replace(config, redemption=TIERS)


def issue(config: Config, engine: Engine, wc_id: int, *, days_ago: int = 0) -> Outcome:
    """A 10-off coupon for `wc_id`, issued `days_ago` days ago (so it may have expired)."""
    store_id = give(config, engine, wc_id, 1000)
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_ago)
    redeemer = Redeemer(
        make_client(config.require_store()),
        lambda: session_scope(engine),
        store_id,
        RedemptionSettings(config.redemption),
        now=lambda: when,
    )
    return redeemer.redeem(Request(wc_id, EMAIL, tier="10-off"))


def balance(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(Balance.balance)).scalar_one())


def test_a_coupon_used_at_checkout_is_marked_used_with_the_order(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    outcome = issue(shop_config, engine, alice)
    order = store.place_order(customer_id=alice, items=[(coffee, 2)], coupon_code=outcome.code)
    store.set_order_status(order["id"], "completed")

    first = sync(shop_config)
    second = sync(shop_config)

    used = redemption(engine, outcome.redemption_id)
    assert (used.status, used.used_order_id) == ("used", order["id"])
    assert first.redemptions["used"] == 1
    assert second.redemptions["used"] == 0
    assert second.entries_appended == 0
    coupon = store.get("coupons", outcome_coupon_id(engine, outcome))
    assert (coupon["usage_count"], coupon["used_by"]) == (1, [str(alice)])
    with pytest.raises(SandboxError, match="usage limit"):
        store.place_order(customer_id=alice, items=[(coffee, 1)], coupon_code=outcome.code)


def outcome_coupon_id(engine: Engine, outcome: Outcome) -> int:
    coupon_id = redemption(engine, outcome.redemption_id).coupon_id
    assert coupon_id is not None
    return coupon_id


def test_only_the_customers_email_may_use_the_coupon(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
) -> None:
    outcome = issue(shop_config, engine, alice)

    with pytest.raises(SandboxError, match="is not yours"):
        store.place_order(
            email="mallory@example.com", items=[(coffee, 1)], coupon_code=outcome.code
        )


@pytest.mark.parametrize("return_points", [True, False])
def test_an_expired_unused_coupon_returns_its_points_once(
    return_points: bool,
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    cfg = replace(shop_config, redemption=replace(TIERS, return_points_on_expiry=return_points))
    outcome = issue(cfg, engine, alice, days_ago=91)
    with pytest.raises(SandboxError, match="expired"):
        store.place_order(customer_id=alice, items=[(coffee, 1)], coupon_code=outcome.code)

    first = sync(cfg)
    second = sync(cfg)

    rid = outcome.redemption_id
    assert redemption(engine, rid).status == ("expired" if return_points else "expired-kept")
    assert [p for p, _ in redemption_entries(engine, rid)] == (
        [-1000, 1000] if return_points else [-1000]
    )
    assert balance(engine) == (1000 if return_points else 0)
    assert (first.redemptions["expired"], second.redemptions["expired"]) == (1, 0)
    assert second.entries_appended == 0
    consistent(engine)


@pytest.mark.parametrize("force", [True, False])
def test_a_coupon_deleted_or_trashed_in_the_store_returns_its_points_once(
    force: bool,
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    outcome = issue(shop_config, engine, alice)
    store.delete_coupon(outcome_coupon_id(engine, outcome), force=force)

    first = sync(shop_config)
    second = sync(shop_config)

    assert redemption(engine, outcome.redemption_id).status == "deleted"
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000, 1000]
    assert balance(engine) == 1000
    assert (first.redemptions["deleted"], second.redemptions["deleted"]) == (1, 0)
    consistent(engine)


def test_a_refunded_order_that_used_the_coupon_is_recorded_and_moves_no_points(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    outcome = issue(shop_config, engine, alice)
    order = store.place_order(
        customer_id=alice, items=[(coffee, 2)], coupon_code=outcome.code, status="completed"
    )
    sync(shop_config)
    store.set_order_status(order["id"], "refunded")

    refunded = sync(shop_config)
    again = sync(shop_config)

    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.used_order_id, row.refunded_order_id) == (
        "used",
        order["id"],
        order["id"],
    )
    assert refunded.redemptions["refunded"] == 1
    assert again.redemptions["refunded"] == 0
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000]
    assert store.get("coupons", outcome_coupon_id(engine, outcome))["usage_count"] == 1


def used_then_cancelled(
    config: Config, engine: Engine, shop: SandboxStore, wc_id: int, coffee: int, sync: Sync
) -> tuple[Outcome, int, int]:
    """A 10-off coupon used by a completed order (synced: `used`), whose order is then
    cancelled in the store, which gives the use back. (The outcome, the order and coupon ids.)"""
    outcome = issue(config, engine, wc_id)
    order = shop.place_order(
        customer_id=wc_id, items=[(coffee, 2)], coupon_code=outcome.code, status="completed"
    )
    sync(config)
    assert redemption(engine, outcome.redemption_id).status == "used"
    shop.set_order_status(order["id"], "cancelled")
    coupon_id = outcome_coupon_id(engine, outcome)
    assert shop.get("coupons", coupon_id)["usage_count"] == 0  # the store gave the use back
    return outcome, int(order["id"]), coupon_id


def expires_unused_and_returns_its_points(
    config: Config, engine: Engine, shop: SandboxStore, outcome: Outcome, coupon_id: int, sync: Sync
) -> None:
    """The coupon, issued again, expires unused in the store: its 1000 points come back, once."""
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    shop.update_coupon(coupon_id, {"date_expires_gmt": past})
    sync(config)

    assert redemption(engine, outcome.redemption_id).status == "expired"
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000, 1000]
    assert balance(engine) == 1000
    consistent(engine)


def test_a_coupon_whose_order_was_cancelled_is_issued_again_and_returns_its_points_at_expiry(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """WooCommerce gives a coupon's use back when the order that used it is cancelled. The
    redemption stayed `used`: the customer could use the coupon again, but if she never did,
    its points were never returned at expiry (a known limitation until 4 Dec)."""
    outcome, _, coupon_id = used_then_cancelled(shop_config, engine, store, alice, coffee, sync)

    cancelled = sync(shop_config)
    again = sync(shop_config)

    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.used_order_id) == ("issued", None)
    assert (cancelled.redemptions["given_back"], again.redemptions["given_back"]) == (1, 0)
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000]

    expires_unused_and_returns_its_points(shop_config, engine, store, outcome, coupon_id, sync)


def test_a_coupon_used_again_after_its_order_was_cancelled_stays_used(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    outcome, _, _ = used_then_cancelled(shop_config, engine, store, alice, coffee, sync)
    second = store.place_order(
        customer_id=alice, items=[(coffee, 1)], coupon_code=outcome.code, status="completed"
    )

    sync(shop_config)  # sees the first cancelled and the second using it: the coupon is used
    sync(shop_config)

    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.used_order_id) == ("used", second["id"])
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000]
    consistent(engine)


def test_a_coupon_given_back_by_a_cancelled_order_and_trashed_returns_its_points(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """Found by a review (4 Dec): the coupon was read with `include=`, which leaves out the
    trash, and had to be live: trashed unused after its order was cancelled, it kept its points
    for good (no later sync sees the order again)."""
    outcome, _, coupon_id = used_then_cancelled(shop_config, engine, store, alice, coffee, sync)
    store.delete_coupon(coupon_id, force=False)  # the shop manager trashes it, unused

    sync(shop_config)  # sees the order cancelled: the coupon is unused, in the trash
    sync(shop_config)

    assert redemption(engine, outcome.redemption_id).status == "deleted"
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000, 1000]
    assert balance(engine) == 1000
    consistent(engine)


def test_a_coupon_deleted_outright_after_its_order_was_cancelled_stays_used(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """A 404 says nothing of whether the coupon was in use when it went (another order may have
    used it since): its points are not given back on a guess."""
    outcome, _, coupon_id = used_then_cancelled(shop_config, engine, store, alice, coffee, sync)
    store.delete_coupon(coupon_id, force=True)

    sync(shop_config)

    assert redemption(engine, outcome.redemption_id).status == "used"
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000]
    consistent(engine)


def test_a_coupon_a_paid_order_no_sync_saw_used_stays_used_when_deleted_outright(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """Why no rule gives a coupon deleted outright back, however sure the ledger looks: C used
    the coupon and was cancelled (the store gave the use back); before the next sync, X used it,
    was paid, and was deleted outright (WooCommerce keeps the use), and the coupon was deleted
    outright. The sync then sees C cancelled, no other order with the code (X is in no listing,
    nor tracked) and the coupon gone: every condition of 'the use was given back and nobody
    used it since' holds, and yet a paid order used it. Given back, the points would be spent
    twice, and nothing left in the store would ever show it."""
    outcome, first_id, coupon_id = used_then_cancelled(
        shop_config, engine, store, alice, coffee, sync
    )
    paid = store.place_order(
        customer_id=alice, items=[(coffee, 1)], coupon_code=outcome.code, status="processing"
    )
    store.delete_order(paid["id"], force=True)
    assert store.get("coupons", coupon_id)["usage_count"] == 1  # the deleted order's use stays
    store.delete_coupon(coupon_id, force=True)

    incremental = sync(shop_config)
    full = sync(shop_config, full=True)

    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.used_order_id) == ("used", first_id)
    assert (incremental.redemptions["given_back"], full.redemptions["given_back"]) == (0, 0)
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000]
    assert balance(engine) == 0
    consistent(engine)


def test_a_coupon_given_back_by_an_order_cancelled_then_trashed_returns_its_points_at_expiry(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """Found by a review (4 Dec): the order is cancelled (the store gives the use back) and
    trashed before the next sync, which sees it only as `trash`, never `cancelled`: the
    coupon's points were kept for good although it expired unused."""
    outcome, order_id, coupon_id = used_then_cancelled(
        shop_config, engine, store, alice, coffee, sync
    )
    store.delete_order(order_id, force=False)  # the shop manager clears cancelled orders
    sync(shop_config)
    sync(shop_config, full=True)

    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    store.update_coupon(coupon_id, {"date_expires_gmt": past})  # it expires unused
    sync(shop_config, full=True)

    assert redemption(engine, outcome.redemption_id).status == "expired"
    assert balance(engine) == 1000
    consistent(engine)


def test_a_use_seen_alone_replaces_the_use_of_an_order_cancelled_in_an_earlier_run(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """Found by a review (4 Dec): order C used the coupon and was cancelled; X took it; a run
    that saw X without C left the redemption used by C, so a later run that saw C alone (the
    coupon deleted outright meanwhile) gave the coupon back and returned the points X used.
    The runs are the lifecycle step as a sync calls it, with the orders each run listed."""
    outcome, first_id, coupon_id = used_then_cancelled(
        shop_config, engine, store, alice, coffee, sync
    )
    second = store.place_order(  # X takes it at checkout, before any sync saw C cancelled
        customer_id=alice, items=[(coffee, 1)], coupon_code=outcome.code, status="pending"
    )
    sync(shop_config)  # C cancelled, X pending (a use, not yet paid): still used, by C
    assert redemption(engine, outcome.redemption_id).used_order_id == first_id
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, shop_config.require_store().key).id
    client = make_client(shop_config.require_store())

    def run(*orders: tuple[int, str]) -> None:
        uses = CouponUses(seen={outcome.code: list(orders)})
        track_redemptions(
            client, lambda: session_scope(engine), store_id, uses, return_points=True,
            now=datetime.now(UTC).replace(microsecond=0),
        )  # fmt: skip

    run((int(second["id"]), "processing"))  # X alone, paid
    assert redemption(engine, outcome.redemption_id).used_order_id == second["id"]

    store.delete_coupon(coupon_id, force=True)
    run((first_id, "cancelled"))  # C alone

    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.used_order_id) == ("used", second["id"])
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000]
    consistent(engine)


def test_a_coupon_given_back_by_an_order_cancelled_then_deleted_outright_is_issued_again(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """From a review (4 Dec): the order is cancelled (the store gives the use back) and
    deleted outright before the next sync, which finds it gone, never `cancelled`: the coupon's
    points were kept for good although it expired unused."""
    outcome, order_id, coupon_id = used_then_cancelled(
        shop_config, engine, store, alice, coffee, sync
    )
    store.delete_order(order_id, force=True)
    found_gone = sync(shop_config, full=True)
    sync(shop_config, full=True)

    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.used_order_id) == ("issued", None)
    assert found_gone.redemptions["given_back"] == 1

    expires_unused_and_returns_its_points(shop_config, engine, store, outcome, coupon_id, sync)


def test_a_coupon_whose_paid_order_was_deleted_outright_stays_used(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """Deleting an order outright does not give its coupon's use back in WooCommerce (only a
    cancel does): the store still counts the use, so the points stay spent."""
    outcome = issue(shop_config, engine, alice)
    order = store.place_order(
        customer_id=alice, items=[(coffee, 2)], coupon_code=outcome.code, status="completed"
    )
    sync(shop_config)
    store.delete_order(order["id"], force=True)
    assert store.get("coupons", outcome_coupon_id(engine, outcome))["usage_count"] == 1

    found_gone = sync(shop_config, full=True)

    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.used_order_id) == ("used", order["id"])
    assert found_gone.redemptions["given_back"] == 0
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000]
    consistent(engine)


def test_an_order_cancelled_then_refunded_does_not_take_again_the_points_of_a_coupon_it_gave_back(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """Found by tests/e2e/test_soak_redemptions.py (seed 6): WooCommerce counts no use when a
    cancelled order is refunded (the cancel gave it back). The refunded order's code was taken
    for a use: the coupon, expired unused with its points returned, took them again, for a
    coupon whose `usage_count` is 0."""
    outcome, order_id, coupon_id = used_then_cancelled(
        shop_config, engine, store, alice, coffee, sync
    )
    sync(shop_config)  # given back: issued again
    expires_unused_and_returns_its_points(shop_config, engine, store, outcome, coupon_id, sync)
    store.set_order_status(order_id, "refunded")
    assert store.get("coupons", coupon_id)["usage_count"] == 0

    refunded = sync(shop_config)
    again = sync(shop_config)

    assert redemption(engine, outcome.redemption_id).status == "expired"
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000, 1000]
    assert balance(engine) == 1000
    assert (refunded.entries_appended, again.entries_appended) == (0, 0)
    consistent(engine)


def test_an_order_refunded_without_a_sync_seeing_it_paid_records_its_use(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """The other side: paid, then refunded before any sync saw it, the order keeps its use in
    WooCommerce: the coupon is used, refunded by that order, its points spent."""
    outcome = issue(shop_config, engine, alice)
    order = store.place_order(
        customer_id=alice, items=[(coffee, 2)], coupon_code=outcome.code, status="completed"
    )
    store.set_order_status(order["id"], "refunded")

    sync(shop_config)
    again = sync(shop_config)

    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.refunded_order_id) == ("used", order["id"])
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000]
    assert again.entries_appended == 0
    consistent(engine)


@pytest.mark.parametrize("unpaid", ["pending", "failed"])
def test_a_coupon_an_unpaid_order_used_is_given_back_when_it_is_cancelled_then_deleted_outright(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
    unpaid: str,
) -> None:
    """Found by tests/e2e/test_soak_redemptions.py (seed 10): WooCommerce counts a pending
    order's coupon use (kept if its payment fails) and gives it back when the order is
    cancelled. The coupon was marked used by its `usage_count` with no order, so once the order
    was cancelled and deleted outright before a sync saw the cancel, nothing led back to it and
    the points stayed spent for good. The unpaid order is now recorded as the one using it."""
    outcome = issue(shop_config, engine, alice)
    order = store.place_order(
        customer_id=alice, items=[(coffee, 2)], coupon_code=outcome.code, status="pending"
    )
    if unpaid != "pending":
        store.set_order_status(order["id"], unpaid)
    sync(shop_config)
    row = redemption(engine, outcome.redemption_id)
    assert (row.status, row.used_order_id) == ("used", order["id"])  # by its usage_count
    store.set_order_status(order["id"], "cancelled")
    store.delete_order(order["id"], force=True)
    coupon_id = outcome_coupon_id(engine, outcome)
    assert store.get("coupons", coupon_id)["usage_count"] == 0  # the store gave the use back

    found_gone = sync(shop_config, full=True)
    again = sync(shop_config, full=True)

    assert redemption(engine, outcome.redemption_id).status == "issued"
    assert (found_gone.redemptions["given_back"], again.redemptions["given_back"]) == (1, 0)
    assert again.entries_appended == 0
    expires_unused_and_returns_its_points(shop_config, engine, store, outcome, coupon_id, sync)


def test_a_pending_order_seen_after_its_coupon_was_marked_used_is_recorded_as_using_it(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """The coupon read used (`usage_count`) by a run that saw no order with its code (one placed
    while the run read coupons): the pending order a later run sees is recorded on it, without
    counting another use, and its cancel then deletion gives the coupon back."""
    outcome = issue(shop_config, engine, alice)
    order = store.place_order(
        customer_id=alice, items=[(coffee, 2)], coupon_code=outcome.code, status="pending"
    )
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, shop_config.require_store().key).id
    client = make_client(shop_config.require_store())

    def run(*orders: tuple[int, str]) -> int:
        uses = CouponUses(seen={outcome.code: list(orders)} if orders else {})
        return track_redemptions(
            client, lambda: session_scope(engine), store_id, uses, return_points=True,
            now=datetime.now(UTC).replace(microsecond=0),
        ).used  # fmt: skip

    assert run() == 1  # no order seen: used by its usage_count alone
    assert redemption(engine, outcome.redemption_id).used_order_id is None
    assert run((int(order["id"]), "pending")) == 0
    assert redemption(engine, outcome.redemption_id).used_order_id == order["id"]

    sync(shop_config)  # the order is tracked, pending
    store.set_order_status(order["id"], "cancelled")
    store.delete_order(order["id"], force=True)
    sync(shop_config, full=True)

    assert redemption(engine, outcome.redemption_id).status == "issued"
    assert [p for p, _ in redemption_entries(engine, outcome.redemption_id)] == [-1000]
    consistent(engine)


def test_a_coupon_a_pending_order_took_after_a_cancel_is_given_back_when_it_is_cancelled_too(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """C used the coupon and was cancelled; X took it pending before a sync saw the cancel, so
    the store still counted a use and the redemption stayed used, by C. X cancelled and deleted
    outright in its turn: a full sync, seeing C again, asks the store, and gives it back."""
    outcome, _, coupon_id = used_then_cancelled(shop_config, engine, store, alice, coffee, sync)
    taker = store.place_order(
        customer_id=alice, items=[(coffee, 1)], coupon_code=outcome.code, status="pending"
    )
    sync(shop_config)
    assert redemption(engine, outcome.redemption_id).status == "used"
    store.set_order_status(taker["id"], "cancelled")
    store.delete_order(taker["id"], force=True)

    sync(shop_config, full=True)
    sync(shop_config, full=True)

    assert redemption(engine, outcome.redemption_id).status == "issued"
    expires_unused_and_returns_its_points(shop_config, engine, store, outcome, coupon_id, sync)
