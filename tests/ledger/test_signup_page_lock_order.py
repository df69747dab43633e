"""A customers page that merges a guest into a new account and gives signup points to another
account (`sync.customer_source.take_page`): the merge's balance rows were locked first, and the
signup hook's entries (`sync.signup_source.SignupsSource.on_accounts`, decided after the merges,
which carry signups) were appended in a later call, locking their customers after: an account
with a lower id than the merged rows was locked out of ascending order. An expiry run (`loyalty
expire`) locking every balance row in order held that account and waited for the merge's rows,
which waited for it: PostgreSQL aborted one of the two (a review, 5 Dec). The page's accounts'
existing balance rows are now locked with the merge's, in ascending order, before the first
merge."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ledger.customers import account_customer, get_or_create_store, guest_customer
from ledger.entries import NewEntry, append_entries, lock_store_balances
from ledger.kinds import SourceKind
from ledger.models import Balance
from ledger.session import session_scope
from rules.signup import SignupRules
from sync.context import SyncContext, Transactions
from sync.customer_source import take_page
from sync.owners import OwnerDirectory
from sync.quarantine import Quarantine
from sync.signup_source import SignupsSource
from sync.summary import SyncSummary
from tests.ledger.test_concurrent_moves import NOW, WAIT_SECONDS, in_thread, wait_until_blocked

SIGNUP = 50


def context(engine: Engine, store_id: int) -> SyncContext:
    """What `take_page` and the signups hook read of a sync's context."""
    settings: Any = SimpleNamespace(first_order_points=0)
    progress: Any = SimpleNamespace(advance=lambda n: None)
    return SyncContext(
        settings=settings,
        tx=Transactions(engine, dry_run=False),
        client=SimpleNamespace(),  # type: ignore[arg-type]
        progress=progress,
        store_id=store_id,
        full=False,
        dry_run=False,
        now=NOW,
        summary=SyncSummary(),
        owners=OwnerDirectory(store_id),
        quarantine=Quarantine(store_id),
    )


def test_a_customers_page_with_a_merge_and_a_signup_and_an_expiry_do_not_deadlock(
    engine: Engine,
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time, from BEGIN")
    with session_scope(engine) as session:  # yan (account 3, from an order), a guest of xe@
        store_id = get_or_create_store(session, "https://shop.example.com").id
        yan = account_customer(session, store_id, 3, "yan@example.com").id
        guest = guest_customer(session, store_id, "xe@example.com").id
        earned = [
            NewEntry(c, 10, SourceKind.PURCHASE, f"order:{c}", f"order:{c}#1", NOW)
            for c in (yan, guest)
        ]
        append_entries(session, store_id, earned, now=NOW)
    assert yan < guest
    ctx = context(engine, store_id)
    with ctx.tx.unit() as session:  # signups are on since May
        started = "2025-05-01T00:00:00+00:00"
        ctx.save_cursor(session, "signups", None, {"enabled_at": started, "earns_from": started})

    signups = SignupsSource(SignupRules(points=SIGNUP))
    ctx.owner_hooks.append(lambda s, old, new: signups.owner_moved(ctx, s, old, new))
    merged, go = threading.Event(), threading.Event()

    def decide_when_told(ctx: SyncContext, session: Session, listed: list[dict[str, Any]]) -> Any:
        merged.set()  # the guest's points are on their way to xe's new account: both rows held
        assert go.wait(WAIT_SECONDS)
        return signups.on_accounts(ctx, session, listed)

    ctx.account_hooks["signups"] = decide_when_told
    page = [  # newest first: xe registers (the guest's email), yan registered in May
        {"id": 4, "email": "xe@example.com", "date_created_gmt": "2025-05-21T10:00:00"},
        {"id": 3, "email": "yan@example.com", "date_created_gmt": "2025-05-20T10:00:00"},
    ]
    errors: list[BaseException] = []

    def sync() -> None:
        try:
            take_page(ctx, page)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    syncing = threading.Thread(target=sync, daemon=True)
    syncing.start()
    try:
        assert merged.wait(WAIT_SECONDS), errors
        expiry, pid, done, expired = in_thread(lambda s: lock_store_balances(s, store_id), engine)
        expiry.start()
        assert wait_until_blocked(engine, pid, done), expired  # on a row the page holds
    finally:
        go.set()
    syncing.join(WAIT_SECONDS)
    expiry.join(WAIT_SECONDS)

    assert not errors, f"the sync: {str(errors[0]).splitlines()[0]}" if errors else ""
    assert not expired, f"the expiry: {str(expired[0]).splitlines()[0]}" if expired else ""
    with session_scope(engine, readonly=True) as session:
        rows = session.execute(select(Balance.customer_id, Balance.balance)).all()
    held = {int(c): int(b) for c, b in rows}
    xe = ctx.owners.account(session, 4)
    assert held == {yan: 10 + SIGNUP, guest: 0, xe: 10 + SIGNUP}
