"""A page listing an order twice with different holders (its account changed between two pages'
requests) is decided in consecutive batches (`sync.order_points._owner_batches`), one append a
batch in one transaction: a later batch's customers (the order's new holder, the one it moves
away from) were locked after the earlier batch's, out of ascending order when lower. An expiry
run (`loyalty expire`) locking every balance row in order held the lower one and waited for the
first batch's, which waited for it: PostgreSQL aborted one of the two (a review, 5 Dec). Every
batch's customers are now locked at once, in ascending order, before the first batch."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.customers import account_customer, get_or_create_store
from ledger.entries import lock_store_balances
from ledger.models import Balance, TrackedOrder
from ledger.session import session_scope
from sync.order_points import OrderPoints
from tests.ledger.test_concurrent_moves import NOW, WAIT_SECONDS, in_thread, wait_until_blocked
from tests.ledger.test_tier_rounds_lock_order import order, points


def test_a_page_decided_in_batches_and_an_expiry_run_at_once_do_not_deadlock(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time, from BEGIN")
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "https://shop.example.com").id
        carol = account_customer(session, store_id, 5, "carol@example.com").id
        alice = account_customer(session, store_id, 7, "alice@example.com").id
    assert carol < alice
    with session_scope(engine) as session:  # carol bought order 3 before, alice order 4
        earlier = [order(3, 5, "2025-04-01T10:00:00"), order(4, 7, "2025-04-02T10:00:00")]
        points(store_id, tiers=None).process(session, earlier, now=NOW)

    real_record = OrderPoints._record
    recorded, go = threading.Event(), threading.Event()

    def record_then_wait(self: OrderPoints, *args: Any, **kwargs: Any) -> Any:
        entries = real_record(self, *args, **kwargs)
        if not recorded.is_set():  # the first batch's rows (alice's) are held
            recorded.set()
            assert go.wait(WAIT_SECONDS)
        return entries

    monkeypatch.setattr(OrderPoints, "_record", record_then_wait)
    # alice's orders 1 and 2, then order 2 again, carol's now: two batches, carol's second
    page = [
        order(1, 7, "2025-05-01T10:00:00"),
        order(2, 7, "2025-05-02T10:00:00"),
        order(2, 5, "2025-05-02T10:00:00"),
    ]
    sync, _, _, sync_errors = in_thread(
        lambda s: points(store_id, tiers=None).process(s, page, now=NOW), engine
    )
    sync.start()
    try:
        assert recorded.wait(WAIT_SECONDS), sync_errors
        expiry, pid, done, expired = in_thread(lambda s: lock_store_balances(s, store_id), engine)
        expiry.start()
        assert wait_until_blocked(engine, pid, done), expired  # on a row the page holds
    finally:
        go.set()
    sync.join(WAIT_SECONDS)
    expiry.join(WAIT_SECONDS)

    assert not sync_errors, (
        f"the sync: {str(sync_errors[0]).splitlines()[0]}" if sync_errors else ""
    )
    assert not expired, f"the expiry: {str(expired[0]).splitlines()[0]}" if expired else ""
    with session_scope(engine, readonly=True) as session:  # order 2 is carol's: 2 orders each
        rows = session.execute(select(Balance.customer_id, Balance.balance)).all()
        moved = session.execute(select(TrackedOrder.customer_id).where(TrackedOrder.order_id == 2))
        assert moved.scalar_one() == carol
    held = {int(c): int(b) for c, b in rows}
    assert held[carol] == held[alice] > 0
