"""Accounts the store no longer has, retired in one transaction (`sync.accounts.retire_accounts`:
those one write-back batch finds gone, or the suspects an order page names), each with its
email's holder: `sync.owners.move_holdings` locks each pair of balance rows as it moves it, so
the second pair's rows were taken after the first's, out of ascending order, and a writer taking
every row in order (`loyalty expire`, once it has read where the entries end) held the lower one
and waited for the first pair: PostgreSQL aborted one of the two (a review, 5 Dec). The pairs'
rows are now locked together, in ascending order, before the first move."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import sync.accounts as accounts
from ledger.customers import account_customer, get_or_create_store, guest_customer
from ledger.entries import NewEntry, append_entries, lock_store_balances
from ledger.kinds import SourceKind
from ledger.models import Balance, Customer
from ledger.session import session_scope
from sync.summary import SyncSummary
from tests.ledger.test_concurrent_moves import NOW, WAIT_SECONDS, in_thread, wait_until_blocked


def two_accounts_gone(engine: Engine) -> tuple[int, int, int, int, int]:
    """A guest of ann@ (the lowest id), ben (account 11, bob@), ann (account 12, ann@) and a
    guest of bob@, each with 10 points: (store, ann's guest, ben, ann, bob's guest)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time, from BEGIN")
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "https://shop.example.com").id
        ann_guest = guest_customer(session, store_id, "ann@example.com").id
        ben = account_customer(session, store_id, 11, "bob@example.com").id
        ann = account_customer(session, store_id, 12, "ann@example.com").id
        bob_guest = guest_customer(session, store_id, "bob@example.com").id
        customers = (ann_guest, ben, ann, bob_guest)
        earned = [
            NewEntry(c, 10, SourceKind.PURCHASE, f"order:{c}", f"order:{c}#1", NOW)
            for c in customers
        ]
        append_entries(session, store_id, earned, now=NOW)
    assert sorted(customers) == list(customers)
    return store_id, ann_guest, ben, ann, bob_guest


def context(store_id: int) -> Any:
    """What `retire_accounts` reads of a sync's context."""
    return SimpleNamespace(
        store_id=store_id,
        settings=SimpleNamespace(first_order_points=0),
        now=NOW,
        owner_moved=None,
        owners=SimpleNamespace(forget=lambda account: None),
        summary=SyncSummary(),
        record=lambda appended: None,
    )


def test_accounts_retired_together_and_an_expiry_at_once_do_not_deadlock(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_id, ann_guest, ben, ann, bob_guest = two_accounts_gone(engine)
    real_retire = accounts.retire_account
    moved, go = threading.Event(), threading.Event()

    def retire_then_wait(*args: Any, **kwargs: Any) -> Any:
        done = real_retire(*args, **kwargs)
        if not moved.is_set():  # ben's points are on their way to bob's guest: both rows held
            moved.set()
            assert go.wait(WAIT_SECONDS)
        return done

    monkeypatch.setattr(accounts, "retire_account", retire_then_wait)
    sync, _, _, errors = in_thread(
        lambda session: accounts.retire_accounts(context(store_id), session, [ben, ann]), engine
    )

    def expire(session: Session) -> None:  # `loyalty expire`, past its read of the entries' end
        lock_store_balances(session, store_id)

    sync.start()
    try:
        assert moved.wait(WAIT_SECONDS), errors
        expiry, pid, done, expired = in_thread(expire, engine)
        expiry.start()
        assert wait_until_blocked(engine, pid, done), expired  # on ben's balance row
    finally:
        go.set()
    sync.join(WAIT_SECONDS)
    expiry.join(WAIT_SECONDS)

    assert not errors, f"the sync: {str(errors[0]).splitlines()[0]}" if errors else ""
    assert not expired, f"the expiry: {str(expired[0]).splitlines()[0]}" if expired else ""
    with session_scope(engine, readonly=True) as session:  # each account's points went to its email
        rows = session.execute(select(Balance.customer_id, Balance.balance)).all()
        assert {int(c): int(b) for c, b in rows} == {ann_guest: 20, ben: 0, ann: 0, bob_guest: 20}
        gone = session.execute(select(Customer.id).where(Customer.deleted_at.is_not(None)))
        assert set(gone.scalars()) == {ben, ann}
