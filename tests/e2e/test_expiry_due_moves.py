"""Points that move between customers around their expiry, through the real sync: points due
before a guest registered, but not yet expired by a run, expire once, on the account, on their
lot's day; and a guest's orders that come back to it after the move (its account took another
email) are its own again, each lot as old as its order. Both failed before their fix.

The expected values are worked out by hand from the dates: an order's points expire at 00:00
UTC of its day + 30."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, select

from ledger.customers import get_or_create_store
from ledger.kinds import SourceKind
from ledger.models import Customer, PointEntry
from ledger.session import session_scope
from loyalty.config import Config
from rules.expiry import ExpiryMode, ExpiryRules
from sandbox.store import SandboxStore
from sync.expiry import run_expiry
from sync.summary import SyncSummary
from tests.e2e.conftest import store_midnight
from tests.e2e.test_expiry_moved_orders import (
    CAROL,
    balance_of,
    guest_order,
    guest_state,
    store,  # noqa: F401 (the fixture: the gift shop, bob registered)
    verified,
)
from tests.e2e.test_expiry_reconcile import dump

Sync = Callable[..., SyncSummary]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def expiries(engine: Engine) -> list[tuple[bool, str, int, datetime]]:
    """The expiry entries in the order recorded: (on the guest?, order id, points, date)."""
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                Customer.is_guest, PointEntry.source_ref, PointEntry.points, PointEntry.occurred_at
            )
            .join(Customer, Customer.id == PointEntry.customer_id)
            .where(PointEntry.kind == SourceKind.EXPIRY)
            .order_by(PointEntry.id)
        )
        return [(bool(g), ref, int(p), at.astimezone(UTC)) for g, ref, p, at in rows]


def expire_on(engine: Engine, cfg: Config, day: date) -> None:
    """`loyalty expire --as-of day`."""
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, cfg.require_store().key).id
        run_expiry(session, store_id, cfg.expiry, as_of=day, now=midnight(day))


@pytest.mark.parametrize("mode", [ExpiryMode.PER_LOT, ExpiryMode.INACTIVITY])
def test_points_due_before_the_guest_registered_expire_once_on_the_account_on_their_day(
    mode: ExpiryMode,
    at_store_time: Callable[[datetime], None],
    config: Config,
    store: SandboxStore,  # noqa: F811
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    """Carol's guest order earned 100 points 30 days ago at noon (per lot: its lot; inactivity:
    her last activity): they are due at 00:00 today. Yesterday's sync (the store's day) expired
    nothing. Today she registers, and today's first sync merges the guest before it runs the
    day's expiry (customers come first): the guest's balance, 100, moves to the account. The 100
    points expire once, on the account that holds them, at 00:00 today (the lot's day; the
    guest's deadline, and moving them in is no activity); nothing is owed and nothing is left.
    Before, per lot: the run expired them on the guest (-100, owed for points it had given away)
    and the account kept them as a lot dated today, expiring 30 days later: 200 expired for 100.
    Inactivity: the guest was charged -100 and the account's 100, the transfer counting as
    activity, expired again 30 days later."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, mode=mode, days=30))
    today = store_midnight().date()
    guest_order(store, midnight(today - timedelta(days=30)) + timedelta(hours=12))
    engine = engine_for()
    at_store_time(midnight(today) - timedelta(hours=1))  # yesterday, 23:00
    sync(cfg)
    assert guest_state(engine) == (100, 0), dump(engine)
    at_store_time(midnight(today) + timedelta(minutes=10))  # today
    account = int(store.register_customer(email=CAROL)["id"])
    sync(cfg)

    assert (balance_of(engine, account), guest_state(engine)) == ((0, 0), (0, 0)), dump(engine)
    order_ref = f"order:{store.all('orders')[-1]['id']}"
    lot = order_ref if mode is ExpiryMode.PER_LOT else "inactive"
    assert expiries(engine) == [(False, lot, -100, midnight(today))]
    expire_on(engine, cfg, today + timedelta(days=31))  # nothing else is left to expire
    assert (balance_of(engine, account), guest_state(engine)) == ((0, 0), (0, 0)), dump(engine)
    assert len(expiries(engine)) == 1
    assert verified(engine) == ([], [])


def test_a_guests_orders_back_on_it_after_the_move_keep_their_own_ages(
    config: Config,
    store: SandboxStore,  # noqa: F811
    sync: Sync,
    engine_for: Callable[[], Engine],
) -> None:
    """Carol's guest orders: B earned 100 points 28 days ago (due in 2 days), A 100 points 25
    days ago (due in 5). She registers: the guest's 200 move to her account, carrying both lots.
    She then changes her account email, and the full sync that records it lists both guest
    orders again, billed to her old address: they are the guest's again (the account gives
    their 200 back, the guest gets them, dated when the orders were last modified: before the
    move, recorded after it). The guest holds B and A again: 100 expire in 2 days, the other
    100 in 5. Expiry read the guest's entries in time order, those recorded after the move
    before it, so the move seemed to take the two B entries (the oldest) and leave both A
    entries behind: nothing expired in 2 days and 200 under order A in 5, A's 100 counted
    twice, B's never (`ledger.customers.heirs` reads the entries after the move as the guest's
    own)."""
    cfg = replace(config, expiry=ExpiryRules(enabled=True, days=30))
    now = datetime.now(UTC).replace(microsecond=0)
    b = guest_order(store, now - timedelta(days=28))
    a = guest_order(store, now - timedelta(days=25))
    engine = engine_for()
    sync(cfg)
    account = int(store.register_customer(email=CAROL)["id"])
    sync(cfg)
    store.update_customer(account, {"email": "carol.new@example.com"})
    sync(cfg, full=True)
    assert (balance_of(engine, account), guest_state(engine)) == ((0, 0), (200, 0)), dump(engine)

    b_due = (now - timedelta(days=28)).date() + timedelta(days=30)
    a_due = (now - timedelta(days=25)).date() + timedelta(days=30)
    expire_on(engine, cfg, b_due)
    assert guest_state(engine) == (100, 0), dump(engine)
    expire_on(engine, cfg, a_due)

    assert (balance_of(engine, account), guest_state(engine)) == ((0, 0), (0, 0)), dump(engine)
    assert expiries(engine) == [
        (True, f"order:{b}", -100, midnight(b_due)),
        (True, f"order:{a}", -100, midnight(a_due)),
    ]
    assert verified(engine) == ([], [])
