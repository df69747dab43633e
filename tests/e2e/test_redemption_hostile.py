"""Redemptions against a store that answers badly, end to end: no point is lost or given twice, no
coupon differs from the points taken, and no answer crashes the run (found by a review, 4 Dec:
each test failed on the code before it; each docstring says what went wrong)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.models import Balance
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import make_client
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.redemptions import Outcome, Request
from tests.e2e.test_redemption import (  # noqa: F401 # fixtures and helpers
    EMAIL,
    TIERS,
    FlakyClient,
    alice,
    answer_lost,
    consistent,
    give,
    ours,
    redeemer,
    redemption,
    redemption_entries,
    store,
)

Sync = Callable[..., Any]


@pytest.fixture
def tiered(config: Config) -> Config:
    return replace(config, redemption=TIERS)


@pytest.fixture
def ledger_engine(engine_for: Callable[[], Engine]) -> Engine:
    return engine_for()


@pytest.fixture
def coffee(store: SandboxStore) -> int:  # noqa: F811
    category = store.add_category("Coffee")["id"]
    return int(
        store.add_product(name="Beans", price=Decimal("25.00"), category_ids=[category])["id"]
    )


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def balance(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(Balance.balance)).scalar_one())


def live_coupons(shop: SandboxStore, redemption_id: int) -> list[dict[str, Any]]:
    return [c for c in ours(shop, redemption_id) if c["status"] == "publish"]


def points_taken(engine: Engine, redemption_id: int) -> int:
    return -sum(p for p, _ in redemption_entries(engine, redemption_id))


# --- 1. A coupon created in the store, its points given back -------------------------------------


def test_a_created_coupon_whose_answer_lacks_the_meta_is_refused_and_its_points_returned(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    """POST coupons succeeds (201, the coupon is live in the store) but the answer does not echo
    `meta_data` (a plugin filtering the response, a stripped proxy answer). `_create_coupon`
    compares the ANSWER's meta with the redemption id and, not finding it, refuses the
    redemption as "the code belongs to another coupon": the 1000 points come back while the
    10.00 coupon stays live for the customer. A coupon given without taking the points."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    real = make_client(tiered.require_store())

    def post_without_meta(endpoint: str, data: Any) -> Any:
        page = real.post(endpoint, data)
        if endpoint == "coupons" and isinstance(page.items, dict):
            return replace(page, items={k: v for k, v in page.items.items() if k != "meta_data"})
        return page

    client = FlakyClient(real, post=post_without_meta)
    outcome = redeemer(tiered, ledger_engine, store_id, client=client).redeem(
        Request(alice, EMAIL, tier="10-off")
    )

    live = live_coupons(store, outcome.redemption_id)
    assert len(live) == 1  # the store did create it
    # exactly once: a live coupon of 10.00 must have its 1000 points taken
    assert points_taken(ledger_engine, outcome.redemption_id) == 1000, outcome
    consistent(ledger_engine)


