"""Cursors over entry ids (the next expiries, the day's expiry, the tiers) never pass an entry
that commits later: on PostgreSQL an id can commit after a higher one (a dashboard adjustment in
flight while a sync appends and reads where its entries end). `settled_entry_id` waits for such
writers, and holds new ones back while the cursor's reader works."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ledger.customers import account_customer, get_or_create_store
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import NextExpiry, PointEntry
from ledger.session import session_scope
from rules.expiry import ExpiryMode, ExpiryRules
from sync.expiry import refresh_next_expiries
from tests.ledger.test_concurrent_moves import backend_pid, wait_until_blocked

RULES = ExpiryRules(enabled=True, mode=ExpiryMode.PER_LOT, days=30, warn_days=7)
NOW = datetime(2025, 6, 1, tzinfo=UTC)
#: How long a probe waits for another connection to queue on a lock: it returns as soon as one
#: does; 10 s ran out once on this 2-core machine with two test runs and helpers side by side.
WAIT_SECONDS = 60


def earn(session: Session, store_id: int, customer_id: int, key: str, day: int) -> None:
    """An entry of its own day and kind: two writers share no rollup row, so neither waits."""
    kind = SourceKind.ADJUSTMENT if key.startswith("adjustment") else SourceKind.PURCHASE
    at = NOW.replace(day=day)
    entry = NewEntry(customer_id, 100, kind, key, f"{key}#1", at)
    append_entries(session, store_id, [entry], now=NOW)


def two_customers_on_postgres(engine: Engine) -> tuple[int, int, int]:
    """A store with alice (account 7) and bob (8), committed: (store, alice, bob) ledger ids. The
    test is skipped on SQLite, which has one writer at a time: its ids commit in order."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: ids commit in order")
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "https://shop.example.com").id
        alice = account_customer(session, store_id, 7, "alice@example.com").id
        bob = account_customer(session, store_id, 8, "bob@example.com").id
    return store_id, alice, bob


def test_an_entry_in_flight_below_a_committed_one_is_not_passed_by_the_next_expiry_cursor(
    engine: Engine,
) -> None:
    store_id, alice, bob = two_customers_on_postgres(engine)
    in_flight = Session(engine)
    try:
        earn(in_flight, store_id, alice, "adjustment:a", 1)  # its id is taken, not committed
        with session_scope(engine) as session:
            earn(session, store_id, bob, "order:1", 2)  # a higher id, committed first
        done = threading.Event()
        refreshed: list[int] = []
        pid: list[int] = []

        def refresh() -> None:
            try:
                with session_scope(engine) as session:
                    pid.append(backend_pid(session))
                    refreshed.append(
                        refresh_next_expiries(
                            session, store_id, RULES, as_of=date(2025, 6, 2), now=NOW
                        )
                    )
            finally:
                done.set()

        reader = threading.Thread(target=refresh, daemon=True)
        reader.start()
        held_back = wait_until_blocked(engine, pid, done)
        in_flight.commit()
    finally:
        in_flight.close()
    reader.join(WAIT_SECONDS)

    assert held_back, "the cursor's reader waits for the writer in flight"
    assert refreshed == [2]
    with session_scope(engine) as session:
        kept = set(session.execute(select(NextExpiry.customer_id)).scalars())
        top = (
            session.execute(select(PointEntry.id).order_by(PointEntry.id.desc())).scalars().first()
        )
        assert kept == {alice, bob}
        # The next refresh finds nothing new: the cursor is past both entries, and none was passed.
        assert refresh_next_expiries(session, store_id, RULES, as_of=date(2025, 6, 2), now=NOW) == 0
        assert top is not None


def test_a_writer_is_not_held_back_for_the_whole_next_expiry_refresh(engine: Engine) -> None:
    """The store row was held to the end of the reader's unit of work (every customer's next
    expiry the first time, every tier holder on a new day): a dashboard adjustment waited."""
    """`settled_entry_id` only needs the store row exclusively while it reads where the entries
    end: once it has waited for the writers in flight, every id handed out later is above that
    end. But the cursor readers (`refresh_next_expiries` in the write-back, `update_tiers`, the
    worker's `run_expiry`) keep it to their commit, through all the work after the read (every
    customer's next expiry the first time, every tier holder on a new day). Meanwhile every
    writer waits at step 0: here a dashboard adjustment of another customer (`loyalty redeem`
    at checkout likewise), which took no lock the refresh needs, waits for the refresh to end
    and, with a 2 s lock timeout, fails."""
    store_id, alice, bob = two_customers_on_postgres(engine)
    with session_scope(engine) as session:
        entry = NewEntry(alice, 100, SourceKind.PURCHASE, "order:1", "order:1#1", NOW)
        append_entries(session, store_id, [entry], now=NOW)

    refresh = Session(engine)  # the write-back's unit, still working on what it read
    try:
        refresh_next_expiries(refresh, store_id, RULES, as_of=date(2025, 6, 2), now=NOW)
        failed: list[BaseException] = []

        def adjust() -> None:
            try:
                with session_scope(engine) as session:
                    session.execute(text("SET LOCAL lock_timeout = '2s'"))
                    bonus = NewEntry(bob, 5, SourceKind.ADJUSTMENT, "adjustment:1", "adj:1#1", NOW)
                    append_entries(session, store_id, [bonus], now=NOW)
            except OperationalError as error:
                failed.append(error)

        writer = threading.Thread(target=adjust, daemon=True)
        writer.start()
        writer.join(10)
    finally:
        refresh.rollback()
        refresh.close()

    assert not failed, f"an unrelated writer waited for the whole refresh: {failed[0]}"
