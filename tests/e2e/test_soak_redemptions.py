"""A seeded soak of what points are spent on: rounds of random shop activity (tests/e2e/
test_soak_differential.py's shoppers and admins) plus redemptions, storefront requests, coupons
used, their orders cancelled, refunded or trashed, coupons trashed, deleted or expired in the
store, stamp-card orders and their rewards, and expiry runs, the days advancing from round to
round. After each round the real incremental sync, and then what must hold whatever the rules say:

- `loyalty verify`'s checks find nothing, a second sync appends nothing, and every account's
  `loyalty_points` meta is its ledger balance (as in the first soak);
- each redemption's entries net to what its status says: minus its points while they stay spent
  (pending, issued, used, closed with the points kept), 0 once returned or refused: no
  redemption's points are both returned and spent;
- every coupon in the store naming a redemption is that redemption's (code, amount), and every
  redemption with a coupon has it in the store as its status says: issued -> live, unused, not
  expired; used -> used; closed unused -> unused, and gone, trashed or expired unless the shop
  manager restored it from the trash;
- the status report's balance equation holds over all time, and its closing total is the sum of
  the customers' balances.

No fresh-ledger comparison: a ledger built from the store at the end cannot know the redemptions,
nor the expiries dated by the days the soak went through.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ledger.customers import get_or_create_store
from ledger.kinds import SourceKind
from ledger.models import Balance, PointEntry, Redemption
from ledger.redemptions import CLOSED_UNUSED, ISSUED, PENDING, REFUSED, SPENDING, USED
from ledger.session import session_scope
from loyalty.config import Config, RewardsConfig
from loyalty.redeem import redeem_once
from loyalty.sync_settings import sync_settings
from reports.period import Period
from reports.status import points_status
from rules.expiry import ExpiryMode, ExpiryRules
from rules.redemption import RedemptionRules, RedemptionTier
from rules.stamps import StampCard
from sandbox.errors import SandboxError
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.coupons import REDEMPTION_META_KEY
from sync.expiry import run_expiry
from sync.redemptions import RedemptionRefused, Request
from sync.service import run_sync
from tests.e2e.conftest import ANCHOR, balances_of, small_store
from tests.e2e.test_soak_differential import (
    Shop,
    meta_differences,
    picture,
    soak,  # noqa: F401 # the first soak's config: every source on
    sync_settled,
)

#: Each seed is one soak, its store's and its shoppers'. Seed 6 found a cancelled order's refund
#: taking again the points its cancel had given back, seed 10 a pending order's coupon kept used
#: once the order was cancelled and deleted outright (both in tests/e2e/
#: test_redemption_lifecycle.py).
SEEDS = (6, 10)
ROUNDS = 12
SHOP_ACTIONS = 6  # the first soak's changes a round
COUPON_ACTIONS = 14  # this soak's
D = Decimal
#: Cheap tiers and a rate, so that most customers can spend; the auto-issue tier is dear.
REDEMPTION = RedemptionRules(
    tiers=(
        RedemptionTier("5-off", 15, D("5.00")),
        RedemptionTier("20-off", 60, D("20.00")),
        RedemptionTier("50-off", 200, D("50.00")),
    ),
    points_per_unit=2,
    minimum_points=10,
    step=2,
    coupon_days=5,  # some coupons expire unused as the days go by
    auto_issue_tier="50-off",
)
#: Per lot, short: points earned in the first rounds expire in the last ones, and the history's
#: last weeks expire as the soak goes.
EXPIRY = ExpiryRules(enabled=True, mode=ExpiryMode.PER_LOT, days=30)
#: The soak starts the day after the generated history ends.
START = ANCHOR + timedelta(days=1, hours=9)


@pytest.fixture(params=SEEDS, ids=lambda seed: f"seed{seed}")
def seed(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def store(seed: int) -> SandboxStore:
    return small_store(seed=seed % 1000, customers=20, orders=90, reviews=15, comments=15)


@pytest.fixture
def spending(soak: Config, store: SandboxStore) -> Config:  # noqa: F811
    """The first soak's config with redemptions, expiry and a stamp card on two products."""
    products = sorted(p["id"] for p in store.all("products"))[:2]
    card = StampCard(name="soak", product_ids=frozenset(products), stamps_for_reward=3)
    return replace(
        soak,
        redemption=REDEMPTION,
        expiry=EXPIRY,
        rewards=RewardsConfig(stamp_cards=(card,)),
    )


