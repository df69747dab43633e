"""Stamps follow their orders when a customer's points move to another customer: a deleted
account's stamps go to its email's holder, a guest's to the account it registers, with the points,
once; a stamp reward already issued stays spent. Before, the points moved and the stamps stayed
(on the deleted account, which no card lists; a guest's orders carried none) until each order was
decided again, which for an unchanged order is never (found by a review). SQLite and PostgreSQL,
through the real sync against the sandbox store.

Expected values by hand: one coffee bought is one stamp, ten stamps a card, one coupon a card."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from ledger.models import Customer, Redemption
from ledger.models import StampCard as CardRow
from ledger.session import session_scope
from loyalty.config import Config
from rules.types import PurchaseRuleBook, PurchaseRules
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.e2e.activity import balance
from tests.e2e.test_deleted_accounts import adjust_by_hand, delete_account
from tests.e2e.test_stamp_cards import (  # noqa: F401 # fixtures
    EMAIL,
    Sync,
    alice,
    card_meta,
    cards,
    coffee,
    consistent,
    reward_coupons,
    stamps_meta,
    store,
    twice,
)

GUEST = "walk.in@example.com"


def bought(
    shop: SandboxStore,
    coffees: int,
    *,
    wc_id: int = 0,
    email: str | None = None,
    billing: dict[str, str] | None = None,
) -> int:
    """A completed order of `coffees` coffees (`billing`: address fields set by hand); returns
    once the clock is past its second, so that the next run's window ends after it (windows are
    whole seconds, both ends included: a run ending in the order's second would leave it to the
    next run to read again)."""
    product = next(p["id"] for p in shop.all("products") if p["name"] == "Coffee")
    order = shop.place_order(
        customer_id=wc_id,
        email=email,
        items=[(product, coffees)],
        status="completed",
        billing=billing,
    )
    placed = datetime.fromisoformat(order["date_modified_gmt"]).replace(microsecond=0)
    while datetime.now(UTC).replace(tzinfo=None, microsecond=0) <= placed:
        time.sleep(0.05)
    return int(order["id"])


def read_once(config: Config) -> Config:
    """Runs that read only the orders changed since the last run (no overlap): an order is read
    once, then again only if it changes or a known-orders check reads it (not in these tests:
    that check lists every account again too)."""
    return replace(config, sync=replace(config.sync, overlap_minutes=0))


def reward_keys(engine: Engine) -> set[str]:
    with session_scope(engine) as session:
        return set(session.execute(select(Redemption.request_key)).scalars())


def card_stamps(engine: Engine, wc_id: int) -> int:
    """The coffee card's stamps the ledger holds for the account `wc_id` (deleted or not)."""
    with session_scope(engine) as session:
        found = session.execute(
            select(CardRow.stamps)
            .join(Customer, Customer.id == CardRow.customer_id)
            .where(Customer.wc_id == wc_id, CardRow.card == "coffee")
        ).scalar_one_or_none()
        return int(found or 0)


