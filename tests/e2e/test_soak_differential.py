"""A seeded soak: rounds of random shop activity, each followed by the real incremental sync, and
after every round what must hold whatever the rules say.

- `loyalty verify`'s checks find nothing: every balance is the sum of its entries, every rollup
  the sum of its entries;
- a second sync right after appends nothing;
- every account's `loyalty_points` meta is its ledger balance;
- at checkpoints, a full sync of a copy of the store into a fresh, empty ledger gives every
  holder (account by WooCommerce id, guest by email) the same balance, and every item reference
  (`order:N`, `review:N`, `comment:N`) the same net points, as the ledger built round by round:
  what a customer holds does not depend on which syncs saw which intermediate states;
- at checkpoints, every order reference carries what the independent computation of
  tests/e2e/expected.py says, and an order deleted outright carries nothing.

No oracle of the other rules is needed: the fresh ledger is the differential.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import aliased

from ledger.balances import verify_balances
from ledger.customers import get_or_create_store
from ledger.models import Customer, PointEntry
from ledger.rollup_checks import verify_rollups
from ledger.session import create_engine_for, session_scope
from ledger.stamps import verify_stamps
from loyalty.config import Config, DatabaseConfig
from loyalty.sync_settings import sync_settings
from rules.comment import CommentRules
from rules.review import ReviewRules
from sandbox.errors import SandboxError
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.service import run_sync
from sync.settings import SyncSettings
from sync.source import Backfill
from tests.e2e.activity import with_rules, with_wordpress
from tests.e2e.conftest import (
    CONSUMER_KEY,
    CONSUMER_SECRET,
    balances_of,
    small_store,
    store_config,
)
from tests.e2e.expected import order_points

#: Each seed is one soak: its store's and its shoppers'. The first found the comments of an
#: account deleted unseen left on a row without an email, the second an email's orders flapping
#: between an account deleted unseen and the one registered with it (seeds 3 and 7 found the
#: documented signup of a deleted account, see `comparable`; left out to keep the time).
SEEDS = (20261204, 4)
ROUNDS = 12
#: Rounds (from 0) after which a fresh ledger is built from the store and compared.
CHECKPOINTS = frozenset({3, 6, ROUNDS - 1})
ACTIONS_PER_ROUND = 12
SIGNUP_POINTS = 25
ITEM_REF = re.compile(r"^(order|review|comment):\d+$")

Holder = tuple[str, Any]  # ("account", wc_id) or ("guest", email)


@pytest.fixture(params=SEEDS, ids=lambda seed: f"seed{seed}")
def seed(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def store(seed: int) -> SandboxStore:
    return small_store(seed=seed % 1000, customers=20, orders=90, reviews=25, comments=25)


@pytest.fixture
def soak(config: Config) -> Config:
    """Every source on: orders with a first-order bonus, reviews, comments, signups."""
    rules = replace(config.rules, first_order_points=7, signup_points=SIGNUP_POINTS)
    return with_wordpress(
        with_rules(
            replace(config, rules=rules),
            review=ReviewRules(enabled=True, points=10),
            comment=CommentRules(enabled=True, points=5, max_per_day=3),
        )
    )


class Shop:
    """Shoppers and admins changing the store at random, through its Python API (seeded)."""

    def __init__(self, store: SandboxStore, rng: random.Random) -> None:
        self.store = store
        self.rng = rng
        self.products = [p["id"] for p in store.all("products")]
        self.guests = sorted(
            {o["billing"]["email"] for o in store.all("orders") if not o["customer_id"]} - {""}
        )
        self.gone: list[str] = []  # emails of deleted accounts
        self.made = 0
        self.done: list[str] = []

    def act(self, count: int) -> list[str]:
        """`count` random changes; what was done, for the failure message."""
        self.done = []
        actions: list[tuple[Callable[[], None], int]] = [
            (self.place_account_order, 4),
            (self.place_guest_order, 3),
            (self.change_status, 5),
            (self.trash_or_restore, 2),
            (self.delete_order, 1),
            (self.refund_lines, 2),
            (self.refund_amount, 1),
            (self.refund_all, 1),
            (self.delete_refund, 1),
            (self.register_guest, 2),
            (self.delete_account, 1),
            (self.move_order, 1),
            (self.change_account_email, 1),
            (self.review, 3),
            (self.moderate_review, 3),
            (self.comment, 3),
            (self.moderate_comment, 3),
        ]
        for _ in range(count):
            action = self.rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
            try:
                action()
            except SandboxError as refused:  # the store refused (nothing left to refund, ...)
                self.done.append(f"  refused: {refused}")
        return self.done

    def _note(self, text: str) -> None:
        self.done.append(text)

    def _email(self) -> str:
        self.made += 1
        return f"soak-{self.made}@example.org"

    def _accounts(self) -> list[int]:
        return [c["id"] for c in self.store.all("customers")]

    def _orders(self, *statuses: str) -> list[dict[str, Any]]:
        return [o for o in self.store.all("orders") if not statuses or o["status"] in statuses]

    def _items(self) -> list[tuple[int, int]]:
        chosen = self.rng.sample(self.products, self.rng.randint(1, 2))
        return [(product, self.rng.randint(1, 3)) for product in chosen]

    def _status(self) -> str:
        return self.rng.choice(["processing", "completed", "completed", "on-hold", "pending"])

    def place_account_order(self) -> None:
        customer = self.rng.choice(self._accounts())
        order = self.store.place_order(
            customer_id=customer, items=self._items(), status=self._status()
        )
        self._note(f"order {order['id']} by account {customer}: {order['status']}")

    def place_guest_order(self) -> None:
        pool = self.guests + self.gone + [c["email"] for c in self.store.all("customers")]
        email = self._email() if self.rng.random() < 0.4 else self.rng.choice(pool)
        if email not in self.guests and self.store.customer_id_by_email(email) is None:
            self.guests.append(email)
        order = self.store.place_order(email=email, items=self._items(), status=self._status())
        self._note(f"order {order['id']} by guest {email}: {order['status']}")

    def change_status(self) -> None:
        order = self.rng.choice(self._orders())
        status = self.rng.choice(["processing", "completed", "cancelled", "refunded", "on-hold"])
        self.store.set_order_status(order["id"], status)
        self._note(f"order {order['id']}: {order['status']} -> {status}")

    def trash_or_restore(self) -> None:
        trashed = self._orders("trash")
        if trashed and self.rng.random() < 0.5:
            order = self.rng.choice(trashed)
            status = self._status()
            self.store.set_order_status(order["id"], status)
            self._note(f"order {order['id']}: restored to {status}")
            return
        order = self.rng.choice(self._orders())
        self.store.delete_order(order["id"], force=False)
        self._note(f"order {order['id']}: {order['status']} -> trash")

    def delete_order(self) -> None:
        order = self.rng.choice(self._orders())
        self.store.delete_order(order["id"], force=True)
        self._note(f"order {order['id']}: {order['status']}, deleted outright")

    def refund_lines(self) -> None:
        order = self.rng.choice(self._orders("completed", "processing"))
        line = self.rng.choice(order["line_items"])
        self.store.refund_order(order["id"], lines=[(line["id"], 1)])
        self._note(f"order {order['id']}: one of line {line['id']} refunded")

    def refund_amount(self) -> None:
        order = self.rng.choice(self._orders("completed", "processing"))
        amount = (Decimal(order["total"]) * Decimal(self.rng.choice(["0.1", "0.3"]))).quantize(
            Decimal("0.01")
        )
        self.store.refund_order(order["id"], amount=amount)
        self._note(f"order {order['id']}: {amount} refunded, no lines")

    def refund_all(self) -> None:
        order = self.rng.choice(self._orders("completed", "processing", "on-hold"))
        self.store.refund_order(order["id"])
        self._note(f"order {order['id']}: what remained refunded")

    def delete_refund(self) -> None:
        refunds = self.store.all("refunds")
        if refunds:
            refund = self.rng.choice(refunds)
            parent = self.store.refund_parent(refund["id"])
            self.store.delete_refund(refund["id"])
            self._note(f"refund {refund['id']} of order {parent} deleted")

    def register_guest(self) -> None:
        pool = [e for e in self.guests + self.gone if self.store.customer_id_by_email(e) is None]
        if pool:
            email = self.rng.choice(pool)
            account = self.store.register_customer(email=email)
            self._note(f"{email} registered as account {account['id']}")

    def delete_account(self) -> None:
        customer = self.store.get("customers", self.rng.choice(self._accounts()))
        self.store.delete_customer(customer["id"], force=True)
        self.gone.append(customer["email"])
        self._note(f"account {customer['id']} ({customer['email']}) deleted")

    def move_order(self) -> None:
        order = self.rng.choice(self._orders())
        to = self.rng.choice([0, *self._accounts()])
        self.store.update_order(order["id"], {"customer_id": to})
        self._note(f"order {order['id']}: account {order['customer_id']} -> {to}")

    def change_account_email(self) -> None:
        customer = self.store.get("customers", self.rng.choice(self._accounts()))
        free = [e for e in self.guests + self.gone if self.store.customer_id_by_email(e) is None]
        email = self.rng.choice(free) if free and self.rng.random() < 0.5 else self._email()
        self.store.update_customer(customer["id"], {"email": email})
        self._note(f"account {customer['id']}: email {customer['email']} -> {email}")

    def _someone(self) -> tuple[str, int]:
        """An email and the account that writes under it (0: a guest)."""
        if self.rng.random() < 0.5:
            customer = self.store.get("customers", self.rng.choice(self._accounts()))
            return customer["email"], customer["id"]
        return self.rng.choice([*self.guests, self._email()]), 0

    def review(self) -> None:
        email, _ = self._someone()
        status = self.rng.choice(["approved", "approved", "hold"])
        product = self.rng.choice(self.products)
        review = self.store.add_review(
            product_id=product, email=email, name="Soak", rating=4, text="Fine.", status=status
        )
        self._note(f"review {review['id']} of {product} by {email}: {status}")

    def moderate_review(self) -> None:
        reviews = self.store.all("reviews")
        review = self.rng.choice(reviews)
        status = self.rng.choice(["approved", "hold", "spam", "trash", "deleted"])
        if status == "deleted":
            self.store.delete_review(review["id"], force=True)
        else:
            self.store.set_review_status(review["id"], status)
        self._note(f"review {review['id']}: {review['status']} -> {status}")

    def comment(self) -> None:
        email, author = self._someone()
        status = self.rng.choice(["approved", "approved", "hold"])
        post = self.rng.choice(self.store.post_ids())
        comment = self.store.add_comment(
            post_id=post, email=email, name="Soak", text="Nice post.", author=author, status=status
        )
        self._note(f"comment {comment['id']} on {post} by {email} ({author}): {status}")

    def moderate_comment(self) -> None:
        comments = [c for c in self.store.all("comments") if c["type"] == "comment"]
        comment = self.rng.choice(comments)
        status = self.rng.choice(["approved", "hold", "spam", "trash", "deleted"])
        if status == "deleted":
            self.store.delete_comment(comment["id"], force=True)
        else:
            self.store.set_comment_status(comment["id"], status)
        self._note(f"comment {comment['id']}: {comment['status']} -> {status}")


@dataclass(frozen=True)
class Picture:
    """What a ledger says: each holder's balance, each item reference's net points, and the
    holders whose balance carries the signup of an account deleted in the store."""

    balances: dict[Holder, int]
    refs: dict[str, int]
    deleted_signups: set[Holder]
    signups: set[Holder]  # holders carrying a signup (their own or another's)


def picture(config: Config, engine: Engine) -> Picture:
    balances: dict[Holder, int] = {}
    for row in balances_of(config, engine):
        if row.balance:
            balances[holder_of(row.customer_id, row.email)] = row.balance
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        sums = session.execute(
            select(PointEntry.source_ref, func.sum(PointEntry.points))
            .where(PointEntry.store_id == store_id)
            .group_by(PointEntry.source_ref)
        ).all()
        refs = {ref: int(points) for ref, points in sums if ITEM_REF.match(ref) and points}
        carrier = aliased(Customer)
        carrying = session.execute(
            select(Customer.wc_id, Customer.email, carrier.deleted_at)
            .join(carrier, carrier.id == Customer.signup_of)
            .where(Customer.store_id == store_id)
        ).all()
    signups = {holder_of(wc_id, email) for wc_id, email, _ in carrying}
    deleted = {holder_of(wc_id, email) for wc_id, email, gone in carrying if gone is not None}
    return Picture(balances, refs, deleted, signups)


def holder_of(wc_id: int | None, email: str | None) -> Holder:
    return ("account", wc_id) if wc_id else ("guest", email)


def comparable(seen: Picture, fresh: Picture) -> dict[Holder, int]:
    """The soak ledger's balances, less the signup points a holder carries from an account
    deleted in the store when the fresh ledger gives it none: the README (Sources, Signups: "an
    account deleted in the store gives its points, its signup points among them, back to its
    email") keeps them, and a ledger that never saw the account cannot know of its signup."""
    balances = dict(seen.balances)
    for holder in seen.deleted_signups - fresh.signups:
        balances[holder] = balances.get(holder, 0) - SIGNUP_POINTS
    return {holder: points for holder, points in balances.items() if points}


def differences(left: dict[Any, int], right: dict[Any, int]) -> dict[Any, tuple[int, int]]:
    return {
        key: (left.get(key, 0), right.get(key, 0))
        for key in sorted(left.keys() | right.keys(), key=str)
        if left.get(key, 0) != right.get(key, 0)
    }


def last_entry(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.coalesce(func.max(PointEntry.id), 0))).scalar_one())


