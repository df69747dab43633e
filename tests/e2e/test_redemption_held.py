"""Redemptions held, cancelled, quarantined or used in unexpected ways: a second review of the day's
redemption fixes (4 Dec) found each of these failing; each docstring says how it went wrong."""

# ruff: noqa: F811 (the fixtures imported from the redemption tests are parameters here)
from __future__ import annotations

import contextlib
import re
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine, func, select

from ledger.models import Redemption
from ledger.redemptions import unlisted
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import make_client
from sandbox.store import SandboxStore
from sync.redemptions import RedemptionRefused, Request
from tests.e2e.test_redemption import (  # noqa: F401
    EMAIL,
    TIERS,
    FlakyClient,
    alice,
    answer_lost,
    give,
    ours,
    redeemer,
    redemption,
    store,
)
from tests.e2e.test_redemption_hostile import (  # noqa: F401
    _issue_now,
    _track,
    coffee,
    ledger_engine,
    live_coupons,
    now,
    points_taken,
    tiered,
)


def _post_at_100(real: Any) -> Any:
    def post(endpoint: str, data: Any) -> Any:
        return real.post(endpoint, {**data, "amount": "100.00"})

    return post


def _held(tiered: Config, engine: Engine, alice: int) -> tuple[int, Redemption]:
    store_id = give(tiered, engine, alice, 1000)
    real = make_client(tiered.require_store())
    outcome = redeemer(
        tiered, engine, store_id, client=FlakyClient(real, post=_post_at_100(real))
    ).redeem(Request(alice, EMAIL, tier="10-off"))
    held = redemption(engine, outcome.redemption_id)
    assert (held.status, held.coupon_id is not None) == ("pending", True)
    return store_id, held


# --- 1. lifecycle: a coupon answered with an id of the wrong type is read as deleted --------------


def test_lifecycle_coupon_with_a_text_id_is_quarantined_not_taken_for_deleted(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
    coffee: int,
) -> None:
    """`track_redemptions` keeps a coupon unmoved only if `valid_id(item.raw)` names it; an item
    whose `id` is "44" (text) has no valid id, so it is neither in `unreadable` nor in `found`:
    `close_unused(DELETED)` returns the 1000 points for a coupon that is live and was used."""
    outcome = _issue_now(tiered, ledger_engine, alice)
    store.place_order(
        customer_id=alice, items=[(coffee, 1)], status="pending", coupon_code=outcome.code
    )
    real = make_client(tiered.require_store())

    def get_by_ids(endpoint: str, ids: Any, params: Any = None, **kw: Any) -> list[Any]:
        return [{**c, "id": str(c["id"])} for c in real.get_by_ids(endpoint, ids, params, **kw)]

    _track(tiered, ledger_engine, FlakyClient(real, get_by_ids=get_by_ids), now())

    row = redemption(ledger_engine, outcome.redemption_id)
    assert points_taken(ledger_engine, outcome.redemption_id) == 1000, row.status


# --- 2. a lookup answer without meta after a lost POST answer refuses a live coupon ---------------


def test_lookup_answer_without_meta_after_a_lost_post_answer_keeps_the_points(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
) -> None:
    """The plugin that strips `meta_data` from the POST answer (68ed6ba's premise) strips it from
    GET answers too. POST creates the coupon, its answer is lost; the retry's `GET coupons?code=`
    lists it without meta: `_create_coupon` reads `redemption_id None != id` and refuses the
    redemption ("belongs to another coupon"): 1000 points back, the coupon live."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    real = make_client(tiered.require_store())
    first = answer_lost(tiered, ledger_engine, store_id, alice)
    assert first.status == "pending"

    def get_without_meta(endpoint: str, params: Any = None) -> Any:
        page = real.get(endpoint, params)
        if endpoint.startswith("coupons") and isinstance(page.items, list):
            items = [{k: v for k, v in c.items() if k != "meta_data"} for c in page.items]
            return replace(page, items=items)
        return page

    redeemer(
        tiered, ledger_engine, store_id, client=FlakyClient(real, get=get_without_meta)
    ).finish_pending()

    assert len(live_coupons(store, first.redemption_id)) == 1
    row = redemption(ledger_engine, first.redemption_id)
    assert points_taken(ledger_engine, first.redemption_id) == 1000, (row.status, row.reason)


# --- 3. a held coupon is live: used, then deleted as the reason says, a second one is made --------


def _use(store: SandboxStore, alice: int, coffee: int, code: str) -> None:
    order = store.place_order(customer_id=alice, items=[(coffee, 1)], coupon_code=code)
    store.set_order_status(order["id"], "completed")


def test_a_held_coupon_used_and_then_deleted_is_not_replaced_by_a_second_coupon(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
    coffee: int,
) -> None:
    """Held (made at 100.00): the coupon is live in the store and the customer uses it. The
    lifecycle never reads pending redemptions, so the use is not seen. The shop manager deletes
    it as the held reason says ("once it is deleted a new one is created"): the next attempt
    creates a second coupon: two coupons used/usable for 1000 points."""
    store_id, held = _held(tiered, ledger_engine, alice)
    _use(store, alice, coffee, held.code)
    assert store.get("coupons", held.coupon_id)["usage_count"] == 1
    store.delete_coupon(held.coupon_id, force=False)

    redeemer(tiered, ledger_engine, store_id, claim_seconds=0).finish_pending()

    assert len(live_coupons(store, held.id)) == 0, "a second coupon for a redemption already used"


def test_cancel_of_a_held_coupon_that_was_used_then_trashed_gives_no_points_back(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
    coffee: int,
) -> None:
    """Same held coupon, used by a completed order. `--cancel` says "delete it in the store
    first"; the admin trashes it and cancels: 1000 points returned for a coupon that was used."""
    store_id, held = _held(tiered, ledger_engine, alice)
    _use(store, alice, coffee, held.code)
    store.delete_coupon(held.coupon_id, force=False)

    with contextlib.suppress(RedemptionRefused):  # refusing is right; giving points back is not
        redeemer(tiered, ledger_engine, store_id).cancel(held.id)

    assert points_taken(ledger_engine, held.id) == 1000, redemption(ledger_engine, held.id).status


