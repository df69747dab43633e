"""Redemptions against the sandbox store: the seeds' figures, the coupon's fields, refusals,
and what an unreachable or refusing store leaves (a process killed at each step:
test_redemption_kill.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.admin import adjust
from ledger.balances import verify_balances
from ledger.customers import get_or_create_store
from ledger.models import PointEntry, Redemption
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.errors import StoreRejected, StoreUnavailable
from loyalty.sync_settings import make_client
from rules.redemption import RedemptionRules, RedemptionTier
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync import redemptions as service
from sync.client import StoreClient
from sync.coupons import REDEMPTION_META_KEY, CouponSpec, coupon_body
from sync.redemptions import Outcome, Redeemer, RedemptionRefused, RedemptionSettings, Request

D = Decimal
TIERS = RedemptionRules(
    tiers=(RedemptionTier("10-off", 1000, D("10.00")), RedemptionTier("40-off", 3400, D("40.00")))
)
RATE = RedemptionRules(points_per_unit=100, minimum_points=500, step=100)
EMAIL = "alice@example.com"


@pytest.fixture
def store() -> SandboxStore:
    shop = SandboxStore()
    shop.register_customer(email=EMAIL, first_name="Alice")
    shop.create_coupon({"code": "welcome10", "discount_type": "percent", "amount": "10"})
    return shop


@pytest.fixture
def alice(store: SandboxStore) -> int:
    found = store.customer_id_by_email(EMAIL)
    assert found is not None
    return found


@pytest.fixture
def tiered(config: Config) -> Config:
    return replace(config, redemption=TIERS)


@pytest.fixture
def ledger_engine(engine_for: Callable[[], Engine]) -> Engine:
    return engine_for()


def give(config: Config, engine: Engine, wc_id: int, points: int) -> int:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        adjust(session, store_id, wc_id, points, "test points", now=service_now())
    return store_id


def service_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def redeemer(
    config: Config,
    engine: Engine,
    store_id: int,
    *,
    client: Any = None,
    claim_seconds: float = 600,
    at: datetime | None = None,
) -> Redeemer:
    """A redeemer of the store, at this moment (or always `at`)."""
    return Redeemer(
        client or make_client(config.require_store()),
        lambda: session_scope(engine),
        store_id,
        RedemptionSettings(config.redemption, claim_seconds=claim_seconds),
        now=(lambda: at) if at is not None else service_now,
    )


def answer_lost(
    config: Config, engine: Engine, store_id: int, wc_id: int, *, claim_seconds: float = 600
) -> Outcome:
    """A 10-off redemption whose POST created the coupon and whose answer was lost: pending,
    with the coupon live in the store."""
    real = make_client(config.require_store())

    def created_then_lost(endpoint: str, data: Any) -> Any:
        real.post(endpoint, data)
        raise StoreUnavailable("POST /wp-json/wc/v3/coupons: no complete answer within 10s")

    client = FlakyClient(real, post=created_then_lost)
    return redeemer(config, engine, store_id, client=client, claim_seconds=claim_seconds).redeem(
        Request(wc_id, EMAIL, tier="10-off")
    )


def ours(store: SandboxStore, redemption_id: int) -> list[dict[str, Any]]:
    """Coupons in the store whose meta names this redemption."""
    return [
        c
        for c in store.all("coupons")
        if any(
            m["key"] == REDEMPTION_META_KEY and m["value"] == str(redemption_id)
            for m in c["meta_data"]
        )
    ]


def redemption_entries(engine: Engine, redemption_id: int) -> list[tuple[int, str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(PointEntry.points, PointEntry.idempotency_key)
            .where(PointEntry.source_ref == f"redemption:{redemption_id}")
            .order_by(PointEntry.id)
        )
        return [(p, k) for p, k in rows]


def redemption(engine: Engine, redemption_id: int) -> Redemption:
    with session_scope(engine) as session:
        row = session.get(Redemption, redemption_id)
        assert row is not None
        session.expunge(row)
        return row


def consistent(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert verify_balances(session) == []


# --- the seeds' figures -------------------------------------------------------------------------


def test_1000_points_give_a_10_coupon_for_that_customer_only(
    tiered: Config, ledger_engine: Engine, store: SandboxStore, alice: int
) -> None:
    store_id = give(tiered, ledger_engine, alice, 1000)

    outcome = redeemer(tiered, ledger_engine, store_id).redeem(Request(alice, EMAIL, tier="10-off"))

    assert (outcome.status, outcome.amount, outcome.points, outcome.balance) == (
        "issued",
        D("10.00"),
        1000,
        0,
    )
    [coupon] = ours(store, outcome.redemption_id)
    assert coupon["code"] == outcome.code
    assert {k: coupon[k] for k in ("discount_type", "amount", "email_restrictions")} == {
        "discount_type": "fixed_cart",
        "amount": "10.00",
        "email_restrictions": [EMAIL],
    }
    assert (coupon["usage_limit"], coupon["usage_limit_per_user"]) == (1, 1)
    assert coupon["individual_use"] is False
    assert coupon["date_expires_gmt"] == outcome.expires.strftime("%Y-%m-%dT%H:%M:%S")
    assert (outcome.expires - service_now()).days in (89, 90)
    assert f"redemption {outcome.redemption_id}" in coupon["description"]
    assert redemption_entries(ledger_engine, outcome.redemption_id) == [
        (-1000, f"redemption:{outcome.redemption_id}#1")
    ]
    assert redemption(ledger_engine, outcome.redemption_id).coupon_id == coupon["id"]
    consistent(ledger_engine)


def test_at_the_rate_1000_points_give_10_and_individual_use_is_passed_on(
    config: Config, ledger_engine: Engine, store: SandboxStore, alice: int
) -> None:
    rate = replace(config, redemption=replace(RATE, individual_use=True, code_prefix="pts-"))
    store_id = give(rate, ledger_engine, alice, 1234)

    outcome = redeemer(rate, ledger_engine, store_id).redeem(Request(alice, EMAIL, points=1000))

    assert (outcome.amount, outcome.balance) == (D("10.00"), 234)
    [coupon] = ours(store, outcome.redemption_id)
    assert coupon["individual_use"] is True
    assert coupon["code"].startswith("pts-")


def test_with_the_tiered_table_3400_points_give_40(
    tiered: Config, ledger_engine: Engine, store: SandboxStore, alice: int
) -> None:
    store_id = give(tiered, ledger_engine, alice, 3400)

    outcome = redeemer(tiered, ledger_engine, store_id).redeem(Request(alice, EMAIL, tier="40-off"))

    assert (outcome.amount, outcome.points, outcome.balance) == (D("40.00"), 3400, 0)
    assert ours(store, outcome.redemption_id)[0]["amount"] == "40.00"


def test_999_points_are_refused_saying_1_is_missing_and_nothing_changes(
    tiered: Config, ledger_engine: Engine, sandbox: SandboxServer, store: SandboxStore, alice: int
) -> None:
    store_id = give(tiered, ledger_engine, alice, 999)
    coupons_before = store.count("coupons")

    with pytest.raises(RedemptionRefused) as refused:
        redeemer(tiered, ledger_engine, store_id).redeem(Request(alice, EMAIL, tier="10-off"))

    assert refused.value.missing == 1
    assert "1 point missing" in refused.value.reason
    assert store.count("coupons") == coupons_before
    assert sandbox.request_log.count() == 0
    with session_scope(ledger_engine) as session:
        assert session.execute(select(Redemption)).first() is None
        assert [e.kind for e in session.execute(select(PointEntry)).scalars()] == ["adjustment"]


# --- the store says no, or cannot be reached ------------------------------------------------------


class FlakyClient:
    """The real client, with one method replaced."""

    def __init__(self, real: StoreClient, **replaced: Callable[..., Any]) -> None:
        self.real = real
        self.replaced = replaced

    def __getattr__(self, name: str) -> Any:
        return self.replaced.get(name) or getattr(self.real, name)


def test_a_store_refusal_reverses_the_debit_with_an_entry_and_the_reason(
    tiered: Config, ledger_engine: Engine, store: SandboxStore, alice: int
) -> None:
    store_id = give(tiered, ledger_engine, alice, 1500)

    def refuse(endpoint: str, data: Any) -> Any:
        raise StoreRejected(
            "POST /wp-json/wc/v3/coupons rejected with HTTP 400: coupon_invalid_amount: Invalid",
            status=400,
            code="coupon_invalid_amount",
        )

    client = FlakyClient(make_client(tiered.require_store()), post=refuse)
    outcome = redeemer(tiered, ledger_engine, store_id, client=client).redeem(
        Request(alice, EMAIL, tier="10-off")
    )

    assert (outcome.status, outcome.balance) == ("refused", 1500)
    assert "coupon_invalid_amount" in (outcome.reason or "")
    entries = redemption_entries(ledger_engine, outcome.redemption_id)
    assert [points for points, _ in entries] == [-1000, 1000]
    assert ours(store, outcome.redemption_id) == []
    consistent(ledger_engine)


def test_an_unreachable_store_leaves_the_redemption_pending_and_the_next_sync_finishes_it(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
    sync: Callable[..., Any],
) -> None:
    store_id = give(tiered, ledger_engine, alice, 1000)

    def unavailable(endpoint: str, params: Any = None) -> Any:
        raise StoreUnavailable("GET /wp-json/wc/v3/coupons: store unavailable after 3 attempt(s)")

    client = FlakyClient(make_client(tiered.require_store()), get=unavailable)
    outcome = redeemer(tiered, ledger_engine, store_id, client=client).redeem(
        Request(alice, EMAIL, tier="10-off")
    )
    assert (outcome.status, outcome.balance) == ("pending", 0)
    assert "unavailable" in (outcome.reason or "")

    summary = sync(tiered)

    assert summary.redemptions["issued"] == 1
    assert redemption(ledger_engine, outcome.redemption_id).status == "issued"
    assert len(ours(store, outcome.redemption_id)) == 1
    assert sync(tiered).redemptions.get("issued", 0) == 0


def test_a_code_taken_by_another_coupon_refuses_the_redemption_and_returns_the_points(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_id = give(tiered, ledger_engine, alice, 1000)
    monkeypatch.setattr(service, "new_coupon_code", lambda prefix: "welcome10")

    outcome = redeemer(tiered, ledger_engine, store_id).redeem(Request(alice, EMAIL, tier="10-off"))

    assert (outcome.status, outcome.balance) == ("refused", 1000)
    assert "belongs to another coupon" in (outcome.reason or "")
    assert store.get("coupons", store.coupon_id_by_code("welcome10") or 0)["amount"] == "10.00"


def test_code_already_exists_is_resolved_by_looking_the_code_up_again(
    tiered: Config, ledger_engine: Engine, store: SandboxStore, alice: int
) -> None:
    """A lookup that missed (a replica lagging, a race) and a POST the store refuses as a
    duplicate: the coupon found by code names our redemption, so it is ours."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    real = make_client(tiered.require_store())
    misses = iter([True])

    def lagging_get(endpoint: str, params: Any = None) -> Any:
        page = real.get(endpoint, params)
        if endpoint == "coupons" and next(misses, False):
            real.post("coupons", {**_body_of_pending(ledger_engine), "code": params["code"]})
            return replace(page, items=[])
        return page

    client = FlakyClient(real, get=lagging_get)
    outcome = redeemer(tiered, ledger_engine, store_id, client=client).redeem(
        Request(alice, EMAIL, tier="10-off")
    )

    assert outcome.status == "issued"
    assert len(ours(store, outcome.redemption_id)) == 1
    assert redemption_entries(ledger_engine, outcome.redemption_id) == [
        (-1000, f"redemption:{outcome.redemption_id}#1")
    ]