def test_a_lookup_answer_of_the_wrong_type_after_a_lost_post_answer_returns_the_points(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    """The first attempt's POST creates the coupon but its answer is lost (timeout): pending, as
    designed. The next attempt looks the code up; the store's `GET coupons?code=` answer has an
    `id` of the wrong type (`"44"`). `fetch_coupon_by_code` silently takes that for "no such
    coupon", POSTs again, gets `woocommerce_rest_coupon_code_already_exists`, looks up again
    (same answer: None) and then treats the 400 as a refusal: the debit is reversed while the
    coupon created by the first attempt is live. Expected: an unusable lookup answer keeps the
    redemption pending (with an error naming the field), never refuses it."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    real = make_client(tiered.require_store())
    first = answer_lost(tiered, ledger_engine, store_id, alice)
    assert first.status == "pending"

    def get_with_string_ids(endpoint: str, params: Any = None) -> Any:
        page = real.get(endpoint, params)
        if endpoint == "coupons" and isinstance(page.items, list):
            items = [{**c, "id": str(c["id"])} for c in page.items]
            return replace(page, items=items)
        return page

    later = redeemer(
        tiered,
        ledger_engine,
        store_id,
        client=FlakyClient(real, get=get_with_string_ids),
        claim_seconds=0,
    )
    later.finish_pending()

    assert len(live_coupons(store, first.redemption_id)) == 1
    assert points_taken(ledger_engine, first.redemption_id) == 1000, redemption(
        ledger_engine, first.redemption_id
    ).reason


# --- 2. A hostile creation answer crashes instead of being set aside -----------------------------


@pytest.mark.parametrize(
    "answer",
    [{"code": "x"}, {"id": "12", "code": "x"}, [], "created"],
    ids=["no-id", "string-id", "list", "text"],
)
def test_a_creation_answer_that_is_no_coupon_does_not_crash_the_redemption(
    answer: Any,
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    """`push_coupon` raised a bare ValueError for an answer without an integer id and a code;
    `_create_coupon` caught only StoreError, so the ValueError escaped `redeem` (the CLI printed
    "internal error: ValueError", the dashboard answered 500, and in a sync `finish_redemptions`
    runs BEFORE every source, so the whole sync failed) and the claim was left held for ten
    minutes. Now the redemption stays pending, released, with a reason naming the field."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    real = make_client(tiered.require_store())

    def hostile_post(endpoint: str, data: Any) -> Any:
        page = real.post(endpoint, data)
        return replace(page, items=answer)

    hostile = redeemer(tiered, ledger_engine, store_id, client=FlakyClient(real, post=hostile_post))
    outcome: Outcome = hostile.redeem(Request(alice, EMAIL, tier="10-off"))

    row = redemption(ledger_engine, outcome.redemption_id)
    assert row.status == "pending"
    assert row.claimed_until is None  # released: the next sync may finish it at once
    assert "POST coupons: the answer is not a usable coupon" in (row.reason or "")
    if isinstance(answer, dict):  # the field it lacks is named
        assert "coupon id" in (row.reason or "")


def test_a_sync_is_not_stopped_by_one_pending_redemption_whose_creation_answer_is_nonsense(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    sandbox: SandboxServer,
    sync: Sync,
) -> None:
    """The same hostile POST answer met by the sync's first step: one redemption fails the whole
    sync (no order is read, no balance written back) every time its claim lapses."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    opened = redeemer(tiered, ledger_engine, store_id, claim_seconds=0).open(
        Request(alice, EMAIL, tier="10-off")
    )

    def hook(method: str, path: str, query: Any) -> Any:
        if method == "POST" and path.endswith("/coupons"):
            return "hostile=1,hostile_body=object"
        return None

    sandbox.before_request = hook
    try:
        summary = sync(tiered)
    finally:
        sandbox.before_request = None
    assert redemption(ledger_engine, opened).status == "pending"
    assert summary.redemptions.get("still_pending", 0) == 1


# --- 3. The coupon created is not the coupon asked for -------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"), [("amount", "100.00"), ("code", None)], ids=["amount", "code"]
)
def test_a_coupon_the_store_created_differently_is_not_recorded_as_issued(
    field: str,
    value: str | None,
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    """A plugin (or a hostile store) creates the coupon with another amount (100.00 for the
    1000 points of the 10.00 tier) or another code than the one asked for. `_create_coupon`
    checks only the meta's redemption id; `StoreCoupon` does not even parse `amount`, and the
    answer's code is never compared with the redemption's. The redemption is recorded `issued`:
    for the amount case the customer holds a 100.00 coupon for 1000 points; for the code case
    the code the admin is told (and the storefront lists) is no coupon at all in the store, so
    the 1000 points buy nothing. Expected: a mismatch is not `issued` (kept pending or refused
    with a reason naming the field)."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    real = make_client(tiered.require_store())

    def post_altered(endpoint: str, data: Any) -> Any:
        altered = dict(data)
        altered[field] = value if value is not None else data["code"] + "x"
        return real.post(endpoint, altered)

    outcome = redeemer(
        tiered, ledger_engine, store_id, client=FlakyClient(real, post=post_altered)
    ).redeem(Request(alice, EMAIL, tier="10-off"))

    [coupon] = live_coupons(store, outcome.redemption_id)
    mismatch = (coupon["amount"], coupon["code"]) != (f"{outcome.amount:.2f}", outcome.code)
    assert mismatch  # the store's coupon is not what the ledger records
    assert outcome.status != "issued", (coupon["amount"], coupon["code"], outcome)


# --- 4. Reading issued coupons: hostile fields give points back for live or used coupons ---------


def _issue_now(
    config: Config, engine: Engine, wc_id: int, *, at: datetime | None = None
) -> Outcome:
    store_id = give(config, engine, wc_id, 1000)
    return redeemer(config, engine, store_id, at=at).redeem(Request(wc_id, EMAIL, tier="10-off"))


def _track(config: Config, engine: Engine, client: Any, at: datetime) -> Any:
    from sync.redemption_lifecycle import CouponUses, track_redemptions

    with session_scope(engine) as session:
        store_id = session.execute(select(Balance.store_id)).scalar_one()
    return track_redemptions(
        client,
        lambda: session_scope(engine),
        store_id,
        CouponUses(),
        return_points=True,
        now=at,
    )


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda c: {**c, "usage_count": str(c["usage_count"])}, id="usage_count-text"),
        pytest.param(lambda c: {k: v for k, v in c.items() if k != "status"}, id="no-status"),
    ],
)
def test_a_coupon_read_with_a_field_of_the_wrong_type_gives_no_points_back(
    mangle: Callable[[dict[str, Any]], dict[str, Any]],
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
) -> None:
    """The coupon was used (a pending order holds it: WooCommerce counts the use, the lifecycle
    reads no pending order) and it is past its expiry when the sync reads it. The store answers
    `usage_count` as text ("1"), or leaves `status` out: `parse_coupon` silently takes the
    first for 0 and `_fetch_coupons` the second for "not published" = deleted. Either way the
    1000 points are returned for a coupon that was used (or is still live): given twice.
    Expected: the item set aside (quarantined) with an error naming the field, no points moved."""
    outcome = _issue_now(tiered, ledger_engine, alice)
    store.place_order(
        customer_id=alice, items=[(coffee, 1)], status="pending", coupon_code=outcome.code
    )
    coupon_id = redemption(ledger_engine, outcome.redemption_id).coupon_id
    assert store.get("coupons", coupon_id)["usage_count"] == 1
    real = make_client(tiered.require_store())

    def get_by_ids(endpoint: str, ids: Any, params: Any = None, **kw: Any) -> list[Any]:
        return [mangle(c) for c in real.get_by_ids(endpoint, ids, params, **kw)]

    _track(
        tiered,
        ledger_engine,
        FlakyClient(real, get_by_ids=get_by_ids),
        outcome.expires + timedelta(seconds=1),
    )

    assert points_taken(ledger_engine, outcome.redemption_id) == 1000, redemption(
        ledger_engine, outcome.redemption_id
    ).status