# --- 4. cancel after trashing: a restored and used coupon never takes its points again ------------


def test_a_cancelled_redemptions_trashed_coupon_restored_and_used_takes_the_points_again(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
    coffee: int,
    sync: Any,
) -> None:
    """The POST created the coupon but its answer was lost; the admin trashes it (cancel's own
    advice) and cancels: refused, points back. Trash is restorable: restored and used, the
    coupon is followed for `deleted` redemptions (03512ad) but not for a cancelled one
    (`refused` is not in `_FOLLOWED`): a 10.00 discount with the 1000 points returned."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    first = answer_lost(tiered, ledger_engine, store_id, alice)
    [coupon] = live_coupons(store, first.redemption_id)
    store.delete_coupon(coupon["id"], force=False)
    cancelled = redeemer(tiered, ledger_engine, store_id).cancel(first.redemption_id)
    assert cancelled.status == "refused"

    store.update_coupon(coupon["id"], {"status": "publish"})
    _use(store, alice, coffee, first.code)
    sync(tiered)

    assert store.get("coupons", coupon["id"])["usage_count"] == 1
    assert points_taken(ledger_engine, first.redemption_id) == 1000


# --- 5. a coupon made without its usage limit is issued ---------------------------------------------


def test_a_coupon_made_without_its_usage_limit_is_not_issued(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
) -> None:
    """`differences` compares code, amount and discount type only. A plugin that drops
    `usage_limit` (and `email_restrictions`) makes a 10.00 coupon anyone can use any number of
    times; it is recorded `issued` for 1000 points."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    real = make_client(tiered.require_store())

    def post_unlimited(endpoint: str, data: Any) -> Any:
        body = {k: v for k, v in data.items() if k not in ("usage_limit", "usage_limit_per_user")}
        return real.post(endpoint, {**body, "email_restrictions": []})

    outcome = redeemer(
        tiered, ledger_engine, store_id, client=FlakyClient(real, post=post_unlimited)
    ).redeem(Request(alice, EMAIL, tier="10-off"))

    [coupon] = live_coupons(store, outcome.redemption_id)
    assert (coupon["usage_limit"], coupon["email_restrictions"]) != (1, [EMAIL])
    assert outcome.status != "issued", (coupon["usage_limit"], coupon["email_restrictions"])


# --- 6. the dashboard: the same request id for another customer is "redeemed" silently -----------


def test_dashboard_same_request_id_for_another_customer_is_not_reported_redeemed(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
) -> None:
    """The redeem form's key is `dashboard:{request_id}` without the customer, and `_same_request`
    compares only tier/points. The form reused for Bob (the browser's back button restores the
    hidden id; the admin changes the customer) finds Alice's redemption: 303 "redeemed" for Bob,
    who got nothing (the adjust form refuses the same case)."""
    from starlette.testclient import TestClient

    from loyalty.config import DashboardConfig, Secret
    from loyalty.web.dashboard import create_app

    bob = int(store.register_customer(email="bob@example.com", first_name="Bob")["id"])
    token = "t0ken-for-the-review-tests"
    cfg = replace(tiered, dashboard=DashboardConfig(admin_token=Secret(token)))
    give(cfg, ledger_engine, alice, 1000)
    give(cfg, ledger_engine, bob, 1000)
    client = TestClient(create_app(cfg, ledger_engine))
    [request_id] = re.findall(r'name="request_id" value="([^"]+)"', client.get("/").text)[:1]

    form = {"customer": str(alice), "tier": "10-off", "token": token, "request_id": request_id}
    assert client.post("/admin/redeem", data=form, follow_redirects=False).status_code == 303
    for_bob = client.post(
        "/admin/redeem", data={**form, "customer": str(bob)}, follow_redirects=False
    )

    with session_scope(ledger_engine) as session:
        redemptions = session.execute(select(func.count(Redemption.id))).scalar_one()
    assert for_bob.status_code >= 400 or redemptions == 2, (
        for_bob.status_code,
        for_bob.headers.get("location"),
        redemptions,
    )


