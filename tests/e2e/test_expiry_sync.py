"""Expiry run by the sync against the sandbox store: at most once per store day, on the store's
clock, exact at the day boundary in both modes; `loyalty_points_expiring` written exactly and
only when it changed; the cancel-and-re-complete trick gains nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.balances import verify_balances
from ledger.kinds import SourceKind
from ledger.models import Customer, PointEntry
from ledger.session import session_scope
from loyalty.config import Config
from rules.expiry import ExpiryMode, ExpiryRules
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.conftest import gift_shop, meta_values, store_midnight

Sync = Callable[..., SyncSummary]
KEY = "loyalty_points_expiring"


#: The store's day in these tests (00:00 UTC): 2 minutes before its end and 1 minute after it are
#: both within a day of this machine's clock (`store_midnight`).
DAY = store_midnight() - timedelta(days=1)
EVENING = DAY + timedelta(hours=23, minutes=58)
NEXT_MORNING = DAY + timedelta(days=1, minutes=1)


def day(offset: int) -> str:
    return (DAY + timedelta(days=offset)).date().isoformat()


@pytest.fixture
def store() -> SandboxStore:
    return gift_shop("alice@example.com", "bob@example.com")


def ids(store: SandboxStore) -> tuple[int, int, int]:
    alice = store.customer_id_by_email("alice@example.com")
    bob = store.customer_id_by_email("bob@example.com")
    assert alice is not None
    assert bob is not None
    return alice, bob, int(store.all("products")[0]["id"])


def completed(store: SandboxStore, customer: int, product: int, points: int, when: datetime) -> int:
    """An order of `points` cards placed and completed at `when` (the store's clock)."""
    with store.clock_at(when):
        order = store.place_order(customer_id=customer, items=[(product, points)])
        store.set_order_status(order["id"], "completed")
    return int(order["id"])


def at_store_time(sandbox: SandboxServer, moment: datetime) -> None:
    sandbox.set_clock_skew((moment - datetime.now(UTC)).total_seconds())


def meta(store: SandboxStore, customer: int, key: str) -> Any:
    values = meta_values(store, customer, key)
    assert len(values) <= 1
    return values[0] if values else None


def ledger_id(engine: Engine, wc_id: int) -> int:
    """The ledger's id of a store's customer (inactivity expiry keys name it)."""
    with session_scope(engine) as session:
        return int(session.execute(select(Customer.id).where(Customer.wc_id == wc_id)).scalar_one())


def expired_entries(engine: Engine) -> list[tuple[str, int]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(PointEntry.idempotency_key, PointEntry.points)
            .where(PointEntry.kind == SourceKind.EXPIRY.value)
            .order_by(PointEntry.idempotency_key)
        )
        return [(key, points) for key, points in rows]


# In both modes bob's only order is 29 days old on DAY: his 40 points expire at 00:00 UTC of the
# next day. Alice earned 100 points 40 days ago and 50 points 5 days ago.
EXPECTED = {
    ExpiryMode.PER_LOT: {
        "first_expired": [(f"expiry:{{alice}}:order:{{a1}}:{day(-10)}", -100)],
        "alice": ("50", f'{{"points": 50, "date": "{day(25)}"}}'),
    },
    ExpiryMode.INACTIVITY: {  # 30 quiet days after her first order: all of it expired
        "first_expired": [(f"expiry:{{alice}}:inactive:{day(-10)}", -100)],
        "alice": ("50", f'{{"points": 50, "date": "{day(25)}"}}'),
    },
}


@pytest.mark.parametrize("mode", list(ExpiryMode))
def test_the_sync_expires_once_per_store_day_exactly_at_the_boundary_and_writes_the_warning(
    mode: ExpiryMode,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    alice, bob, product = ids(store)
    a1 = completed(store, alice, product, 100, DAY - timedelta(days=40))
    completed(store, alice, product, 50, DAY - timedelta(days=5))
    b1 = completed(store, bob, product, 40, DAY - timedelta(days=29))
    config = replace(config, expiry=ExpiryRules(enabled=True, mode=mode, days=30, warn_days=7))
    engine = engine_for()
    expected = EXPECTED[mode]

    at_store_time(sandbox, EVENING)
    first = sync(config)
    same_day = sync(config)

    first_expired = [
        (k.format(a1=a1, alice=ledger_id(engine, alice)), p) for k, p in expected["first_expired"]
    ]
    assert expired_entries(engine) == first_expired
    assert (meta(store, alice, "loyalty_points"), meta(store, alice, KEY)) == expected["alice"]
    assert (meta(store, bob, "loyalty_points"), meta(store, bob, KEY)) == (
        "40",
        f'{{"points": 40, "date": "{day(1)}"}}',
    )
    assert first.customers_written == 2
    assert (same_day.entries_appended, same_day.customers_written) == (0, 0)

    at_store_time(sandbox, NEXT_MORNING)  # a new day on the store's clock: expiry runs again
    next_day = sync(config)
    replay = sync(config)

    lot = "inactive" if mode is ExpiryMode.INACTIVITY else f"order:{b1}"
    bob_expired = [(f"expiry:{ledger_id(engine, bob)}:{lot}:{day(1)}", -40)]
    assert expired_entries(engine) == sorted(first_expired + bob_expired)
    assert (meta(store, bob, "loyalty_points"), meta(store, bob, KEY)) == ("0", "")
    assert (meta(store, alice, "loyalty_points"), meta(store, alice, KEY)) == expected["alice"]
    assert (next_day.entries_appended, next_day.customers_written) == (1, 1)  # bob only
    assert (replay.entries_appended, replay.customers_written) == (0, 0)
    with session_scope(engine) as session:
        assert verify_balances(session) == []


@pytest.mark.slow
def test_cancelling_and_re_completing_an_old_order_does_not_refresh_its_points(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    alice, bob, product = ids(store)
    config = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    old = completed(store, alice, product, 100, DAY - timedelta(days=29))
    untouched = completed(store, bob, product, 100, DAY - timedelta(days=29))
    at_store_time(sandbox, DAY + timedelta(hours=20))
    sync(config)
    store.set_order_status(old, "cancelled")  # the evening before the points would expire...
    at_store_time(sandbox, DAY + timedelta(hours=21))
    sync(config)
    store.set_order_status(old, "completed")  # ... and completed again: the points come back
    at_store_time(sandbox, EVENING)
    sync(config)

    # re-awarded, yet expiring with the original order's date, as bob's untouched order does
    assert (
        meta(store, alice, KEY) == meta(store, bob, KEY) == f'{{"points": 100, "date": "{day(1)}"}}'
    )
    at_store_time(sandbox, NEXT_MORNING)
    sync(config)
    assert meta(store, alice, "loyalty_points") == meta(store, bob, "loyalty_points") == "0"
    assert expired_entries(engine_for()) == [
        (f"expiry:{ledger_id(engine_for(), alice)}:order:{old}:{day(1)}", -100),
        (f"expiry:{ledger_id(engine_for(), bob)}:order:{untouched}:{day(1)}", -100),
    ]
