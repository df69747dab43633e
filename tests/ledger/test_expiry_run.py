"""`loyalty expire` over a real ledger (SQLite and PostgreSQL): exact at day boundaries, replays
append nothing, the cancel-and-re-complete trick gains nothing, dry runs write nothing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ledger.balances import verify_balances
from ledger.customers import account_customer, get_or_create_store
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import Balance, Customer, PointEntry, Store
from ledger.rollup_checks import verify_rollups
from ledger.session import session_scope
from loyalty.cli import main
from rules.expiry import ExpiryMode, ExpiryRules
from sync.expiry import run_expiry
from tests.cli.test_cli import ledger_config

PER_LOT = ExpiryRules(enabled=True, mode=ExpiryMode.PER_LOT, days=30, warn_days=7)
INACTIVE = ExpiryRules(enabled=True, mode=ExpiryMode.INACTIVITY, days=30)
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def put(session: Session, store: Store, customer: Customer, *rows: tuple) -> None:
    """Append (points, kind, ref, key, when) rows for `customer`."""
    append_entries(
        session,
        store.id,
        [
            NewEntry(customer.id, points, kind, ref, key, at(when))
            for points, kind, ref, key, when in rows
        ],
        now=NOW,
    )


def balance(session: Session, customer: Customer) -> int:
    return session.execute(
        select(Balance.balance).where(Balance.customer_id == customer.id)
    ).scalar_one()


def expiry_keys(session: Session, store: Store) -> list[tuple[str, int]]:
    query = (
        select(PointEntry.idempotency_key, PointEntry.points)
        .where(PointEntry.store_id == store.id, PointEntry.kind == SourceKind.EXPIRY)
        .order_by(PointEntry.idempotency_key)
    )
    return [(key, points) for key, points in session.execute(query)]


P = SourceKind.PURCHASE
R = SourceKind.REDEMPTION


def test_a_lot_expires_exactly_at_its_utc_day_and_a_replay_appends_nothing(
    session: Session, store: Store, alice: Customer
) -> None:
    put(
        session,
        store,
        alice,
        (100, P, "order:1", "order:1#1", "2025-01-01T23:59:59"),
        (50, P, "order:2", "order:2#1", "2025-01-02T00:00:00"),
        (-120, R, "redemption:1", "redemption:1", "2025-01-10T12:00"),
    )
    early = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 1, 30), now=NOW)
    assert (early.expired_points, early.appended, expiry_keys(session, store)) == (0, 0, [])

    on_day = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 1, 31), now=NOW)
    assert (on_day.expired_points, on_day.appended) == (0, 0)  # order:1 was spent first
    next_day = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 2, 1), now=NOW)
    assert (next_day.expired_points, next_day.appended) == (30, 1)
    assert expiry_keys(session, store) == [(f"expiry:{alice.id}:order:2:2025-02-01", -30)]
    assert balance(session, alice) == 0

    replay = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 2, 1), now=NOW)
    later = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 5, 1), now=NOW)
    assert (replay.appended, later.appended, later.expired_points) == (0, 0, 30)
    assert expiry_keys(session, store) == [(f"expiry:{alice.id}:order:2:2025-02-01", -30)]
    assert verify_balances(session, store.id) == []
    # the reports' rollup sees the expiry entries (these purchases carry no product lines)
    assert [d for d in verify_rollups(session, store.id) if d.table == "point_rollups"] == []


def test_cancel_and_re_complete_keeps_the_orders_earn_date(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    # alice cancels her old order and re-completes it just before it would expire
    put(
        session,
        store,
        alice,
        (100, P, "order:1", "order:1#1", "2025-01-01T10:00"),
        (-100, P, "order:1", "order:1#2", "2025-01-29T10:00"),
        (100, P, "order:1", "order:1#3", "2025-01-30T10:00"),
    )
    # bob earned the same order the same day and never touched it
    put(session, store, bob, (100, P, "order:2", "order:2#1", "2025-01-01T10:00"))

    run = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 1, 31), now=NOW)

    assert {c.wc_id: c.expired for c in run.customers} == {7: 100, 8: 100}
    assert balance(session, alice) == balance(session, bob) == 0


def test_inactivity_expires_the_whole_balance_after_days_without_activity(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    put(
        session,
        store,
        alice,
        (100, P, "order:1", "order:1#1", "2025-01-01T10:00"),
        (-40, R, "redemption:1", "redemption:1", "2025-01-20T23:59:59"),
    )
    put(session, store, bob, (70, P, "order:2", "order:2#1", "2025-01-21T00:00"))

    run = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 2, 19), now=NOW)

    assert expiry_keys(session, store) == [(f"expiry:{alice.id}:inactive:2025-02-19", -60)]
    assert (run.expired_points, balance(session, alice), balance(session, bob)) == (60, 0, 70)
    assert run_expiry(session, store.id, INACTIVE, as_of=date(2025, 2, 19), now=NOW).appended == 0


def test_inactivity_expiries_of_two_customers_on_one_day_are_two_entries(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    """Their key was `expiry:inactive:{date}`, one per store and day: in one batch the run
    failed (every day after), in two the second customer's expiry was dropped as a replay and
    the points never expired (found by a review, 4 Dec)."""
    put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T12:00"))
    put(session, store, bob, (70, P, "order:2", "order:2#1", "2025-01-01T13:00"))

    run = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 2, 1), now=NOW)
    again = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 3, 1), now=NOW)

    assert (run.expired_points, run.appended, again.appended) == (170, 2, 0)
    assert balance(session, alice) == balance(session, bob) == 0


def test_an_inactivity_expiry_recorded_under_its_old_key_is_not_expired_again(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    """A ledger written before the keys named the customer holds `expiry:inactive:{date}` for
    one customer of that day: that customer's expiry is done; another's is still to do."""
    put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T12:00"))
    put(session, store, bob, (70, P, "order:2", "order:2#1", "2025-01-01T13:00"))
    old = (-100, SourceKind.EXPIRY, "inactive", "expiry:inactive:2025-01-31", "2025-01-31T00:00")
    put(session, store, alice, old)

    run = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 2, 1), now=NOW)

    assert run.appended == 1
    assert expiry_keys(session, store) == [
        (f"expiry:{bob.id}:inactive:2025-01-31", -70),
        ("expiry:inactive:2025-01-31", -100),
    ]
    assert balance(session, alice) == balance(session, bob) == 0


def test_a_dry_run_reports_and_writes_nothing(
    session: Session, store: Store, alice: Customer
) -> None:
    put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
    run = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 3, 1), now=NOW, dry_run=True)
    assert (run.expired_points, run.appended, expiry_keys(session, store)) == (100, 0, [])
    assert balance(session, alice) == 100


def test_off_expires_nothing(session: Session, store: Store, alice: Customer) -> None:
    put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
    assert (
        run_expiry(session, store.id, ExpiryRules(), as_of=date(2030, 1, 1), now=NOW).appended == 0
    )


def test_loyalty_expire_json_lists_expired_and_warned_customers(
    tmp_path: Path, db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(engine) as session:
        store = get_or_create_store(session, "https://shop.example.com")
        alice = account_customer(session, store.id, 7, "alice@example.com")
        bob = account_customer(session, store.id, 8, "bob@example.com")
        put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
        put(session, store, bob, (40, P, "order:2", "order:2#1", "2025-01-05T10:00"))
    config = Path(ledger_config(tmp_path, db_url))
    config.write_text(
        config.read_text()
        + '[expiry]\nenabled = true\nmode = "per_lot"\ndays = 30\nwarn_days = 7\n'
    )
    args = ["--config", str(config), "expire", "--as-of", "2025-01-31", "--json"]

    assert main([*args[:3], "--dry-run", *args[3:]]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    real = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    replay = json.loads(capsys.readouterr().out)

    assert dry["total"] == {**real["total"], "entries_appended": 0}
    assert real["total"] == {
        "expired_points": 100,
        "customers": 1,
        "entries_appended": 1,
        "customers_seen": 2,
    }
    assert real["customers"] == [
        {
            "customer_id": 7,
            "email": "alice@example.com",
            "expired": 100,
            "entries": 1,
            "expiring": None,
            "warned": False,
        }
    ]
    assert real["warned"] == [
        {
            "customer_id": 8,
            "email": "bob@example.com",
            "expired": 0,
            "entries": 0,
            "expiring": {"points": 40, "date": "2025-02-04"},
            "warned": True,
        }
    ]
    assert replay["total"]["entries_appended"] == 0


def test_loyalty_expire_refuses_a_future_day_except_as_a_dry_run(
    tmp_path: Path, db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """A future `--as-of` expired points before their time, for good (found by a review, 3 Dec)."""
    with session_scope(engine) as session:
        store = get_or_create_store(session, "https://shop.example.com")
        alice = account_customer(session, store.id, 7, "alice@example.com")
        put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
    config = Path(ledger_config(tmp_path, db_url))
    config.write_text(config.read_text() + "[expiry]\nenabled = true\ndays = 30\n")
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    args = ["--config", str(config), "expire", "--as-of", tomorrow, "--json"]

    assert main(args) == 2
    assert "is in the future" in capsys.readouterr().err
    assert main([*args, "--dry-run"]) == 0
    with session_scope(engine) as session:
        assert balance(session, alice) == 100


def test_an_entry_dated_before_an_expiry_that_already_ran_corrects_it(
    session: Session, store: Store, alice: Customer
) -> None:
    """A refund an hour before the points' expiry, recorded after the day's run: the points left
    with the refund, so the expiry is undone by a correction (`#2`), once (found by a review)."""
    put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
    run_expiry(session, store.id, PER_LOT, as_of=date(2025, 1, 31), now=NOW)
    put(session, store, alice, (-100, P, "order:1", "order:1#2", "2025-01-30T23:00"))

    again = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 1, 31), now=NOW)
    replay = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 1, 31), now=NOW)

    assert expiry_keys(session, store) == [
        (f"expiry:{alice.id}:order:1:2025-01-31", -100),
        (f"expiry:{alice.id}:order:1:2025-01-31#2", 100),
    ]
    assert (again.appended, again.appended_points, replay.appended) == (1, -100, 0)
    assert balance(session, alice) == 0


def test_a_shorter_expiry_does_not_expire_a_lot_twice(
    session: Session, store: Store, alice: Customer
) -> None:
    """`days` cut from 60 to 30 after a lot expired at 60: the lot's expiry moves to its new date
    (a new key) and the old one is undone, not both kept."""
    put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
    longer = ExpiryRules(enabled=True, days=60)
    run_expiry(session, store.id, longer, as_of=date(2025, 3, 15), now=NOW)

    run_expiry(session, store.id, PER_LOT, as_of=date(2025, 3, 15), now=NOW)

    assert sorted(expiry_keys(session, store)) == [
        (f"expiry:{alice.id}:order:1:2025-01-31", -100),
        (f"expiry:{alice.id}:order:1:2025-03-02", -100),
        (f"expiry:{alice.id}:order:1:2025-03-02#2", 100),
    ]
    assert balance(session, alice) == 0


def test_a_lot_expiry_recorded_under_its_old_key_is_not_expired_again(
    session: Session, store: Store, alice: Customer
) -> None:
    """Keys name the customer now (`expiry:{customer}:{lot}:{date}`); a ledger written before
    holds `expiry:{lot}:{date}`, which is read as the customer's: nothing expires twice."""
    put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
    old = (-100, SourceKind.EXPIRY, "order:1", "expiry:order:1:2025-01-31", "2025-01-31T00:00")
    put(session, store, alice, old)

    run = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 2, 1), now=NOW)

    assert (run.expired_points, run.appended) == (100, 0)
    assert balance(session, alice) == 0
