"""The main job, end to end: the real sync against the sandbox store over real HTTP, real databases."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import responses
from requests import PreparedRequest
from sqlalchemy import Engine, func, select

from ledger.balances import verify_balances
from ledger.models import MetaWrite, PointEntry, QuarantinedItem
from ledger.rollup_checks import verify_rollups
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.errors import StoreUnavailable
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.conftest import always_check_known_orders, balances_of
from tests.e2e.expected import expected_balances, ledger_balances, meta_balances

Sync = Callable[..., SyncSummary]


def entry_count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(session.execute(select(func.count()).select_from(PointEntry)).scalar_one())


def assert_exact(store: SandboxStore, config: Config, engine: Engine) -> None:
    """Ledger = independent computation = customer meta in the store; balances = entry sums."""
    expected = expected_balances(store)
    ledger = ledger_balances(balances_of(config, engine))
    assert ledger == expected
    accounts = {h: p for h, p in expected.items() if h[0] == "account"}
    assert meta_balances(store) == accounts
    with session_scope(engine) as session:
        assert verify_balances(session) == []
        assert verify_rollups(session) == []  # rollups and per-product lines too


def test_full_sync_gives_every_customer_the_independently_computed_balance(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    summary = sync()
    assert summary.orders_seen >= len(store.all("orders"))
    assert summary.customers_written > 0
    assert expected_balances(store), "the generated store should hold points"
    assert_exact(store, config, engine_for())


def test_second_sync_appends_nothing_and_writes_nothing(
    sync: Sync, sandbox: SandboxServer, engine_for: Callable[[], Engine]
) -> None:
    sync()
    engine = engine_for()
    before = entry_count(engine)
    sandbox.request_log.clear()
    summary = sync()
    assert summary.entries_appended == 0
    assert summary.customers_written == 0
    assert entry_count(engine) == before
    # One request per source: customers, refunds, live orders, trashed orders; no writes at all.
    assert sandbox.request_log.count(method="POST") == 0
    assert sandbox.request_log.count() == 4


def test_one_incremental_sync_makes_ledger_and_meta_exact_after_store_activity(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    sync()
    customer = store.all("customers")[0]
    product = store.all("products")[0]["id"]
    placed = store.place_order(
        customer_id=customer["id"], items=[(product, 3)], status="processing"
    )
    store.set_order_status(placed["id"], "completed")
    flapping = store.place_order(
        customer_id=customer["id"], items=[(product, 1)], status="completed"
    )
    store.set_order_status(flapping["id"], "cancelled")
    store.set_order_status(flapping["id"], "completed")
    partly = store.place_order(customer_id=customer["id"], items=[(product, 4)], status="completed")
    line = store.get("orders", partly["id"])["line_items"][0]["id"]
    store.refund_order(partly["id"], lines=[(line, 1)])
    fully = store.place_order(email="walk-in@example.org", items=[(product, 2)], status="completed")
    store.refund_order(fully["id"], amount=Decimal(store.get("orders", fully["id"])["total"]))
    completed = [o for o in store.all("orders") if o["status"] == "completed" and not o["refunds"]]
    store.delete_order(completed[0]["id"], force=True)
    store.delete_order(completed[1]["id"], force=False)
    refunded = list(store.all("refunds"))
    store.delete_refund(refunded[0]["id"])

    sync(**always_check_known_orders())
    assert_exact(store, config, engine_for())


def test_request_count_of_a_full_sync_is_close_to_the_minimum(
    sync: Sync, store: SandboxStore, sandbox: SandboxServer
) -> None:
    sandbox.request_log.clear()
    summary = sync()
    orders = len(store.all("orders"))
    refunds = len(store.all("refunds"))
    written = summary.customers_written
    customers = len(store.all("customers"))
    minimum = math.ceil(orders / 100) + math.ceil(refunds / 100) + math.ceil(written / 100)
    # The small constant: one request per source beyond its pages (customers listing, the last
    # partial page of each time slice, the trash listing).
    assert sandbox.request_log.count() <= minimum + math.ceil(customers / 100) + 8
    assert sandbox.request_log.count() == summary.requests


def test_dry_run_reads_the_store_and_writes_nothing_anywhere(
    sync: Sync, sandbox: SandboxServer, engine_for: Callable[[], Engine]
) -> None:
    summary = sync(dry_run=True)
    assert summary.entries_appended > 0
    assert summary.changes
    assert summary.pending_writes > 0
    assert sandbox.request_log.count(method="POST") == 0
    engine = engine_for()
    assert entry_count(engine) == 0
    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(MetaWrite)).scalar_one() == 0


def test_guest_points_move_to_the_account_that_registers_with_the_same_email(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    product = store.all("products")[0]["id"]
    store.place_order(email="Later.Member@Example.org", items=[(product, 5)], status="completed")
    sync()
    engine = engine_for()
    guests = {r.email: r.balance for r in balances_of(config, engine) if r.customer_id is None}
    assert guests["later.member@example.org"] > 0
    account = store.register_customer(email="later.member@example.org")
    summary = sync()
    assert summary.transfers == 1
    rows = {(r.customer_id, r.email): r.balance for r in balances_of(config, engine)}
    assert rows.get((None, "later.member@example.org"), 0) == 0
    assert_exact(store, config, engine)
    assert meta_balances(store)[("account", account["id"])] > 0


def test_malformed_orders_are_quarantined_and_the_sync_goes_on(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    victim = next(o for o in store.all("orders") if o["status"] == "completed")
    store._data["orders"][victim["id"]]["total"] = "12,50"  # a plugin wrote a localised amount
    summary = sync()
    assert summary.quarantined == 1
    engine = engine_for()
    with session_scope(engine) as session:
        item = session.execute(select(QuarantinedItem)).scalar_one()
    assert item.item_ref == str(victim["id"])
    assert item.field == "total"
    assert '"12,50"' in item.payload


def test_a_customer_deleted_in_the_store_is_recorded_and_not_retried_forever(
    sync: Sync, store: SandboxStore, sandbox: SandboxServer, engine_for: Callable[[], Engine]
) -> None:
    product = store.all("products")[0]["id"]
    doomed = store.register_customer(email="leaving@example.org")
    store.place_order(customer_id=doomed["id"], items=[(product, 2)], status="completed")

    def delete_before_the_write(method: str, path: str, query: dict[str, object]) -> None:
        if method == "POST" and path.endswith("/customers/batch"):
            sandbox.before_request = None
            store.delete_customer(doomed["id"], force=True)

    sandbox.before_request = delete_before_the_write
    first = sync()
    assert first.write_gave_up == 1
    assert first.customers_written > 0, "the other customers of the batch are written"
    sandbox.request_log.clear()
    second = sync()
    assert second.write_gave_up == 0
    assert sandbox.request_log.count(method="POST") == 0
    engine = engine_for()
    with session_scope(engine) as session:
        state = session.execute(select(MetaWrite).where(MetaWrite.gave_up.is_(True))).scalar_one()
    assert "invalid" in (state.last_error or "").lower()


def sync_answering_batches(
    sync: Sync, sandbox: SandboxServer, item_of: Callable[[int], dict[str, Any]]
) -> SyncSummary:
    """A sync whose `customers/batch` writes are answered 200 with `item_of(id)` for each
    customer, by a store in front of the sandbox (which then holds nothing written)."""

    def answer(request: PreparedRequest) -> tuple[int, dict[str, str], str]:
        ids = [item["id"] for item in json.loads(request.body or b"{}")["update"]]
        return 200, {}, json.dumps({"update": [item_of(i) for i in ids]})

    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add_passthru(sandbox.base_url)
        mock.add_callback(responses.POST, f"{sandbox.base_url}/wp-json/wc/v3/customers/batch",
                          callback=answer, content_type="application/json")  # fmt: skip
        return sync()


def write_errors(engine: Engine) -> list[str | None]:
    """Each account's last write-back error (None: written)."""
    with session_scope(engine) as session:
        return list(session.execute(select(MetaWrite.last_error)).scalars())


