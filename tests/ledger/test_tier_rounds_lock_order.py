"""With tiers, a page's orders are recorded in rounds (`sync.order_points.OrderPoints._rounds`),
one append after another in one transaction: the customers of a later round (the customer an
order moves away from) were locked after those of the first, out of ascending order. An expiry
run (`loyalty expire`, the worker's daily task) that had read where the entries end just before
the page's transaction began locks every balance row in ascending order: it held the later
round's customer and waited for the first round's, which waited for it, and PostgreSQL aborted
one of the two (found by a review of concurrent runs, 5 Dec). Every customer the rounds touch is
now locked at once, in ascending order, before the first round."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import sync.expiry as expiry
from ledger.customers import account_customer, get_or_create_store
from ledger.models import Balance
from ledger.session import session_scope
from rules.expiry import ExpiryMode, ExpiryRules
from rules.tiers import Tier, TierRules
from rules.types import PurchaseRuleBook
from sync.order_points import OrderPoints
from sync.owners import OwnerDirectory
from tests.ledger.test_concurrent_moves import NOW, WAIT_SECONDS, in_thread, wait_until_blocked
from tests.samples import WOOCOMMERCE_SAMPLES

TIERS = TierRules(tiers=(Tier("silver", 1000),))
EXPIRY = ExpiryRules(enabled=True, mode=ExpiryMode.PER_LOT, days=365)


def order(order_id: int, wc_customer: int, created: str) -> dict[str, Any]:
    raw = json.loads((WOOCOMMERCE_SAMPLES / "order.json").read_text(encoding="utf-8"))
    raw.update(
        id=order_id,
        status="completed",
        customer_id=wc_customer,
        date_created_gmt=created,
        date_modified_gmt="2025-05-30T10:00:00",
    )
    return raw


def points(store_id: int, tiers: TierRules | None = TIERS) -> OrderPoints:
    """The orders' decisions of a sync of the store (with tiers, unless `tiers` is None)."""
    return OrderPoints(
        store_id,
        PurchaseRuleBook(),
        first_order_bonus=0,
        owners=OwnerDirectory(store_id),
        fetch_refunds=lambda wanted: [],
        categories=None,
        tiers=tiers,
        store_now=lambda: NOW,
    )


def test_a_page_recorded_in_rounds_and_an_expiry_run_at_once_do_not_deadlock(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time, from BEGIN")
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "https://shop.example.com").id
        carol = account_customer(session, store_id, 5, "carol@example.com").id
        alice = account_customer(session, store_id, 7, "alice@example.com").id
    assert carol < alice
    with session_scope(engine) as session:  # order 2 was carol's; alice bought order 3 before
        earlier = [order(2, 5, "2025-05-02T10:00:00"), order(3, 7, "2025-04-01T10:00:00")]
        points(store_id).process(session, earlier, now=NOW)

    # the expiry has read where the entries end; it locks the balance rows once released
    real_lock = expiry.lock_store_balances
    reading, locking = threading.Event(), threading.Event()

    def lock_when_told(session: Session, store: int) -> int:
        reading.set()
        assert locking.wait(WAIT_SECONDS)
        return real_lock(session, store)

    monkeypatch.setattr(expiry, "lock_store_balances", lock_when_told)
    run, pid, done, expiry_errors = in_thread(
        lambda s: expiry.run_expiry(s, store_id, EXPIRY, as_of=NOW.date(), now=NOW), engine
    )
    run.start()
    assert reading.wait(WAIT_SECONDS), expiry_errors

    # the page: alice's own order 1, and order 2, moved from carol to alice: two rounds
    real_record = OrderPoints._record
    recorded, go = threading.Event(), threading.Event()

    def record_then_wait(self: OrderPoints, *args: Any, **kwargs: Any) -> Any:
        entries = real_record(self, *args, **kwargs)
        if not recorded.is_set():  # the first round's rows are held
            recorded.set()
            assert go.wait(WAIT_SECONDS)
        return entries

    monkeypatch.setattr(OrderPoints, "_record", record_then_wait)
    page = [order(1, 7, "2025-05-01T10:00:00"), order(2, 7, "2025-05-02T10:00:00")]
    sync, _, _, sync_errors = in_thread(
        lambda s: points(store_id).process(s, page, now=NOW), engine
    )
    sync.start()
    try:
        assert recorded.wait(WAIT_SECONDS), sync_errors
        locking.set()
        assert wait_until_blocked(engine, pid, done), expiry_errors  # on a balance row
    finally:
        locking.set()
        go.set()
    sync.join(WAIT_SECONDS)
    run.join(WAIT_SECONDS)

    assert not sync_errors, f"the sync: {str(sync_errors[0]).splitlines()[0]}"
    assert not expiry_errors, f"the expiry: {str(expiry_errors[0]).splitlines()[0]}"
    with session_scope(engine, readonly=True) as session:  # both orders are alice's now
        rows = session.execute(select(Balance.customer_id, Balance.balance)).all()
    held = {int(c): int(b) for c, b in rows}
    assert held[carol] == 0
    assert held[alice] > 0
