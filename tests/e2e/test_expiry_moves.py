"""Expiry after a review of the day's expiry changes (4 Dec): a dry-run sync counts what it would
append, one lot moved between customers on its day no longer shares an expiry key, and an expired
order moved to another customer brings no point back. Each failed before its fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from ledger.customers import get_or_create_store
from ledger.kinds import SourceKind
from ledger.models import Balance, PointEntry
from ledger.session import session_scope
from loyalty.config import Config
from rules.expiry import ExpiryRules
from sandbox.store import SandboxStore
from sync.expiry import run_expiry
from sync.summary import SyncSummary
from tests.e2e.conftest import store_midnight
from tests.e2e.test_expiry_reconcile import completed_order, gift_shop

Sync = Callable[..., SyncSummary]
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _store() -> SandboxStore:
    shop = gift_shop()
    shop.register_customer(email="bob@example.com")
    return shop


@pytest.fixture
def store() -> SandboxStore:
    return _store()


def expiry_counts(summary: SyncSummary) -> tuple[int, int]:
    counts = summary.sources.get("expiry")
    return (counts.entries, counts.net_points) if counts is not None else (0, 0)


def expiry_net(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(
            session.execute(
                select(func.coalesce(func.sum(PointEntry.points), 0)).where(
                    PointEntry.kind == SourceKind.EXPIRY.value
                )
            ).scalar_one()
        )


# --- 1. dry-run sync counts ----------------------------------------------------------------------


def test_a_dry_run_sync_after_the_days_expiry_reports_expiries_already_recorded(
    config: Config, store: SandboxStore, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    """The day's sync expired alice's 100 points (earned 40 days ago, 30-day expiry). She then
    places a new order. A real sync now appends no expiry entry (nothing new is due); the dry
    run of that same sync must say so. It reconciles alice (entries since the day's run) and
    counts `len(due)` + `expired_points` of her whole history: "would append 1 expiry entry,
    -100 points", for points that expired hours ago."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    before = expiry_net(engine)
    assert before == -100
    completed_order(store, datetime.now(UTC).replace(microsecond=0), cards=10)

    dry = sync(cfg, dry_run=True)
    real = sync(cfg)

    assert expiry_net(engine) == before  # the real sync appended no expiry
    assert expiry_counts(real) == (0, 0)
    assert expiry_counts(dry) == expiry_counts(real), (expiry_counts(dry), expiry_counts(real))


def test_a_dry_run_sync_does_not_count_the_expiry_correction_the_real_sync_appends(
    config: Config,
    store: SandboxStore,
    at_store_time: Callable[[datetime], None],
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    """The refund-after-the-worker's-expiry case of tests/e2e/test_expiry_reconcile.py: the real
    sync appends the correction `#2` (+100). A dry run of that sync, just before, reports
    0 expiry entries and 0 points: it counts `due` (nothing due), not what `_reconciled` would
    append."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    midnight = store_midnight()
    order_id = completed_order(store, midnight - timedelta(days=30) + timedelta(hours=1))
    engine = engine_for()
    at_store_time(midnight - timedelta(hours=2))
    sync(cfg)
    with store.clock_at(midnight - timedelta(hours=1)):
        store.refund_order(order_id)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        run_expiry(
            session,
            store_id,
            cfg.expiry,
            as_of=midnight.date(),
            now=midnight + timedelta(minutes=5),
        )
    at_store_time(midnight + timedelta(minutes=10))

    dry = sync(cfg, dry_run=True)
    real = sync(cfg)

    assert expiry_net(engine) == 0  # the real sync corrected the expiry: +100, one entry
    assert expiry_counts(real) == (1, 100)
    assert expiry_counts(dry) == expiry_counts(real), (expiry_counts(dry), expiry_counts(real))


# --- 2. one lot reference on two customers: one expiry key --------------------------------------


def test_an_order_moved_to_another_customer_on_its_day_breaks_every_expiry_run(
    config: Config, store: SandboxStore, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    """Alice earns 100 points on order X, then 100 on order Y. The same day, the shop manager
    moves order Y to Bob (the wrong customer was on it). The sync moves it: alice -100
    `order:Y`, bob +100 `order:Y`. Alice's -100 consumes her oldest lot (order X, arrived first),
    so her remaining lot is named `order:Y`; Bob's lot is `order:Y` earned the same day. Both
    expire on the same day and both expiries are keyed `expiry:order:Y:{day}`: one key for two
    customers (what c707266 fixed for inactivity only). The run gets two different entries with
    one key in a batch and raises ValueError, so every later expiry run (and every sync's
    expiry step) fails; in separate batches one of the two silently never expires.

    Independently: 200 points on alice and bob, never spent, 31 days later all expired, both
    balances 0."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    alice = store.customer_id_by_email("alice@example.com")
    bob = store.customer_id_by_email("bob@example.com")
    product = int(store.all("products")[0]["id"])
    ids = []
    for _ in range(2):
        order = store.place_order(customer_id=alice, items=[(product, 100)])
        store.set_order_status(order["id"], "completed")
        ids.append(int(order["id"]))
    engine = engine_for()
    sync(cfg)  # both orders on alice
    store.update_order(ids[1], {"customer_id": bob})
    sync(cfg)  # order Y moves to bob
    today = datetime.now(UTC)
    if today.hour == 23 and today.minute >= 50:  # the orders and the move must share a UTC day
        pytest.skip("too close to midnight UTC")

    later = today + timedelta(days=31)  # the daily run a month later (clock not movable)
    error: Exception | None = None
    try:
        with session_scope(engine) as session:
            store_id = get_or_create_store(session, config.require_store().key).id
            run_expiry(session, store_id, cfg.expiry, as_of=later.date(), now=later)
    except ValueError as raised:
        error = raised

    with session_scope(engine) as session:
        balances = sorted(int(b) for b in session.execute(select(Balance.balance)).scalars())
    assert error is None, error
    assert balances == [0, 0]


def test_an_expired_order_moved_to_another_customer_gives_its_points_again(
    config: Config, store: SandboxStore, sync: Sync, engine_for: Callable[[], Engine]
) -> None:
    """Alice's order earned 100 points 40 days ago; with 30-day expiry they expired. Today the shop
    manager moves the order to Bob. README: a lot's earn day is the day of the *earliest* entry of
    its source, and points re-awarded to a source whose lot already expired expire the day after
    they arrive. Order Y's earliest entry is 40 days old: whatever Bob receives for it is expired
    by tomorrow. But since b725e36 the move takes the order's 100 from alice (what `order:Y`
    "holds" leaves the expiry out: alice goes to -100, owing points that expired) and gives Bob
    +100, and expiry dates Bob's lot from *his* earliest `order:Y` entry (today): he holds 100
    spendable points for 30 more days. Expired points came back (and alice owes them)."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    order_id = completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=40))
    engine = engine_for()
    sync(cfg)
    store.update_order(order_id, {"customer_id": store.customer_id_by_email("bob@example.com")})
    sync(cfg)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        run_expiry(session, store_id, cfg.expiry, as_of=tomorrow.date(), now=tomorrow)

    from tests.e2e.test_expiry_reconcile import dump

    with session_scope(engine) as session:
        balances = sorted(int(b) for b in session.execute(select(Balance.balance)).scalars())
    assert max(balances) == 0, (balances, dump(engine))  # nobody holds the expired 100 again
