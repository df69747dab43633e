"""A dry run (`loyalty sync --dry-run`, `resync --recalculate --dry-run`, a customer's resync) is
one transaction rolled back at its end (`sync.context.Transactions`): every row it writes stays
locked until then. Each unit of work locked its customers' balance rows in ascending order, but a
later unit locked a lower customer after a higher one of an earlier unit, all held: an expiry run
(`loyalty expire`, every balance row in ascending order) held the lower one and waited for the
higher one, which the dry run held while it waited for the lower one. PostgreSQL aborted one of
the two (a review). A dry run now holds the store's writers off from its start
(`ledger.entries.hold_store_writers`), as SQLite's write lock does: they wait for its end.

The test holds each side at its step (a wrapper around the real one), and waits until the expiry
queues on a lock (by its connection's pid, not by sleeping)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import sync.expiry as expiry
import sync.recalculate as recalculate
from ledger.customers import get_or_create_store
from ledger.models import Balance, Customer
from ledger.redemptions import lock_customer
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from rules.expiry import ExpiryRules
from sandbox.store import SandboxStore
from sync.order_points import OrderPoints
from sync.service import run_sync
from sync.summary import SyncSummary
from tests.e2e.test_expiry_reconcile import ALICE, completed_order, gift_shop
from tests.ledger.test_concurrent_moves import NOW, WAIT_SECONDS, in_thread, wait_until_blocked

CAROL = "carol@example.com"


@pytest.fixture
def store() -> SandboxStore:
    shop = gift_shop()
    shop.register_customer(email=CAROL)
    return shop


def order_of(store: SandboxStore, email: str) -> int:
    """A completed order of 100 cards by the account of `email`, now."""
    customer = store.customer_id_by_email(email)
    order = store.place_order(
        customer_id=customer, items=[(int(store.all("products")[0]["id"]), 100)]
    )
    store.set_order_status(order["id"], "completed")
    return int(order["id"])


def ledger_ids(engine: Engine, config: Config) -> tuple[int, dict[str, int], dict[int, int]]:
    """(store, email -> ledger customer id, customer id -> balance), as committed."""
    with session_scope(engine, readonly=True) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        ids = session.execute(select(Customer.email, Customer.id)).all()
        held = session.execute(select(Balance.customer_id, Balance.balance)).all()
    return store_id, {str(e): int(c) for e, c in ids}, {int(c): int(b) for c, b in held}


def test_a_dry_run_and_an_expiry_run_at_once_do_not_deadlock(
    config: Config,
    store: SandboxStore,
    sync: Callable[..., SyncSummary],
    engine_for: Callable[[], Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = engine_for()
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time, from BEGIN")
    now = datetime.now(UTC).replace(microsecond=0)
    first = {ALICE: completed_order(store, now - timedelta(days=3))}
    first[CAROL] = order_of(store, CAROL)
    sync(config)
    store_id, ids, before = ledger_ids(engine, config)
    high, low = sorted((ALICE, CAROL), key=ids.__getitem__, reverse=True)
    assert min(before[ids[high]], before[ids[low]]) > 0
    # the dry run's live orders give `high` more points, its trashed orders (later, in a unit of
    # their own) take `low`'s back
    order_of(store, high)
    store.delete_order(first[low], force=False)

    real_lock = expiry.lock_store_balances
    settled, expire = threading.Event(), threading.Event()

    def lock_when_told(session: Session, store_id: int) -> int:
        settled.set()  # where the entries end is read (`settled_entry_id`): nothing is held
        assert expire.wait(WAIT_SECONDS)
        return real_lock(session, store_id)

    monkeypatch.setattr(expiry, "lock_store_balances", lock_when_told)
    real_record = OrderPoints._record
    recorded, go = threading.Event(), threading.Event()

    def record_then_wait(self: OrderPoints, *args: Any, **kwargs: Any) -> Any:
        entries = real_record(self, *args, **kwargs)
        if entries and not recorded.is_set():  # the live orders' rows (`high`'s) are held
            recorded.set()
            assert go.wait(WAIT_SECONDS)
        return entries

    monkeypatch.setattr(OrderPoints, "_record", record_then_wait)

    rules = ExpiryRules(enabled=True, days=365)
    expiring, pid, done, expired = in_thread(
        lambda s: expiry.run_expiry(s, store_id, rules, as_of=now.date(), now=now), engine
    )
    dry: list[SyncSummary] = []
    failed: list[BaseException] = []

    def dry_run() -> None:
        try:
            dry.append(run_sync(sync_settings(config), dry_run=True, engine=engine))
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failed.append(error)
        finally:
            recorded.set()

    running = threading.Thread(target=dry_run, daemon=True)
    expiring.start()
    try:
        assert settled.wait(WAIT_SECONDS), expired
        running.start()
        assert recorded.wait(WAIT_SECONDS)
        assert not failed, failed
        expire.set()
        assert wait_until_blocked(engine, pid, done), expired  # on a row the dry run holds
    finally:
        expire.set()
        go.set()
    running.join(WAIT_SECONDS)
    expiring.join(WAIT_SECONDS)

    assert not failed, f"the dry run: {str(failed[0]).splitlines()[0]}" if failed else ""
    assert not expired, f"the expiry: {str(expired[0]).splitlines()[0]}" if expired else ""
    [summary] = dry
    assert summary.dry_run
    assert summary.entries_appended >= 2  # high's new order, low's trashed one
    assert ledger_ids(engine, config)[2] == before  # nothing written, nothing expired yet


def test_a_recalculation_dry_run_holds_the_stores_writers_until_it_ends(
    config: Config,
    store: SandboxStore,
    sync: Callable[..., SyncSummary],
    engine_for: Callable[[], Engine],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`resync --recalculate --dry-run` is one transaction too, a batch after another and a
    source after another (orders, then each owner's reviews, …), in no order of customers: a
    writer of a customer it has not reached yet waits for its end, from its start."""
    engine = engine_for()
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time, from BEGIN")
    completed_order(store, datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))
    order_of(store, CAROL)
    sync(config)
    store_id, ids, before = ledger_ids(engine, config)

    real_append = recalculate.append_entries
    appending, go = threading.Event(), threading.Event()

    def append_when_told(*args: Any, **kwargs: Any) -> Any:
        if not appending.is_set():  # the first batch, before it locks any balance row
            appending.set()
            assert go.wait(WAIT_SECONDS)
        return real_append(*args, **kwargs)

    monkeypatch.setattr(recalculate, "append_entries", append_when_told)
    runs: list[Any] = []
    failed: list[BaseException] = []

    def dry_run() -> None:
        try:
            settings = sync_settings(config)
            runs.append(
                recalculate.run_recalculation(
                    settings, point_value=Decimal("0.01"), dry_run=True, engine=engine
                )
            )
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failed.append(error)
        finally:
            appending.set()

    running = threading.Thread(target=dry_run, daemon=True)
    running.start()
    adjusting, pid, done, adjusted = in_thread(
        lambda s: lock_customer(s, store_id, ids[CAROL], now=NOW), engine
    )
    try:
        assert appending.wait(WAIT_SECONDS)
        assert not failed, failed
        adjusting.start()
        assert wait_until_blocked(engine, pid, done), adjusted  # on the store's row
        assert not done.is_set()
    finally:
        go.set()
    running.join(WAIT_SECONDS)
    adjusting.join(WAIT_SECONDS)

    assert not failed, f"the dry run: {str(failed[0]).splitlines()[0]}" if failed else ""
    assert not adjusted, f"the writer: {str(adjusted[0]).splitlines()[0]}" if adjusted else ""
    assert [run.dry_run for run in runs] == [True]
    assert ledger_ids(engine, config)[2] == before