def _body_of_pending(engine: Engine) -> dict[str, Any]:
    """The coupon the pending redemption's own POST would create."""
    with session_scope(engine) as session:
        row = session.execute(select(Redemption)).scalar_one()
        spec = CouponSpec(
            redemption_id=row.id,
            code=row.code,
            amount=Decimal(row.amount),
            email=row.email,
            expires_at=row.expires_at,
            individual_use=False,
            description="",
        )
        return coupon_body(spec)


# --- kill at each step: tests/e2e/test_redemption_kill.py (a real process, SIGKILLed) -----------


def test_a_live_claim_keeps_the_sync_off_a_redemption_another_process_is_issuing(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
    sync: Callable[..., Any],
) -> None:
    store_id = give(tiered, ledger_engine, alice, 1000)
    opened = redeemer(tiered, ledger_engine, store_id).open(Request(alice, EMAIL, tier="10-off"))

    summary = sync(tiered)

    assert summary.redemptions["still_pending"] == 1
    assert ours(store, opened) == []
    assert redemption(ledger_engine, opened).status == "pending"


@pytest.mark.parametrize("claim_lapsed", [False, True])
def test_a_replayed_request_leaves_a_redemption_claimed_by_another_process_to_it(
    claim_lapsed: bool,
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,
    alice: int,
) -> None:
    store_id = give(tiered, ledger_engine, alice, 1000)
    request = Request(alice, EMAIL, tier="10-off", channel="storefront", request_key="sf:1:r-1")
    other = redeemer(tiered, ledger_engine, store_id, claim_seconds=0 if claim_lapsed else 600)
    opened = other.open(request)

    outcome = redeemer(tiered, ledger_engine, store_id).redeem(request)

    assert outcome.redemption_id == opened
    assert outcome.status == ("issued" if claim_lapsed else "pending")
    assert len(ours(store, opened)) == (1 if claim_lapsed else 0)
    assert redemption_entries(ledger_engine, opened) == [(-1000, f"redemption:{opened}#1")]


# --- concurrency within one process -------------------------------------------------------------


def test_two_concurrent_requests_exceeding_the_balance_give_one_coupon_and_one_refusal(
    tiered: Config, ledger_engine: Engine, store: SandboxStore, alice: int
) -> None:
    store_id = give(tiered, ledger_engine, alice, 1500)
    start = threading.Barrier(2)
    results: list[str] = []

    def one() -> None:
        start.wait()
        try:
            results.append(
                redeemer(tiered, ledger_engine, store_id)
                .redeem(Request(alice, EMAIL, tier="10-off"))
                .status
            )
        except RedemptionRefused as refused:
            results.append(f"refused, {refused.missing} missing")

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(results) == ["issued", "refused, 500 missing"]
    assert len([c for c in store.all("coupons") if c["code"] != "welcome10"]) == 1
    consistent(ledger_engine)
