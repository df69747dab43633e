"""A balance moved to another customer (a deleted account's to its email, a guest's to the account
it registered) while another writer moves it too, on PostgreSQL: an admin's adjustment of the
account, a redemption spending its points. The sync read the balance it moves before taking the
balance row, so what landed in between stayed on the deleted account (where nothing sees or moves
it again) or was spent and moved both (found by a review of concurrent runs, 5 Dec).

Each test interleaves the two writers by hand: one holds its transaction open while the other
queues on a lock (waited for by its connection's pid, not by sleeping), then commits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

import ledger.redemptions as ledger_redemptions
from ledger.admin import adjust
from ledger.customers import account_customer, get_or_create_store
from ledger.entries import NewEntry, append_entries
from ledger.errors import InvalidAdjustment
from ledger.kinds import SourceKind
from ledger.models import Balance, Customer, Redemption
from ledger.session import session_scope
from rules.redemption import RedemptionRules, RedemptionTier
from sync.owners import retire_account
from sync.redemptions import Redeemer, RedemptionSettings, Request

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
WAIT_SECONDS = 60
EMAIL = "dora@example.com"


def backend_pid(session: Session) -> int:
    return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def wait_until_blocked(engine: Engine, pid: list[int], done: threading.Event) -> bool:
    """Whether the connection `pid[0]` (set by the other thread) queues on a lock, polled until it
    does or `done` is set; bounded. Other databases' and schemas' waits do not count."""
    deadline = time.monotonic() + WAIT_SECONDS
    with engine.connect() as probe:
        while time.monotonic() < deadline and not done.is_set():
            if pid:
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE pid = :pid AND wait_event_type = 'Lock'"
                    ),
                    {"pid": pid[0]},
                ).scalar_one()
                if waiting:
                    return True
            done.wait(0.02)
    return False


def in_thread(work: Callable[[Session], object], engine: Engine) -> tuple[
    threading.Thread, list[int], threading.Event, list[BaseException]
]:  # fmt: skip
    """`work` in a unit of work of its own, on a thread: its connection's pid, when it ended,
    and what it raised."""
    pid: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with session_scope(engine) as session:
                pid.append(backend_pid(session))
                work(session)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            done.set()

    return threading.Thread(target=run, daemon=True), pid, done, errors


def deleted_account_with_points(engine: Engine) -> tuple[int, int]:
    """A store with dora (account 9, 50 points from an order), committed: (store, dora)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time, from BEGIN")
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "https://shop.example.com").id
        dora = account_customer(session, store_id, 9, EMAIL).id
        earned = NewEntry(dora, 50, SourceKind.PURCHASE, "order:1", "order:1#1", NOW)
        append_entries(session, store_id, [earned], now=NOW)
    return store_id, dora


def retire(store_id: int, dora: int) -> Callable[[Session], object]:
    """The sync's part: dora's account is gone from the store."""

    def work(session: Session) -> None:
        account = session.get(Customer, dora)
        assert account is not None
        moved = retire_account(session, store_id, account, bonus=0, now=NOW)
        append_entries(session, store_id, moved, now=NOW)

    return work


def balances(engine: Engine, store_id: int) -> dict[str, int]:
    """Each customer's balance, by email (`guest:` before a guest's)."""
    with session_scope(engine, readonly=True) as session:
        rows = session.execute(
            select(Customer.email, Customer.is_guest, Balance.balance)
            .join(Balance, Balance.customer_id == Customer.id)
            .where(Customer.store_id == store_id)
        )
        return {("guest:" if guest else "") + str(email): int(b) for email, guest, b in rows}


def test_an_adjustment_committed_while_the_sync_retires_the_account_moves_with_it(
    engine: Engine,
) -> None:
    store_id, dora = deleted_account_with_points(engine)
    admin = Session(engine)  # `loyalty adjust --customer 9 --points 100`, not committed yet
    try:
        adjust(admin, store_id, 9, 100, "goodwill", now=NOW)
        sync, pid, done, errors = in_thread(retire(store_id, dora), engine)
        sync.start()
        assert wait_until_blocked(engine, pid, done), errors  # on dora's balance row
        admin.commit()
    finally:
        admin.close()
    sync.join(WAIT_SECONDS)
    assert not errors, errors

    # all 150 went to the email's guest: none stays on the deleted account
    assert balances(engine, store_id) == {EMAIL: 0, f"guest:{EMAIL}": 150}


def test_an_adjustment_queued_behind_the_sync_retiring_the_account_is_refused(
    engine: Engine,
) -> None:
    """The other order: the adjustment's get-or-create of the account waits for the sync's
    update of that row, then reads it deleted (held before this review too)."""
    store_id, dora = deleted_account_with_points(engine)
    sync = Session(engine)  # the sync retires dora, not committed yet
    try:
        retire(store_id, dora)(sync)
        admin, pid, done, errors = in_thread(
            lambda session: adjust(session, store_id, 9, 100, "goodwill", now=NOW), engine
        )
        admin.start()
        assert wait_until_blocked(engine, pid, done), errors  # on dora's balance row
        sync.commit()
    finally:
        sync.close()
    admin.join(WAIT_SECONDS)

    # refused as for any deleted account: the points would stay where nothing sees them
    assert [type(e) for e in errors] == [InvalidAdjustment]
    assert balances(engine, store_id) == {EMAIL: 0, f"guest:{EMAIL}": 50}


def test_a_redemption_committed_while_the_sync_retires_the_account_is_not_spent_twice(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_id, dora = deleted_account_with_points(engine)
    rules = RedemptionRules(tiers=(RedemptionTier("5-off", 40, Decimal("5.00")),))
    redeemer = Redeemer(
        None,  # type: ignore[arg-type]  # step 1 (the ledger's) talks to no store
        lambda: session_scope(engine),
        store_id,
        RedemptionSettings(rules),
        now=lambda: NOW,
    )
    gate, opened = threading.Event(), threading.Event()
    real_open = ledger_redemptions.open_redemption

    def open_and_wait(*args: Any, **kwargs: Any) -> Redemption:
        row = real_open(*args, **kwargs)  # dora's balance row held, 40 points debited
        opened.set()
        assert gate.wait(WAIT_SECONDS)
        return row

    monkeypatch.setattr(ledger_redemptions, "open_redemption", open_and_wait)
    customer, _, _, redeemed = in_thread(
        lambda _: redeemer.open(Request(wc_customer_id=9, email=EMAIL, tier="5-off")), engine
    )
    try:
        customer.start()
        assert opened.wait(WAIT_SECONDS), redeemed
        sync, pid, done, errors = in_thread(retire(store_id, dora), engine)
        sync.start()
        assert wait_until_blocked(engine, pid, done), errors  # on dora's balance row
    finally:
        gate.set()
    customer.join(WAIT_SECONDS)
    sync.join(WAIT_SECONDS)
    assert not redeemed, redeemed
    assert not errors, errors

    # the coupon took 40 of the 50: the 10 left go to the email, the account owes nothing
    assert balances(engine, store_id) == {EMAIL: 0, f"guest:{EMAIL}": 10}
    with session_scope(engine, readonly=True) as session:  # its points come back to the email
        holder = session.execute(select(Redemption.customer_id)).scalar_one()
        assert session.get(Customer, holder).email == EMAIL  # type: ignore[union-attr]
        assert holder != dora