def test_a_deleted_accounts_stamps_go_to_the_older_account_of_its_email_and_its_reward_stays_spent(
    cards: Config,  # noqa: F811
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    sandbox: SandboxServer,
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    """Alice (9 coffees) changes her email in the store; the incremental sync does not see it, so
    the ledger still files her under it. A new account registers with her old email and buys 12
    coffees: one card rewarded, 2 stamps on the next. An admin deletes that account; the
    write-back of a goodwill adjustment finds it gone, and its orders (unchanged, not read
    again) go to Alice with its points. Alice then holds 9 + 12 = 21 stamps, two full cards, one
    of them rewarded already (on the deleted account): exactly one more coupon, for Alice, and
    her meta shows 1 stamp on the third card, 2 rewards issued."""
    engine, once = engine_for(), read_once(cards)
    bought(store, 9, wc_id=alice)
    twice(sync, once)
    assert stamps_meta(store, alice) == card_meta(9)

    store.update_customer(alice, {"email": "alice.elsewhere@example.com"})
    newer = int(store.register_customer(email=EMAIL)["id"])
    newer_order = bought(store, 12, wc_id=newer)
    twice(sync, once)
    assert stamps_meta(store, newer) == card_meta(2, issued=1)
    assert reward_keys(engine) == {f"stamps:coffee:{newer}:1"}

    adjust_by_hand(once, engine, newer, 5)  # something for the write-back to send
    delete_account(sandbox, newer)
    assert sync(once).accounts_deleted == 1
    assert card_stamps(engine, newer) == 0
    assert card_stamps(engine, alice) == 21

    first = twice(sync, once)

    assert first.redemptions["stamp_rewards_issued"] == 1
    assert len(reward_coupons(store)) == 2
    assert reward_keys(engine) == {f"stamps:coffee:{newer}:1", f"stamps:coffee:{alice}:2"}
    assert stamps_meta(store, alice) == card_meta(1, issued=2)
    consistent(engine)

    store.touch_order(newer_order)  # read again, a guest order of the email now: still Alice's
    twice(sync, once)
    assert card_stamps(engine, alice) == 21
    assert len(reward_coupons(store)) == 2
    assert stamps_meta(store, alice) == card_meta(1, issued=2)
    consistent(engine)


def test_a_guests_stamps_go_to_the_account_it_registers_once(
    cards: Config,  # noqa: F811
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    sync: Sync,
) -> None:
    """A guest buys 7 coffees, then 4: no reward (a guest could never be told of one), no meta.
    The guest registers: the account holds the guest's 11 stamps, so one card is full: one
    coupon, 1 stamp on the next card. Its orders edited and read again change nothing."""
    engine, once = engine_for(), read_once(cards)
    orders = [bought(store, n, email=GUEST) for n in (7, 4)]
    twice(sync, once)
    assert reward_coupons(store) == []

    account = int(store.register_customer(email=GUEST)["id"])
    first = twice(sync, once)

    assert first.transfers == 1  # the guest's points moved in the same run
    assert first.redemptions["stamp_rewards_issued"] == 1
    [coupon] = reward_coupons(store)
    assert coupon["email_restrictions"] == [GUEST]
    assert reward_keys(engine) == {f"stamps:coffee:{account}:1"}
    assert stamps_meta(store, account) == card_meta(1, issued=1)
    consistent(engine)

    for order_id in orders:
        store.touch_order(order_id)
    twice(sync, once)
    assert card_stamps(engine, account) == 11
    assert len(reward_coupons(store)) == 1
    assert stamps_meta(store, account) == card_meta(1, issued=1)
    consistent(engine)


def total_stamps(engine: Engine) -> int:
    """The coffee card's stamps the ledger holds, every holder's (guests' too)."""
    with session_scope(engine) as session:
        found = session.execute(
            select(func.sum(CardRow.stamps)).where(CardRow.card == "coffee")
        ).scalar_one()
        return int(found or 0)


def awarding_guests(config: Config, award: bool) -> Config:
    rules = replace(config.rules, purchase=PurchaseRuleBook((PurchaseRules(award_guests=award),)))
    return replace(config, rules=rules)


@pytest.mark.parametrize(
    ("award_guests", "guest_points", "guest_stamps", "meta_after"),
    [
        (True, 33, 11, card_meta(4, issued=1)),  # 11 + 3 stamps: one card rewarded, 4 on the next
        (False, 0, 0, card_meta(3)),  # the guest orders never earn; the account's 3 coffees do
    ],
    ids=["guests_earn", "guests_do_not_earn"],
)
def test_a_guests_orders_earn_stamps_exactly_when_they_earn_points(
    cards: Config,  # noqa: F811
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    sync: Sync,
    award_guests: bool,
    guest_points: int,
    guest_stamps: int,
    meta_after: dict[str, object],
) -> None:
    """A guest buys 7 coffees, then 4 (3.00 each, 1 point per unit: 21 + 12 = 33 points, 11
    stamps). With `award_guests = false` those orders earn no points, and they carry no stamps
    either: none held for the guest, none moved to the account it registers, none once its
    orders are read again for the account (they stay guest orders in WooCommerce, and earn no
    points then either). The account's own 3 coffees earn 9 points and 3 stamps in both cases.
    Before, the guest's 11 stamps were held anyway and gave the new account a coupon."""
    engine, once = engine_for(), awarding_guests(read_once(cards), award_guests)
    orders = [bought(store, n, email=GUEST) for n in (7, 4)]
    twice(sync, once)
    assert balance(once, engine, email=GUEST) == guest_points
    assert total_stamps(engine) == guest_stamps

    account = int(store.register_customer(email=GUEST)["id"])
    twice(sync, once)
    assert balance(once, engine, wc_id=account) == guest_points
    assert card_stamps(engine, account) == guest_stamps
    assert len(reward_coupons(store)) == guest_stamps // 10

    for order_id in orders:
        store.touch_order(order_id)
    bought(store, 3, wc_id=account)
    twice(sync, once)

    assert balance(once, engine, wc_id=account) == guest_points + 9
    assert card_stamps(engine, account) == guest_stamps + 3
    assert total_stamps(engine) == guest_stamps + 3
    assert len(reward_coupons(store)) == guest_stamps // 10
    assert stamps_meta(store, account) == meta_after
    consistent(engine)


def guest_stamps(engine: Engine, email: str) -> int:
    """The coffee card's stamps the ledger holds for the guest of `email`."""
    with session_scope(engine) as session:
        found = session.execute(
            select(CardRow.stamps)
            .join(Customer, Customer.id == CardRow.customer_id)
            .where(Customer.is_guest, Customer.email == email, CardRow.card == "coffee")
        ).scalar_one_or_none()
        return int(found or 0)


LEAVING = "leaving@example.org"


@pytest.mark.parametrize(
    ("award_guests", "walk_in_points", "walk_in_stamps"),
    [(True, 6, 2), (False, 0, 0)],
    ids=["guests_earn", "guests_do_not_earn"],
)
def test_a_deleted_accounts_orders_keep_their_points_and_stamps_whether_guests_earn_or_not(
    cards: Config,  # noqa: F811
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    sandbox: SandboxServer,
    sync: Sync,
    award_guests: bool,
    walk_in_points: int,
    walk_in_stamps: int,
) -> None:
    """An account buys 4 coffees (3.00 each, 1 point per 1.00: 12 points, 4 stamps); a walk-in
    guest buys 2 (6 points and 2 stamps when guests earn, else nothing). An admin deletes the
    account: WordPress turns its order into a guest order (customer_id 0, same date), and a full
    sync reads it again as one. It was bought by the account and earned then: it keeps its 12
    points and 4 stamps, which go with the account's balance to its email (a guest), whether
    guest orders earn or not; the walk-in's order earns as before. The person registers again:
    12 points and 4 stamps on the new account. Before, with `award_guests = false`, the full
    sync decided the order as a guest order: its 12 points and 4 stamps were taken back."""
    engine, once = engine_for(), awarding_guests(read_once(cards), award_guests)
    leaving = int(store.register_customer(email=LEAVING)["id"])
    order = bought(store, 4, wc_id=leaving)
    bought(store, 2, email=GUEST)
    twice(sync, once)
    assert balance(once, engine, wc_id=leaving) == 12
    assert card_stamps(engine, leaving) == 4
    assert stamps_meta(store, leaving) == card_meta(4)

    delete_account(sandbox, leaving)
    assert store.get("orders", order)["customer_id"] == 0  # as WordPress leaves it
    first = sync(once, full=True)
    assert sync(once, full=True).entries_appended == 0

    assert first.accounts_deleted == 1
    assert balance(once, engine, wc_id=leaving) == 0
    assert balance(once, engine, email=LEAVING) == 12
    assert (card_stamps(engine, leaving), guest_stamps(engine, LEAVING)) == (0, 4)
    assert balance(once, engine, email=GUEST) == walk_in_points
    assert guest_stamps(engine, GUEST) == walk_in_stamps
    consistent(engine)

    returning = int(store.register_customer(email=LEAVING)["id"])
    store.touch_order(order)  # read again, the returning account's by its email now
    twice(sync, once)
    assert balance(once, engine, wc_id=returning) == 12
    assert card_stamps(engine, returning) == 4
    assert stamps_meta(store, returning) == card_meta(4)
    assert balance(once, engine, email=GUEST) == walk_in_points
    assert total_stamps(engine) == 4 + walk_in_stamps
    consistent(engine)


@pytest.mark.parametrize("award_guests", [True, False], ids=["guests_earn", "guests_do_not_earn"])
def test_an_account_order_without_a_billing_email_keeps_its_points_when_the_account_is_deleted(
    cards: Config,  # noqa: F811
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    sandbox: SandboxServer,
    sync: Sync,
    award_guests: bool,
) -> None:
    """An account buys 4 coffees (3.00 each, 1 point per 1.00: 12 points, 4 stamps) on an order
    an admin entered without a billing email (WooCommerce does not require one on an account's
    order). An admin deletes the account: WordPress turns the order into a guest order without an
    email, and a full sync reads it again. It was placed by the account and earned then: it keeps
    its 12 points and 4 stamps, which go with the account's balance to the account's email (a
    guest), whether guest orders earn or not; the person registers again and gets them. Before,
    the full sync refused it as a guest order without an email: its 12 points were taken back
    (its 4 stamps kept)."""
    engine, once = engine_for(), awarding_guests(read_once(cards), award_guests)
    leaving = int(store.register_customer(email=LEAVING)["id"])
    order = bought(store, 4, wc_id=leaving, billing={"email": ""})
    assert store.get("orders", order)["billing"]["email"] == ""
    twice(sync, once)
    assert balance(once, engine, wc_id=leaving) == 12
    assert card_stamps(engine, leaving) == 4

    delete_account(sandbox, leaving)
    assert store.get("orders", order)["customer_id"] == 0  # as WordPress leaves it
    first = sync(once, full=True)
    assert sync(once, full=True).entries_appended == 0

    assert first.accounts_deleted == 1
    assert balance(once, engine, wc_id=leaving) == 0
    assert balance(once, engine, email=LEAVING) == 12
    assert (card_stamps(engine, leaving), guest_stamps(engine, LEAVING)) == (0, 4)
    consistent(engine)

    returning = int(store.register_customer(email=LEAVING)["id"])
    store.touch_order(order)  # read again: a guest order without an email, the email's now
    twice(sync, once)
    assert balance(once, engine, wc_id=returning) == 12
    assert card_stamps(engine, returning) == 4
    assert stamps_meta(store, returning) == card_meta(4)
    consistent(engine)