@pytest.mark.parametrize("error", ["write failed", True, ["x" * 10_000]])
def test_a_batch_answer_whose_errors_are_not_objects_records_them_and_retries(
    error: object,
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    """`"error": "write failed"` (or `true`) instead of WooCommerce's {code, message} made the
    write-back fail with AttributeError, nothing recorded (found by a review, 3 Dec)."""

    first = sync_answering_batches(sync, sandbox, lambda i: {"id": i, "error": error})

    assert first.write_failures > 0
    assert first.customers_written == 0
    engine = engine_for()
    errors = write_errors(engine)
    assert errors
    assert all(e is not None and 0 < len(e) < 700 for e in errors)
    assert sync().customers_written == first.write_failures
    assert_exact(store, config, engine)


@pytest.mark.parametrize("shown", ["another value", "no value"])
def test_a_batch_answer_showing_the_balance_meta_with_another_value_is_a_failure_retried(
    shown: str,
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    """A plugin that rounds, caps or ignores the meta answers 200 with the customer as it keeps
    it; the write-back recorded the value it sent as written, and never sent it again. A key the
    answer does not show at all (WooCommerce hides some) proves nothing and counts as written."""
    balance_key = config.points.balance_meta_key

    meta = [{"id": 1, "key": balance_key, "value": "0"}] if shown == "another value" else []

    first = sync_answering_batches(sync, sandbox, lambda i: {"id": i, "meta_data": meta})

    engine = engine_for()
    errors = write_errors(engine)
    if shown == "no value":
        assert (first.write_failures, first.customers_written > 0) == (0, True)
        assert errors == [None] * len(errors)
        return
    assert first.write_failures > 0
    assert first.customers_written == 0
    assert all(
        f"meta_not_kept: the store kept {balance_key} = '0', not '" in (e or "") for e in errors
    )
    assert sync().customers_written == first.write_failures
    assert_exact(store, config, engine)


def test_a_failed_write_back_is_kept_and_retried_on_the_next_run(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    impatient = replace(config, store=replace(config.store, max_retry_seconds=0.0))
    sandbox.set_faults("5xx=1.0", seed=3)
    sandbox.before_request = lambda method, path, query: (
        sandbox.set_faults("5xx=1.0", seed=3) if method == "POST" else sandbox.set_faults(None)
    )
    first = sync(impatient)
    assert first.write_failures > 0
    assert first.customers_written == 0
    assert not first.ok
    sandbox.before_request = None
    sandbox.set_faults(None)
    second = sync()
    assert second.customers_written == first.write_failures
    assert_exact(store, config, engine_for())


def test_first_order_bonus_is_its_own_entry_and_follows_the_orders(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    bonus_config = replace(config, rules=replace(config.rules, first_order_points=50))
    product = store.all("products")[0]["id"]
    member = store.register_customer(email="bonus@example.org")
    order = store.place_order(customer_id=member["id"], items=[(product, 1)], status="completed")
    sync(bonus_config)
    engine = engine_for()
    with session_scope(engine) as session:
        bonuses = (
            session.execute(select(PointEntry.points).where(PointEntry.kind == "first_order"))
            .scalars()
            .all()
        )
    assert 50 in bonuses
    store.set_order_status(order["id"], "cancelled")
    sync(bonus_config)
    rows = {r.customer_id: r.balance for r in balances_of(config, engine)}
    assert rows.get(member["id"], 0) == 0


def test_a_full_resync_after_incremental_ones_reaches_the_same_state_and_appends_nothing(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    sync()
    product = store.all("products")[0]["id"]
    store.place_order(email="late@example.org", items=[(product, 2)], status="completed")
    sync()
    engine = engine_for()
    before = balances_of(config, engine)
    entries = entry_count(engine)
    full = sync(full=True)
    assert full.entries_appended == 0
    assert full.customers_written == 0
    assert balances_of(config, engine) == before
    assert entry_count(engine) == entries
    assert_exact(store, config, engine)


def test_an_interrupted_customer_listing_starts_over_and_still_links_the_guest(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    product = store.all("products")[0]["id"]
    store.place_order(email="early.guest@example.org", items=[(product, 3)], status="completed")
    sync()
    # The guest registers first, then 150 others: newest first, the guest is on the second page.
    store.register_customer(email="early.guest@example.org")
    for n in range(150):
        store.register_customer(email=f"member{n}@example.org")

    def fail_second_customer_page(method: str, path: str, query: dict[str, object]) -> None:
        second = path.endswith("/customers") and str(query.get("page")) == "2"
        sandbox.set_faults("5xx=1.0" if second else None)

    impatient = replace(config, store=replace(config.store, max_retry_seconds=0.0))
    sandbox.before_request = fail_second_customer_page
    with pytest.raises(StoreUnavailable):
        sync(impatient)
    sandbox.before_request = None
    sandbox.set_faults(None)

    resumed = sync()
    assert resumed.transfers == 1
    assert_exact(store, config, engine_for())