@pytest.fixture
def clock(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Set the time for the store and for everything that dates what the ledger records (the
    sync's clock, its redeemer's, `loyalty redeem`'s), days away from this machine's: the
    store's `Date` is believed however far off it is (`sync.store_clock.MAX_PLAUSIBLE_SKEW`),
    so that the soak can live through weeks in a few seconds."""
    monkeypatch.setattr("sync.store_clock.MAX_PLAUSIBLE_SKEW", timedelta(days=3650))

    def set_time(moment: datetime) -> None:
        shift = moment - datetime.now(UTC)
        sandbox.set_clock_skew(shift.total_seconds())

        def shifted() -> datetime:
            return (datetime.now(UTC) + shift).replace(microsecond=0)

        for where in ("sync.context", "sync.redemption_steps", "loyalty.redeem"):
            monkeypatch.setattr(f"{where}.wall_clock", shifted)

    return set_time


class CouponShop(Shop):
    """The first soak's shop, and customers spending their points: redemptions by the admin and
    from the storefront, coupons used in orders and those orders undone, coupons trashed,
    deleted or expired by the shop manager, and coffee bought for the stamp card."""

    def __init__(
        self,
        store: SandboxStore,
        rng: random.Random,
        config: Config,
        engine: Engine,
        store_id: int,
    ) -> None:
        super().__init__(store, rng)
        self.config = config
        self.engine = engine
        self.store_id = store_id
        self.card_products = sorted(config.rewards.stamp_cards[0].product_ids)
        self.requests = 0
        self.asked: list[tuple[int, dict[str, Any]]] = []  # storefront requests made
        self.restored: set[int] = set()  # coupons restored from the trash

    def spend(self, count: int) -> list[str]:
        """`count` random changes of this soak's kind; what was done, for the failure message."""
        self.done = []
        actions: list[tuple[Callable[[], None], int]] = [
            (self.redeem, 6),
            (self.ask_storefront, 4),
            (self.use_coupon, 5),
            (self.undo_coupon_order, 3),
            (self.trash_coupon, 1),
            (self.restore_coupon, 1),
            (self.delete_coupon, 1),
            (self.expire_coupon, 1),
            (self.buy_coffee, 3),
        ]
        for _ in range(count):
            action = self.rng.choices([a for a, _ in actions], [w for _, w in actions])[0]
            try:
                action()
            except SandboxError as refused:
                self.done.append(f"  refused: {refused}")
        return self.done

    def _wealthy(self) -> list[tuple[int, int]]:
        """(account, balance) of the accounts in the store with points to spend."""
        live = set(self._accounts())
        return sorted(
            (row.customer_id, row.balance)
            for row in balances_of(self.config, self.engine)
            if row.customer_id in live and row.balance >= REDEMPTION.minimum_points
        )

    def _asking(self) -> dict[str, Any]:
        """What a customer asks for: a tier, or a number of points (now and then too many)."""
        if self.rng.random() < 0.6:
            return {"tier": self.rng.choice(["5-off", "5-off", "20-off", "50-off"])}
        return {"points": self.rng.choice([10, 20, 36, 60, 150])}

    def redeem(self) -> None:
        wealthy = self._wealthy()
        if not wealthy:
            return
        account, balance = self.rng.choice(wealthy)
        asked = self._asking()
        request = Request(wc_customer_id=account, email="", **asked)
        try:
            outcome = redeem_once(self.config, self.engine, self.store_id, request)
        except RedemptionRefused as refused:
            self._note(f"account {account} ({balance}) redeems {asked}: refused, {refused}")
            return
        self._note(
            f"account {account} ({balance}) redeems {asked}: redemption"
            f" {outcome.redemption_id} {outcome.status} {outcome.code} {outcome.amount}"
        )

    def ask_storefront(self) -> None:
        if self.asked and self.rng.random() < 0.25:  # the same form sent again, or its id reused
            account, body = self.rng.choice(self.asked)
            if self.rng.random() < 0.5:
                body = {"id": body["id"], **self._asking()}
            if self.store.customer_id_by_email(self.store.get("customers", account)["email"]):
                self._write_request(account, body)
            return
        wealthy = self._wealthy()
        accounts = [a for a, _ in wealthy] if wealthy and self.rng.random() < 0.8 else []
        account = self.rng.choice(accounts or self._accounts())
        self.requests += 1
        body = {"id": f"s-{self.requests}", **self._asking()}
        self.asked.append((account, body))
        self._write_request(account, body)

    def _write_request(self, account: int, body: dict[str, Any]) -> None:
        meta = [{"key": "loyalty_redeem_request", "value": json.dumps(body)}]
        self.store.update_customer(account, {"meta_data": meta})
        self._note(f"account {account} asks the storefront for {body}")

    def _coupons(self, *statuses: str) -> list[dict[str, Any]]:
        """The store's coupons naming a redemption, in these statuses (any, without)."""
        return [
            c
            for c in self.store.all("coupons")
            if _redemption_of(c) is not None and (not statuses or c["status"] in statuses)
        ]

    def use_coupon(self) -> None:
        unused = [c for c in self._coupons("publish") if c["usage_count"] == 0]
        if not unused:
            return
        coupon = self.rng.choice(unused)
        [email] = coupon["email_restrictions"]
        account = self.store.customer_id_by_email(email)
        items = self._items()
        if coupon["product_ids"]:  # a stamp card's free coffee
            items = [(self.rng.choice(coupon["product_ids"]), 1), *items]
        status = self.rng.choice(["completed", "completed", "processing", "on-hold", "pending"])
        if account is not None and self.rng.random() < 0.8:
            order = self.store.place_order(
                customer_id=account, items=items, status=status, coupon_code=coupon["code"]
            )
        else:  # as a guest, with the email the coupon is for
            order = self.store.place_order(
                email=email, items=items, status=status, coupon_code=coupon["code"]
            )
        self._note(
            f"order {order['id']} ({order['customer_id'] or email}) uses coupon {coupon['id']}"
            f" {coupon['code']} (redemption {_redemption_of(coupon)}): {order['status']}"
        )

    def undo_coupon_order(self) -> None:
        orders = [o for o in self._orders() if o["coupon_lines"]]
        if not orders:
            return
        order = self.rng.choice(orders)
        what = self.rng.choice(["cancelled", "refunded", "trash", "deleted", "completed"])
        if what == "trash":
            self.store.delete_order(order["id"], force=False)
        elif what == "deleted":
            self.store.delete_order(order["id"], force=True)
        else:
            self.store.set_order_status(order["id"], what)
        codes = [line["code"] for line in order["coupon_lines"]]
        self._note(f"order {order['id']} using {codes}: {order['status']} -> {what}")

    def trash_coupon(self) -> None:
        live = self._coupons("publish")
        if live:
            coupon = self.rng.choice(live)
            self.store.delete_coupon(coupon["id"], force=False)
            self._note(f"coupon {coupon['id']} ({coupon['usage_count']} uses) trashed")

    def restore_coupon(self) -> None:
        trashed = self._coupons("trash")
        if trashed:
            coupon = self.rng.choice(trashed)
            self.store.update_coupon(coupon["id"], {"status": "publish"})
            self.restored.add(coupon["id"])
            self._note(f"coupon {coupon['id']} ({coupon['usage_count']} uses) restored")

    def delete_coupon(self) -> None:
        coupons = self._coupons()
        if coupons:
            coupon = self.rng.choice(coupons)
            self.store.delete_coupon(coupon["id"], force=True)
            self._note(
                f"coupon {coupon['id']} ({coupon['status']}, {coupon['usage_count']} uses)"
                " deleted outright"
            )

    def expire_coupon(self) -> None:
        live = self._coupons("publish")
        if live:
            coupon = self.rng.choice(live)
            ends = self.store.now() - timedelta(hours=self.rng.randint(1, 30))
            self.store.update_coupon(coupon["id"], {"date_expires_gmt": ends.isoformat()})
            self._note(f"coupon {coupon['id']} ({coupon['usage_count']} uses) expires {ends}")

    def buy_coffee(self) -> None:
        coffee = [(self.rng.choice(self.card_products), self.rng.randint(1, 3))]
        status = self.rng.choice(["completed", "completed", "processing"])
        if self.rng.random() < 0.8:
            customer = self.rng.choice(self._accounts())
            order = self.store.place_order(customer_id=customer, items=coffee, status=status)
        else:
            customer = self.rng.choice(self.guests)
            order = self.store.place_order(email=customer, items=coffee, status=status)
        self._note(f"order {order['id']} by {customer}: coffee {coffee}, {status}")


def _redemption_of(coupon: dict[str, Any]) -> str | None:
    found = [m["value"] for m in coupon["meta_data"] if m["key"] == REDEMPTION_META_KEY]
    return str(found[0]) if found else None


def redemption_problems(
    engine: Engine, store: SandboxStore, now: datetime, restored: set[int]
) -> list[str]:
    """What breaks the redemptions' invariants (see the module's docstring), one line each. A
    coupon closed unused and then `restored` from the trash by the shop manager is live, its
    points returned, until a use takes them again (README, Redemptions, Used after all)."""
    problems: list[str] = []
    with session_scope(engine) as session:
        rows = list(session.execute(select(Redemption).order_by(Redemption.id)).scalars())
        nets: dict[str, int] = defaultdict(int)
        for ref, points in session.execute(
            select(PointEntry.source_ref, func.sum(PointEntry.points))
            .where(
                PointEntry.source_ref.like("redemption:%"),
                PointEntry.kind == SourceKind.REDEMPTION.value,
            )
            .group_by(PointEntry.source_ref)
        ):
            nets[ref] = int(points)
        session.expunge_all()
    coupons = {c["id"]: c for c in store.all("coupons")}
    named = {_redemption_of(c): c for c in coupons.values() if _redemption_of(c) is not None}
    ledger = {str(row.id): row for row in rows}
    for row in rows:
        want = -row.points if row.status in SPENDING else 0
        if nets[f"redemption:{row.id}"] != want:
            problems.append(
                f"redemption {row.id} {row.status}: its entries net"
                f" {nets[f'redemption:{row.id}']}, not {want}"
            )
        coupon = coupons.get(row.coupon_id) if row.coupon_id is not None else None
        if row.status in (PENDING, REFUSED):
            continue
        if coupon is None:
            if row.status == ISSUED:
                problems.append(f"redemption {row.id} issued: coupon {row.coupon_id} is gone")
            continue
        if (coupon["code"], D(coupon["amount"])) != (row.code, D(row.amount)):
            problems.append(
                f"redemption {row.id} {row.code} {row.amount}: coupon {coupon['id']} is"
                f" {coupon['code']} {coupon['amount']}"
            )
        expires = coupon["date_expires_gmt"]
        expired = expires is not None and datetime.fromisoformat(expires + "+00:00") <= now
        live, used = coupon["status"] == "publish" and not expired, coupon["usage_count"] > 0
        if row.status == ISSUED and (not live or used):
            problems.append(
                f"redemption {row.id} issued: coupon {coupon['id']} {coupon['status']},"
                f" expires {expires}, {coupon['usage_count']} uses"
            )
        elif row.status == USED and not used:
            problems.append(f"redemption {row.id} used: coupon {coupon['id']} has no use")
        elif row.status in CLOSED_UNUSED and (used or (live and coupon["id"] not in restored)):
            problems.append(
                f"redemption {row.id} {row.status}: coupon {coupon['id']} {coupon['status']},"
                f" expires {expires}, {coupon['usage_count']} uses"
            )
    for redemption_id, coupon in named.items():
        row = ledger.get(str(redemption_id))
        if row is None or row.coupon_id != coupon["id"]:
            problems.append(
                f"coupon {coupon['id']} {coupon['code']} names redemption {redemption_id}, which"
                f" {'does not exist' if row is None else f'holds coupon {row.coupon_id}'}"
            )
    return problems


def equation_problems(config: Config, engine: Engine) -> list[str]:
    """The status report over all time: balanced, and its closing total every balance summed."""
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        report = points_status(session, store_id, Period(), point_value=D(1))
        total = session.execute(
            select(func.coalesce(func.sum(Balance.balance), 0)).where(Balance.store_id == store_id)
        ).scalar_one()
    problems = []
    if not report.balanced:
        problems.append(f"unbalanced: {report.opening} + {report.movements} != {report.closing}")
    if report.closing != int(total):
        problems.append(f"closing {report.closing} != the balances' sum {total}")
    return problems


def days_of(start: datetime, rng: random.Random) -> Iterator[datetime]:
    """Each round's moment: one to four days later, between 06:00 and 18:00 (no run straddles
    a midnight, whatever the machine's speed)."""
    day = start.date()
    for _ in range(ROUNDS):
        day += timedelta(days=rng.randint(1, 4))
        yield datetime.combine(day, datetime.min.time(), start.tzinfo) + timedelta(
            hours=rng.randint(6, 17), minutes=rng.randint(0, 59)
        )


def expire_as_the_worker_does(config: Config, engine: Engine, day: date, now: datetime) -> None:
    """`worker.expire_points_task`: the day's expiry, before the sync's own step."""
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        run_expiry(session, store_id, config.expiry, as_of=day, now=now)


@pytest.mark.slow
def test_seeded_soak_never_both_returns_and_spends_a_redemptions_points(
    seed: int,
    store: SandboxStore,
    spending: Config,
    engine_for: Callable[[], Engine],
    clock: Callable[[datetime], None],
) -> None:
    engine = engine_for()
    settings = sync_settings(spending)
    clock(START)
    first = run_sync(settings, engine=engine)
    assert first.ok, first.errors
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, spending.require_store().key).id
    rng = random.Random(seed)
    shop = CouponShop(store, rng, spending, engine, store_id)
    log: list[str] = []
    for round_, moment in enumerate(days_of(START, random.Random(seed + 1))):
        clock(moment)
        log += [f"round {round_} at {moment}:", *shop.act(SHOP_ACTIONS)]
        log += shop.spend(COUPON_ACTIONS)
        if rng.random() < 0.3:
            expire_as_the_worker_does(spending, engine, moment.date(), moment)
            log.append("  the worker's expiry ran")
        story = "\n".join(log)
        sync_settled(settings, engine, story)
        assert meta_differences(store, picture(spending, engine)) == {}, story
        assert redemption_problems(engine, store, store.now(), shop.restored) == [], story
        assert equation_problems(spending, engine) == [], story
