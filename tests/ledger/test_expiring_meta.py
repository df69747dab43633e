"""The next expiry kept for `loyalty_points_expiring` (SQLite and PostgreSQL): recomputed for the
customers whose entries changed, written back only when it changed, cleared when nothing expires;
the sync's expiry runs at most once per store day; the expiring report lists it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ledger.customers import account_customer, get_or_create_store
from ledger.kinds import SourceKind
from ledger.models import Customer, NextExpiry, Store
from ledger.session import session_scope
from loyalty.cli import main
from rules.expiry import ExpiryMode, ExpiryRules
from sync.expiry import expire_if_due, refresh_next_expiries, run_expiry
from sync.point_meta import ExpiringMeta, PendingMeta
from tests.cli.test_cli import ledger_config
from tests.ledger.test_expiry_run import P, R, put

PER_LOT = ExpiryRules(enabled=True, mode=ExpiryMode.PER_LOT, days=30, warn_days=7)
INACTIVE = ExpiryRules(enabled=True, mode=ExpiryMode.INACTIVITY, days=30)
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def next_expiries(session: Session, store: Store) -> dict[int, str]:
    rows = session.execute(
        select(NextExpiry.customer_id, NextExpiry.meta).where(NextExpiry.store_id == store.id)
    )
    return {int(customer): str(meta) for customer, meta in rows}


def writes(session: Session, store: Store) -> dict[int, str]:
    """The loyalty_points_expiring values the write-back would send, by WooCommerce id."""
    updates = ExpiringMeta(store.id, "loyalty_points_expiring").pending(session)
    assert all(u.meta[0]["key"] == "loyalty_points_expiring" for u in updates)
    return {u.wc_id: u.meta[0]["value"] for u in updates}


def written(session: Session, store: Store) -> None:
    """Record every update as written (what a successful write-back does)."""
    for update in ExpiringMeta(store.id, "loyalty_points_expiring").pending(session):
        update.on_written(session)
    session.flush()


def test_the_warning_meta_is_exact_and_written_only_when_it_changes(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
    put(session, store, bob, (40, P, "order:2", "order:2#1", "2025-01-05T23:59:59"))

    assert refresh_next_expiries(session, store.id, PER_LOT, as_of=date(2025, 1, 20), now=NOW) == 2
    assert writes(session, store) == {
        7: '{"points": 100, "date": "2025-01-31"}',
        8: '{"points": 40, "date": "2025-02-04"}',
    }
    written(session, store)
    assert writes(session, store) == {}
    # nothing new: nothing recomputed, nothing to write
    assert refresh_next_expiries(session, store.id, PER_LOT, as_of=date(2025, 1, 20), now=NOW) == 0

    # alice spends 30 of her oldest lot: only she is recomputed, only she is written
    put(session, store, alice, (-30, R, "redemption:1", "redemption:1#1", "2025-01-21T10:00"))
    assert refresh_next_expiries(session, store.id, PER_LOT, as_of=date(2025, 1, 21), now=NOW) == 1
    assert writes(session, store) == {7: '{"points": 70, "date": "2025-01-31"}'}
    written(session, store)

    # her lot expires: the meta is cleared ("") once, bob's is unchanged
    run_expiry(session, store.id, PER_LOT, as_of=date(2025, 1, 31), now=NOW)
    assert writes(session, store) == {7: ""}
    written(session, store)
    assert writes(session, store) == {}
    assert json.loads(next_expiries(session, store)[bob.id]) == {"points": 40, "date": "2025-02-04"}


def test_without_expiry_nothing_about_it_is_written(
    session: Session, store: Store, alice: Customer
) -> None:
    put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
    off = ExpiryRules()
    assert refresh_next_expiries(session, store.id, off, as_of=date(2025, 1, 2), now=NOW) == 0
    assert next_expiries(session, store) == {}
    assert writes(session, store) == {}


def test_inactivity_mode_warns_of_the_whole_balance(
    session: Session, store: Store, alice: Customer
) -> None:
    put(
        session,
        store,
        alice,
        (100, P, "order:1", "order:1#1", "2025-01-01T10:00"),
        (-40, R, "redemption:1", "redemption:1#1", "2025-01-10T23:59:59"),
    )
    refresh_next_expiries(session, store.id, INACTIVE, as_of=date(2025, 1, 11), now=NOW)
    assert writes(session, store) == {7: '{"points": 60, "date": "2025-02-09"}'}


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_sync_expires_at_most_once_per_store_day(
    session: Session, store: Store, alice: Customer, dry_run: bool
) -> None:
    put(
        session,
        store,
        alice,
        (100, P, "order:1", "order:1#1", "2025-01-01T10:00"),
        (50, P, "order:2", "order:2#1", "2025-01-02T10:00"),
    )
    day = date(2025, 1, 31)

    first = expire_if_due(session, store.id, PER_LOT, store_day=day, now=NOW, dry_run=dry_run)
    again = expire_if_due(session, store.id, PER_LOT, store_day=day, now=NOW, dry_run=dry_run)
    next_day = expire_if_due(
        session, store.id, PER_LOT, store_day=date(2025, 2, 1), now=NOW, dry_run=dry_run
    )

    assert first is not None
    assert first.expired_points == 100
    assert first.appended == (0 if dry_run else 1)
    if dry_run:  # a dry run moves no cursor: every dry run reports what a real one would do
        assert again is not None
    else:
        assert again is None
    assert next_day is not None
    assert next_day.appended == (0 if dry_run else 1)
    assert expire_if_due(session, store.id, ExpiryRules(), store_day=day, now=NOW) is None


def test_loyalty_report_expiring_lists_the_customers_to_warn(
    tmp_path: Path, db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(engine) as session:
        store = get_or_create_store(session, "https://shop.example.com")
        alice = account_customer(session, store.id, 7, "alice@example.com")
        bob = account_customer(session, store.id, 8, "bob@example.com")
        put(session, store, alice, (100, P, "order:1", "order:1#1", "2025-01-01T10:00"))
        put(session, store, bob, (40, P, "order:2", "order:2#1", "2025-01-05T10:00"))
        run_expiry(session, store.id, PER_LOT, as_of=date(2025, 1, 20), now=NOW)
    config = ledger_config(tmp_path, db_url)
    args = ["--config", config, "report", "expiring", "--from", "2025-02-01", "--to", "2025-02-07"]

    assert main([*args, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    table = capsys.readouterr().out

    assert document["customers"] == [
        {
            "date": "2025-02-04",
            "customer_id": 8,
            "email": "bob@example.com",
            "points": 40,
            "balance": 40,
        }
    ]
    assert document["total"] == {"points": 40, "customers": 1}
    assert "40 points of 1 customer(s) expire in this range" in table


def test_pending_points_are_written_when_they_change(
    session: Session, store: Store, alice: Customer
) -> None:
    meta = PendingMeta(store.id, "loyalty_points_pending")
    pending = SourceKind.PENDING
    put(session, store, alice, (40, pending, "pending:order:1", "pending:order:1#1", "2025-01-01"))

    def waiting() -> dict[int, str]:
        return {u.wc_id: u.meta[0]["value"] for u in meta.pending(session)}

    assert waiting() == {7: "40"}
    for update in meta.pending(session):
        update.on_written(session)
    session.flush()
    assert waiting() == {}
    put(
        session,
        store,
        alice,
        (-40, pending, "pending:order:1", "pending:order:1#2", "2025-01-15T10:00"),
        (40, P, "order:1", "order:1#1", "2025-01-15T10:00"),
    )
    assert waiting() == {7: "0"}