def entries_after(engine: Engine, entry_id: int) -> list[str]:
    """The entries appended after `entry_id`, one line each (for a failure's message)."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(Customer.wc_id, Customer.email, PointEntry)
            .join(Customer, Customer.id == PointEntry.customer_id)
            .where(PointEntry.id > entry_id)
            .order_by(PointEntry.id)
        ).all()
        return [
            f"{entry.idempotency_key} {entry.points:+d} {entry.kind} to {wc_id or email}: {entry.note}"
            for wc_id, email, entry in rows
        ]


def assert_consistent(engine: Engine) -> None:
    """What `loyalty verify` checks: balances, rollups and stamp cards equal their entries."""
    with session_scope(engine) as session:
        assert verify_balances(session) == []
        assert verify_rollups(session) == []
        assert verify_stamps(session) == []


def sync_settled(settings: SyncSettings, engine: Engine, story: str) -> None:
    """An incremental sync, then what `loyalty verify` checks, then a second sync that must
    append nothing; a failure names `story` (what the shop did) and the entries appended."""
    mark = last_entry(engine)
    summary = run_sync(settings, engine=engine)
    first_appended = entries_after(engine, mark)
    assert summary.ok, f"{summary.errors}\n{story}"
    assert_consistent(engine)
    before = last_entry(engine)
    again = run_sync(settings, engine=engine)
    appended = entries_after(engine, before)
    assert appended == [], "\n".join(
        [story, "first:", *first_appended, "the second sync appended:", *appended]
    )
    assert again.entries_appended == 0, story


def meta_differences(store: SandboxStore, seen: Picture) -> dict[Any, tuple[int, int]]:
    """Each account in the store whose `loyalty_points` meta is not its ledger balance."""
    meta: dict[Holder, int] = {}
    for customer in store.all("customers"):
        values = [m["value"] for m in customer["meta_data"] if m["key"] == "loyalty_points"]
        if values and int(values[0]):
            meta[("account", customer["id"])] = int(values[0])
    live = {("account", c["id"]) for c in store.all("customers")}
    ledger = {h: p for h, p in seen.balances.items() if h in live}
    return differences(meta, ledger)


def oracle_differences(store: SandboxStore, seen: Picture, gone: set[int]) -> dict[str, Any]:
    """Order references whose net points are not tests/e2e/expected.py's (deleted orders: 0)."""
    refunds: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for refund in store.all("refunds"):
        refunds[store.refund_parent(refund["id"])].append(refund)
    expected = {f"order:{o['id']}": order_points(o, refunds[o["id"]]) for o in store.all("orders")}
    expected.update({f"order:{n}": 0 for n in gone})
    held = {ref: seen.refs.get(ref, 0) for ref in expected}
    return differences(expected, held)