# --- 5. Expiry as the store judges it; a coupon used after its points came back --------------------


def test_a_store_clock_behind_ours_lets_a_coupon_be_used_after_its_points_came_back(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """The shop server's clock is 10 minutes behind this machine's (shared hosting differs by
    minutes). The coupon's expiry is a moment the STORE enforces on its clock, but the lifecycle
    compared the ledger's `expires_at` with this machine's `now`: one minute past it by our clock
    the points came back, while the store still accepted the coupon for nine minutes. The
    customer used it; the next sync saw the order but `_apply_orders` only looked at issued/used
    redemptions: 1000 points given back AND a 10.00 discount taken. Now the store's clock judges,
    and a use seen later takes the points again."""
    store.clock_skew = timedelta(minutes=-10)
    issued_at = now() - timedelta(days=90, seconds=60)  # expires 60 s ago by our clock
    outcome = _issue_now(tiered, ledger_engine, alice, at=issued_at)

    sync(tiered)
    assert redemption(ledger_engine, outcome.redemption_id).status == "issued"  # not yet, there

    order = store.place_order(customer_id=alice, items=[(coffee, 1)], coupon_code=outcome.code)
    store.set_order_status(order["id"], "completed")
    sync(tiered)

    coupon_id = redemption(ledger_engine, outcome.redemption_id).coupon_id
    assert store.get("coupons", coupon_id)["usage_count"] == 1  # the coupon was used
    assert points_taken(ledger_engine, outcome.redemption_id) == 1000


def test_an_expiry_extended_in_the_store_does_not_give_the_points_back_early(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """The shop manager extends the coupon's expiry in WooCommerce (a customer asked for more
    time). The lifecycle never read `date_expires_gmt`: at the ledger's original expiry the
    1000 points came back while the coupon stayed valid, and its later use was never followed."""
    issued_at = now() - timedelta(days=90, seconds=60)
    outcome = _issue_now(tiered, ledger_engine, alice, at=issued_at)
    coupon_id = redemption(ledger_engine, outcome.redemption_id).coupon_id
    later = (now() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S")
    store.update_coupon(coupon_id, {"date_expires_gmt": later})

    sync(tiered)
    order = store.place_order(customer_id=alice, items=[(coffee, 1)], coupon_code=outcome.code)
    store.set_order_status(order["id"], "completed")
    sync(tiered)

    assert store.get("coupons", coupon_id)["usage_count"] == 1
    assert points_taken(ledger_engine, outcome.redemption_id) == 1000, redemption(
        ledger_engine, outcome.redemption_id
    ).status


def test_a_coupon_restored_from_the_trash_and_used_takes_its_returned_points_again(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
    sync: Sync,
) -> None:
    """Trash is restorable in WooCommerce. Trashed: the sync returns the points (`deleted`).
    Restored and used at checkout: a deleted redemption was never looked at again (neither
    `_apply_orders` nor `_issued` read it), so the points stayed returned for a used coupon."""
    outcome = _issue_now(tiered, ledger_engine, alice)
    coupon_id = redemption(ledger_engine, outcome.redemption_id).coupon_id
    store.delete_coupon(coupon_id, force=False)
    sync(tiered)
    assert redemption(ledger_engine, outcome.redemption_id).status == "deleted"

    store.update_coupon(coupon_id, {"status": "publish"})
    order = store.place_order(customer_id=alice, items=[(coffee, 1)], coupon_code=outcome.code)
    store.set_order_status(order["id"], "completed")
    sync(tiered)

    assert points_taken(ledger_engine, outcome.redemption_id) == 1000


# --- 6. The dashboard's redemption: a resubmitted form buys one coupon --------------------------


def test_the_same_dashboard_redemption_submitted_twice_creates_one_coupon(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    """The admin's form POST is sent twice (a double click, the browser or a reverse proxy
    resending a request that took long: a redemption may wait minutes on the store). The form
    carried no request id and `loyalty.redeem` gave every admin redemption a fresh uuid key, so
    the retry was a new redemption: two coupons, 2000 points taken for one intended 10-off. The
    form now carries a one-time request id (`Request.request_key`): the same redemption."""
    from starlette.testclient import TestClient

    from loyalty.config import DashboardConfig, Secret
    from loyalty.web.dashboard import create_app

    token = "t0ken-for-the-review-tests"
    cfg = replace(tiered, dashboard=DashboardConfig(admin_token=Secret(token)))
    give(cfg, ledger_engine, alice, 2000)
    client = TestClient(create_app(cfg, ledger_engine))
    form = {"customer": str(alice), "tier": "10-off", "token": token}
    page = client.get("/").text

    [request_id] = re.findall(r'name="request_id" value="([^"]+)"', page)[:1]
    form["request_id"] = request_id

    first = client.post("/admin/redeem", data=form, follow_redirects=False)
    again = client.post("/admin/redeem", data=form, follow_redirects=False)

    assert (first.status_code, again.status_code) == (303, 303)
    mine = [c for c in store.all("coupons") if c["code"] != "welcome10"]
    assert len(mine) == 1, [c["code"] for c in mine]
    assert balance(ledger_engine) == 1000


# --- 7. PostgreSQL: the redemption's lock excludes other redemptions only ------------------------


def test_a_redemption_and_an_expiry_run_at_once_do_not_deadlock(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """README: writers lock balance rows first, so concurrent writers (sync, adjust, redeem,
    expire) never deadlock on PostgreSQL. But `lock_customer` took `SELECT ... FOR UPDATE` on the
    `customers` row FIRST, and every other writer, holding its balance-row lock, then inserts
    rows referencing that customer (point_entries, next_expiries): the foreign-key check takes
    FOR KEY SHARE on the customer row, which FOR UPDATE blocks. Interleaved: the redemption
    holds the customer row and has read the balance; `loyalty expire` locks the balance row and
    waits on the customer row; the redemption's debit waits on the balance row: deadlock, and
    PostgreSQL kills one of them (here `loyalty redeem` / the dashboard fails with an internal
    OperationalError). The same held for a sync or an adjust on that customer. Now a redemption
    locks the customer's balance row, as every writer does first, and the expiry locks the
    store's balance rows before it reads the entries it decides from."""
    import threading

    from ledger import redemptions as ledger_redemptions
    from ledger.customers import account_customer, get_or_create_store
    from ledger.entries import NewEntry, append_entry
    from ledger.kinds import SourceKind
    from rules.expiry import ExpiryRules
    from sync.expiry import run_expiry

    earned = now() - timedelta(days=400)
    with session_scope(ledger_engine) as session:
        store_id = get_or_create_store(session, tiered.require_store().key).id
        customer = account_customer(session, store_id, alice, email=EMAIL)
        append_entry(
            session,
            store_id,
            NewEntry(
                customer_id=customer.id,
                points=1000,
                kind=SourceKind.PURCHASE,
                source_ref="order:1",
                idempotency_key="order:1#1",
                occurred_at=earned,
                note=None,
            ),
            now=earned,
        )

    read, go = threading.Event(), threading.Event()
    real_spendable = ledger_redemptions.spendable_points

    def spendable_then_wait(session: Any, customer_id: int) -> int:
        points = real_spendable(session, customer_id)
        read.set()
        go.wait(10)
        return points

    monkeypatch.setattr(ledger_redemptions, "spendable_points", spendable_then_wait)
    errors: list[BaseException] = []

    def redeem() -> None:
        try:
            redeemer(tiered, ledger_engine, store_id).open(Request(alice, EMAIL, tier="10-off"))
        except BaseException as error:  # noqa: BLE001 # reported below
            errors.append(error)

    def expire() -> None:
        try:
            with session_scope(ledger_engine) as session:
                run_expiry(
                    session,
                    store_id,
                    ExpiryRules(enabled=True, days=365),
                    as_of=now().date(),
                    now=now(),
                )
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    redeeming = threading.Thread(target=redeem)
    redeeming.start()
    assert read.wait(10)
    expiring = threading.Thread(target=expire)
    expiring.start()
    expiring.join(3)  # committed, or waiting on a lock the redemption holds
    go.set()
    redeeming.join(30)
    expiring.join(30)

    assert errors == []
    # The expiry waited for the redemption and then read it: the points, past their expiry
    # (400 days old, 365 to live) when they were spent, expired all the same, and the balance
    # went below zero as the rules say (the sync's debt step takes it from there). Every cached
    # figure agrees with the entries.
    assert balance(ledger_engine) == -1000
    consistent(ledger_engine)


def test_a_coupon_held_for_its_amount_is_issued_once_corrected_and_never_made_twice(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    """The store made the 10.00 coupon at 100.00: held, pending, with the coupon's id. The next
    attempts read that coupon by id (no second one is created); once the shop manager corrects
    the amount, the redemption is issued with it."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    real = make_client(tiered.require_store())

    def post_at_100(endpoint: str, data: Any) -> Any:
        return real.post(endpoint, {**data, "amount": "100.00"})

    outcome = redeemer(
        tiered, ledger_engine, store_id, client=FlakyClient(real, post=post_at_100)
    ).redeem(Request(alice, EMAIL, tier="10-off"))
    held = redemption(ledger_engine, outcome.redemption_id)
    assert (held.status, held.coupon_id) == ("pending", live_coupons(store, held.id)[0]["id"])
    assert "amount 100.00 (asked: 10.00)" in (held.reason or "")

    again = redeemer(tiered, ledger_engine, store_id, claim_seconds=0)
    assert again.finish_pending().still_pending == 1  # still 100.00: held again, nothing new
    store.update_coupon(held.coupon_id, {"amount": "10.00"})
    assert again.finish_pending().issued == 1

    issued = redemption(ledger_engine, outcome.redemption_id)
    assert (issued.status, issued.coupon_id) == ("issued", held.coupon_id)
    assert len(ours(store, outcome.redemption_id)) == 1
    assert points_taken(ledger_engine, outcome.redemption_id) == 1000
    consistent(ledger_engine)


def test_a_coupon_used_and_then_trashed_stays_used(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,
) -> None:
    """A coupon used at checkout and then moved to the trash was read as deleted, and its 1000
    points came back: only a live coupon's use was counted."""
    outcome = _issue_now(tiered, ledger_engine, alice)
    store.place_order(
        customer_id=alice, items=[(coffee, 1)], status="pending", coupon_code=outcome.code
    )
    coupon_id = redemption(ledger_engine, outcome.redemption_id).coupon_id
    store.delete_coupon(coupon_id, force=False)

    _track(tiered, ledger_engine, make_client(tiered.require_store()), now())

    assert redemption(ledger_engine, outcome.redemption_id).status == "used"
    assert points_taken(ledger_engine, outcome.redemption_id) == 1000
