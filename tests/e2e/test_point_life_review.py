"""Review findings: the life of a point across pending points, expiry, tiers, redemptions and
refunds. Each test fails on the code as reviewed and passes once its defect is fixed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from ledger.admin import adjust
from ledger.balances import verify_balances
from ledger.customers import get_or_create_store
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import make_client
from rules.expiry import ExpiryMode, ExpiryRules
from rules.redemption import RedemptionRules, RedemptionTier
from rules.tiers import Tier, TierRules
from sandbox.store import SandboxStore
from sync.expiry import run_expiry
from sync.redemptions import Redeemer, RedemptionSettings, Request
from sync.summary import SyncSummary
from tests.e2e.conftest import meta
from tests.e2e.test_tiers import buy, purchases, store  # noqa: F401 # the fixture too

Sync = Callable[..., SyncSummary]
EMAIL = "alice@example.com"
TIERS = TierRules((Tier("silver", 100, Decimal(2)),))


def points_redeemed(
    config: Config, engine: Engine, alice: int, *, granted_days_ago: int, redeemed_days_ago: int
) -> int:
    """1000 points given to alice `granted_days_ago`, redeemed for a 10-off coupon (90 days)
    `redeemed_days_ago`; the ledger's store id."""
    now = datetime.now(UTC).replace(microsecond=0)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        adjust(
            session, store_id, alice, 1000, "goodwill", now=now - timedelta(days=granted_days_ago)
        )
    redeemed = now - timedelta(days=redeemed_days_ago)
    Redeemer(
        make_client(config.require_store()),
        lambda: session_scope(engine),
        store_id,
        RedemptionSettings(config.redemption, expiry=config.expiry),
        now=lambda: redeemed,
    ).redeem(Request(alice, EMAIL, tier="10-off"))
    return store_id