@contextmanager
def copy_served(store: SandboxStore) -> Iterator[SandboxServer]:
    """A copy of the store as it is now, served by a server of its own (the fresh ledger's full
    sync writes balances back: to the copy, not to the store the soak goes on with)."""
    server = SandboxServer(
        SandboxStore.from_json(store.to_json()),
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        wp_username="editor",
        wp_app_password="abcd efgh ijkl mnop qrst uvwx",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def fresh_picture(store: SandboxStore, soak: Config, url: str, signups_since: datetime) -> Picture:
    """A full sync of a copy of the store into the empty ledger at `url`, then the signups of
    accounts registered since the soak began: what the soak's ledger has had on since then (the
    README, Sources, Signups: an account registered before a ledger first ran earns only through
    `loyalty resync --signups --since DATE`)."""
    with copy_served(store) as server:
        config = replace(soak, store=store_config(server), database=DatabaseConfig(url=url))
        engine = create_engine_for(url)
        try:
            settings = sync_settings(config)
            full = run_sync(settings, full=True, engine=engine)
            assert full.ok, full.errors
            backfill = run_sync(
                settings, engine=engine, backfill=Backfill("signups", signups_since)
            )
            assert backfill.ok, backfill.errors
            assert_consistent(engine)
            again = run_sync(settings, engine=engine)
            assert again.entries_appended == 0
            return picture(config, engine)
        finally:
            engine.dispose()


@pytest.mark.slow
def test_seeded_soak_keeps_the_ledger_consistent_idempotent_and_history_independent(
    seed: int,
    store: SandboxStore,
    soak: Config,
    engine_for: Callable[[], Engine],
    more_db_urls: Callable[[], str],
) -> None:
    engine = engine_for()
    steady = sync_settings(soak)
    reconciling = sync_settings(replace(soak, sync=replace(soak.sync, reconcile_every_hours=0)))
    began = store.now()
    first = run_sync(steady, engine=engine)
    assert first.ok, first.errors
    shop = Shop(store, random.Random(seed))
    known = {o["id"] for o in store.all("orders")}
    log: list[str] = []
    for round_ in range(ROUNDS):
        log += [f"round {round_}:", *shop.act(ACTIONS_PER_ROUND)]
        known |= {o["id"] for o in store.all("orders")}
        # Orders deleted outright, refunds deleted, accounts' changed emails and moderation of
        # items older than `rescan_days` are seen by the check of known ids, every
        # `reconcile_every_hours` (README, How it works; What a sync costs the store; Reviews
        # and blog comments): the rounds before a checkpoint run it.
        settings = reconciling if round_ in CHECKPOINTS else steady
        story = "\n".join(log)
        sync_settled(settings, engine, story)
        seen = picture(soak, engine)
        assert meta_differences(store, seen) == {}, story
        if round_ not in CHECKPOINTS:
            continue
        gone = known - {o["id"] for o in store.all("orders")}
        assert oracle_differences(store, seen, gone) == {}, story
        fresh = fresh_picture(store, soak, more_db_urls(), began)
        assert differences(comparable(seen, fresh), fresh.balances) == {}, story
        assert differences(seen.refs, fresh.refs) == {}, story