# --- 7. an amount answered as a number holds the redemption for good -----------------------------


def test_differences_reads_an_amount_answered_as_a_number() -> None:
    """`read_coupon` keeps `amount` only when it is text; `differences` then says
    "amount None (asked: 10.00)" for a coupon of exactly 10 (a JSON number): held for good,
    and `--cancel` refuses while the coupon exists."""
    from sync.coupons import differences, read_coupon

    item = {
        "id": 5, "code": "abc", "usage_count": 0, "status": "publish",
        "amount": 10, "discount_type": "fixed_cart", "date_expires_gmt": None,
    }  # fmt: skip
    asked = {"code": "ABC", "amount": "10.00", "discount_type": "fixed_cart"}
    assert differences(read_coupon(item), asked) == []


# --- 8. a quarantined coupon whose redemption moves on is never released --------------------------


def test_a_quarantined_coupon_is_released_once_its_redemption_is_used(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
    coffee: int,
) -> None:
    """Quarantined for `usage_count` "1"; then the order completes and `_apply_orders` marks the
    redemption used. `_issued` never reads it again, so nothing ever releases its quarantine
    item: `loyalty quarantine` lists a coupon problem that no fix in the store can clear."""
    from ledger.models import QuarantinedItem
    from sync.redemption_lifecycle import CouponUses, track_redemptions

    outcome = _issue_now(tiered, ledger_engine, alice)
    order = store.place_order(
        customer_id=alice, items=[(coffee, 1)], status="pending", coupon_code=outcome.code
    )
    real = make_client(tiered.require_store())

    def get_by_ids(endpoint: str, ids: Any, params: Any = None, **kw: Any) -> list[Any]:
        found = real.get_by_ids(endpoint, ids, params, **kw)
        return [{**c, "usage_count": str(c["usage_count"])} for c in found]

    _track(tiered, ledger_engine, FlakyClient(real, get_by_ids=get_by_ids), now())
    store.set_order_status(order["id"], "completed")
    uses = CouponUses()
    uses.see([store.get("orders", order["id"])])
    with session_scope(ledger_engine) as session:
        store_id = session.execute(select(Redemption.store_id)).scalar_one()
    for _ in range(2):
        track_redemptions(
            real, lambda: session_scope(ledger_engine), store_id, uses,
            return_points=True, now=now(),
        )  # fmt: skip
    assert redemption(ledger_engine, outcome.redemption_id).status == "used"

    with session_scope(ledger_engine) as session:
        still_open = (
            session.execute(
                select(QuarantinedItem.item_ref).where(
                    QuarantinedItem.resource == "coupons", QuarantinedItem.resolved_at.is_(None)
                )
            )
            .scalars()
            .all()
        )
    assert still_open == [], still_open


# --- 8. a held coupon is not listed for the customer until it is issued ---------------------------


def test_a_held_storefront_coupon_is_listed_for_its_customer_only_once_issued(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
) -> None:
    """A storefront redemption whose coupon the store made at 100.00 (asked: 10.00) is held:
    pending, waiting for the shop manager, who may correct it or delete it (then a new coupon,
    with another code, is made). `unlisted` took every redemption with a coupon id, so the
    customer's `loyalty_coupons` meta showed a 10.00 code that the store held at 100.00."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    real = make_client(tiered.require_store())
    request = Request(alice, EMAIL, tier="10-off", channel="storefront", request_key="front:1")
    outcome = redeemer(
        tiered, ledger_engine, store_id, client=FlakyClient(real, post=_post_at_100(real))
    ).redeem(request)
    held = redemption(ledger_engine, outcome.redemption_id)
    assert (held.status, held.coupon_id is not None) == ("pending", True)

    def listed() -> list[int]:
        with session_scope(ledger_engine) as session:
            return [row.id for row, _ in unlisted(session, store_id)]

    assert listed() == []
    store.update_coupon(held.coupon_id, {"amount": "10.00"})  # the shop manager corrects it
    assert redeemer(tiered, ledger_engine, store_id, claim_seconds=0).finish_pending().issued == 1
    assert listed() == [held.id]