def test_a_customer_who_just_bought_is_not_inactive_while_the_orders_points_are_pending(
    store: SandboxStore,  # noqa: F811
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    """Inactivity expiry, 30 days; pending points, 14 days. Alice earned 100 points 29 days
    ago (before pending points were on) and bought again yesterday: that order's 50 points wait
    out their window. Tomorrow she has been inactive for 1 day, not 30: nothing may expire. The
    ledger leaves pending entries out of the movements expiry reads (`sync.expiry._movements_of`),
    so her purchase of yesterday is no activity and her whole balance of 100 expires tomorrow;
    the 50 become available 13 days later, on a balance that lost the 100."""
    inactivity = ExpiryRules(enabled=True, mode=ExpiryMode.INACTIVITY, days=30)
    config = replace(config, expiry=inactivity)
    engine = engine_for()
    alice = store.customer_id_by_email(EMAIL)
    assert alice is not None
    now = datetime.now(UTC).replace(microsecond=0)
    buy(store, alice, 100, now - timedelta(days=29))
    sync(config)
    assert meta(store, alice, "loyalty_points") == "100"

    pending = replace(config, points=replace(config.points, pending_days=14))
    buy(store, alice, 50, now - timedelta(days=1))
    sync(pending, full=True)
    assert (meta(store, alice, "loyalty_points"), meta(store, alice, "loyalty_points_pending")) == (
        "100",
        "50",
    )

    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        tomorrow = run_expiry(
            session,
            store_id,
            inactivity,
            as_of=(now + timedelta(days=1)).date(),
            now=now,
            dry_run=True,
        )
    assert tomorrow.expired_points == 0  # she bought yesterday: she is not inactive


def test_a_coupon_that_lapsed_unused_does_not_restart_the_inactivity_clock(
    store: SandboxStore,  # noqa: F811
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    """Inactivity expiry, 365 days. Alice's last activity was a redemption 200 days ago (its
    90-day coupon lapsed unused 110 days ago): her balance expires 165 days from now. The sync
    gives the coupon's points back today as a `redemption` entry, which expiry counts as
    redeeming (`sync.expiry._movements_of`: any redemption entry, whatever its sign, is
    activity), so her clock restarts today although she did nothing: her points live 200 more
    days. README: activity is earning or redeeming."""
    rules = RedemptionRules(tiers=(RedemptionTier("10-off", 1000, Decimal("10.00")),))
    inactivity = ExpiryRules(enabled=True, mode=ExpiryMode.INACTIVITY, days=365)
    config = replace(config, redemption=rules, expiry=inactivity)
    engine = engine_for()
    alice = store.customer_id_by_email(EMAIL)
    assert alice is not None
    now = datetime.now(UTC).replace(microsecond=0)
    store_id = points_redeemed(config, engine, alice, granted_days_ago=300, redeemed_days_ago=200)

    sync(config)  # the coupon lapsed unused: its 1000 points come back
    assert meta(store, alice, "loyalty_points") == "1000"

    with session_scope(engine) as session:
        later = run_expiry(
            session,
            store_id,
            inactivity,
            as_of=(now + timedelta(days=200)).date(),
            now=now,
            dry_run=True,
        )
    assert later.expired_points == 1000  # 365 days after her redemption have passed


def test_an_order_after_the_crossing_one_earns_at_the_tier_when_both_are_synced_together(
    store: SandboxStore,  # noqa: F811
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    """Alice's first order (120 cards) lifts her to silver (100); her next order, a minute later,
    earns at silver: 10 cards, 20 points. Synced one by one that is what the ledger records
    (tests/e2e/test_tiers.py). Synced together (one page: the first sync of a shop, or two orders
    between two syncs), the second order's tier is read from the ledger before the first order's
    entries are appended, so it earns at no tier (10), and the tier is then kept on the order for
    good: a full resync changes nothing."""
    config = replace(config, tiers=TIERS)
    engine = engine_for()
    alice = store.customer_id_by_email(EMAIL)
    assert alice is not None
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    first = buy(store, alice, 120, start)
    second = buy(store, alice, 10, start + timedelta(minutes=1))

    sync(config)
    sync(config, full=True)

    assert purchases(engine) == [(f"order:{first}", 120), (f"order:{second}", 20)]
    assert meta(store, alice, "loyalty_points") == "140"
    with session_scope(engine) as session:
        assert verify_balances(session) == []


def test_points_given_back_by_a_coupon_that_lapsed_keep_the_age_of_the_points_it_took(
    store: SandboxStore,  # noqa: F811
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    """Per-lot expiry, 365 days. Alice's 1000 points were earned 360 days ago: they expire in 5
    days. 91 days ago she turned them into a 90-day coupon (spending the old lot) and never used
    it; the sync sees it expired and gives the 1000 points back. They are the same points, as
    old as before: 5 days from now they must be gone. The ledger makes the returned points a
    lot of `redemption:{id}`, earned on the redemption's day, so they now live until 274 days
    from now. Redeeming and letting the coupon lapse, again and again, keeps points forever (the
    README's "the trick gains nothing" holds for cancelled orders only)."""
    rules = RedemptionRules(tiers=(RedemptionTier("10-off", 1000, Decimal("10.00")),))
    config = replace(config, redemption=rules, expiry=ExpiryRules(enabled=True, days=365))
    engine = engine_for()
    alice = store.customer_id_by_email(EMAIL)
    assert alice is not None
    now = datetime.now(UTC).replace(microsecond=0)
    store_id = points_redeemed(config, engine, alice, granted_days_ago=360, redeemed_days_ago=91)

    sync(config)  # the coupon expired yesterday, unused: its 1000 points come back
    assert meta(store, alice, "loyalty_points") == "1000"

    with session_scope(engine) as session:
        later = run_expiry(
            session,
            store_id,
            config.expiry,
            as_of=(now + timedelta(days=10)).date(),
            now=now,
            dry_run=True,
        )
        assert verify_balances(session) == []
    assert later.expired_points == 1000  # their lot's day, 5 days from now, has passed
