"""Points debt against the sandbox store: 50 points earned, all spent on a coupon, the order then
refunded. Each `[points] debt` policy gives its documented balance, meta and report figures, a
second sync changes nothing, and redemptions are refused while the customer owes points."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from ledger.balances import verify_balances
from ledger.customers import get_or_create_store
from ledger.models import PointEntry
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import make_client
from reports.period import Period
from reports.status import points_status
from rules.debt import DebtPolicy
from rules.redemption import RedemptionRules, RedemptionTier
from sandbox.store import SandboxStore
from sync.redemptions import Redeemer, RedemptionRefused, RedemptionSettings, Request
from sync.summary import SyncSummary
from tests.e2e.conftest import gift_shop, meta

Sync = Callable[..., SyncSummary]
EMAIL = "alice@example.com"
TIERS = RedemptionRules(tiers=(RedemptionTier("5-off", 50, Decimal("5.00")),))


@pytest.fixture
def store() -> SandboxStore:
    return gift_shop(EMAIL)


def redeemer(config: Config, engine: Engine) -> Redeemer:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
    return Redeemer(
        make_client(config.require_store()),
        lambda: session_scope(engine),
        store_id,
        RedemptionSettings(config.redemption),
        now=lambda: datetime.now(UTC).replace(microsecond=0),
    )


def status(config: Config, engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        report = points_status(session, store_id, Period(), point_value=Decimal("0.01"))
    assert report.balanced
    m = report.movements
    return {
        "earned": m.earned,
        "revoked": m.revoked,
        "redeemed": m.redeemed,
        "debt": m.debt,
        "written_off": m.written_off,
        "closing": report.closing,
        "debt_outstanding": report.debt_outstanding,
        "below_zero": report.below_zero,
    }


def debt_entries(engine: Engine) -> list[tuple[str, str, int]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(PointEntry.kind, PointEntry.idempotency_key, PointEntry.points)
            .where(PointEntry.kind.in_(["debt", "write_off"]))
            .order_by(PointEntry.id)
        )
        return [(kind, key.split(":")[0], points) for kind, key, points in rows]


REVOKED = {"earned": 50, "revoked": 50, "redeemed": 50}
EXPECTED = {
    DebtPolicy.ALLOW_NEGATIVE: {
        "balance": "-50",
        "entries": [],
        "status": {**REVOKED, "debt": 0, "written_off": 0, "closing": -50,
                   "debt_outstanding": 0, "below_zero": 50},
        "refused": True,
    },
    DebtPolicy.NET_AGAINST_FUTURE: {
        "balance": "0",
        "entries": [("debt", "debt", 50)],
        "status": {**REVOKED, "debt": 50, "written_off": 0, "closing": 0,
                   "debt_outstanding": 50, "below_zero": 0},
        "refused": True,
    },
    DebtPolicy.CLAMP_ZERO_AND_RECORD: {
        "balance": "0",
        "entries": [("write_off", "write_off", 50)],
        "status": {**REVOKED, "debt": 0, "written_off": 50, "closing": 0,
                   "debt_outstanding": 0, "below_zero": 0},
        "refused": False,
    },
}  # fmt: skip


@pytest.mark.parametrize("policy", list(DebtPolicy))
def test_a_revoke_after_a_redemption_gives_the_documented_balance_meta_and_report(
    policy: DebtPolicy,
    store: SandboxStore,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    config = replace(config, redemption=TIERS, points=replace(config.points, debt=policy))
    engine = engine_for()
    alice = store.customer_id_by_email(EMAIL)
    assert alice is not None
    product = int(store.all("products")[0]["id"])
    order = store.place_order(customer_id=alice, items=[(product, 50)])
    store.set_order_status(order["id"], "completed")
    sync(config)
    coupon = redeemer(config, engine).redeem(Request(alice, EMAIL, tier="5-off"))
    assert (coupon.status, coupon.balance) == ("issued", 0)

    store.refund_order(order["id"], reason="returned")  # the points were spent already
    first = sync(config)
    second = sync(config)

    expected = EXPECTED[policy]
    assert meta(store, alice, "loyalty_points") == expected["balance"]
    assert debt_entries(engine) == expected["entries"]
    assert status(config, engine) == expected["status"]
    assert first.customers_written == 1
    assert (second.entries_appended, second.customers_written) == (0, 0)
    with session_scope(engine) as session:
        assert verify_balances(session) == []

    # with new points: owed ones are paid first (net), the balance climbs (negative), or not owed
    more = store.place_order(customer_id=alice, items=[(product, 30)])
    store.set_order_status(more["id"], "completed")
    sync(config)
    after = {
        DebtPolicy.ALLOW_NEGATIVE: "-20",
        DebtPolicy.NET_AGAINST_FUTURE: "0",
        DebtPolicy.CLAMP_ZERO_AND_RECORD: "30",
    }[policy]
    assert meta(store, alice, "loyalty_points") == after
    if policy is DebtPolicy.NET_AGAINST_FUTURE:
        assert status(config, engine)["debt_outstanding"] == 20
    # still owing: refused, with the reason; otherwise refused for too few points only
    with pytest.raises(RedemptionRefused) as refused:
        redeemer(config, engine).redeem(Request(alice, EMAIL, tier="5-off"))
    owes = "the customer owes 20 points (points revoked after they were spent)"
    assert (owes in refused.value.reason) is expected["refused"]
