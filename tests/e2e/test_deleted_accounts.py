"""An account deleted in the store gives its points back to its email, and gets no meta again.

WordPress deletes the user and turns its orders into guest orders billed to the same email, without
touching their modified date. The sync learns of it when the store says the customer is missing:
the write-back answers `woocommerce_rest_invalid_id`, or the account's orders come back as guest
orders and the store no longer lists the account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import Engine, select

from ledger.admin import InvalidAdjustment, adjust
from ledger.balances import verify_balances
from ledger.customers import get_or_create_store
from ledger.kinds import SourceKind
from ledger.models import Customer, PointEntry
from ledger.session import session_scope
from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.conftest import always_check_known_orders, balances_of
from tests.e2e.expected import expected_balances, ledger_balances, meta_balances

Sync = Callable[..., SyncSummary]
EMAIL = "leaving@example.org"


def delete_account(sandbox: SandboxServer, wc_id: int) -> None:
    """An admin deletes the account, through the sandbox's control API."""
    requests.delete(f"{sandbox.base_url}/sandbox/customers/{wc_id}", timeout=10).raise_for_status()


def account_with_orders(store: SandboxStore) -> int:
    product = store.all("products")[0]["id"]
    account = store.register_customer(email=EMAIL)
    for quantity in (2, 3):
        store.place_order(
            customer_id=account["id"], items=[(product, quantity)], status="completed"
        )
    return int(account["id"])


def long_time_customer(store: SandboxStore) -> tuple[int, str]:
    """A generated customer with old earning orders, all billed to the account's email."""
    expected = expected_balances(store)
    for customer in store.all("customers"):
        orders = [o for o in store.all("orders") if o["customer_id"] == customer["id"]]
        emails = {o["billing"]["email"].strip().lower() for o in orders}
        email = customer["email"].strip().lower()
        if orders and emails == {email} and expected.get(("account", customer["id"]), 0) > 0:
            return int(customer["id"]), email
    raise AssertionError("the generated store has no customer to delete")


def adjust_by_hand(config: Config, engine: Engine, wc_id: int, points: int) -> None:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, config.require_store().key).id
        adjust(session, store_id, wc_id, points, "goodwill", now=datetime.now(UTC))


def holdings(config: Config, engine: Engine) -> dict[tuple[str, object], int]:
    return ledger_balances(balances_of(config, engine))


def transfers_of(engine: Engine) -> list[PointEntry]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(PointEntry)
            .where(PointEntry.kind == SourceKind.TRANSFER.value)
            .order_by(PointEntry.id)
        ).scalars()
        return list(rows)


@pytest.mark.slow
def test_a_deleted_account_found_by_the_write_back_gives_orders_and_adjustments_to_its_email(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    wc_id, email = long_time_customer(store)
    sync()
    engine = engine_for()
    orders_points = holdings(config, engine)[("account", wc_id)]
    adjust_by_hand(config, engine, wc_id, 40)  # points no order carries
    delete_account(sandbox, wc_id)

    summary = sync()  # the write-back of the adjusted balance finds the account gone

    assert (summary.write_gave_up, summary.accounts_deleted) == (1, 1)
    expected = expected_balances(store)
    assert expected[("guest", email)] == orders_points
    expected[("guest", email)] += 40
    assert holdings(config, engine) == expected
    assert meta_balances(store) == {h: p for h, p in expected.items() if h[0] == "account"}
    [out, into] = transfers_of(engine)
    assert (out.points, into.points) == (-(orders_points + 40), orders_points + 40)
    assert out.source_ref == into.source_ref
    assert f"account {wc_id} deleted in the store" in (out.note or "")
    with session_scope(engine) as session:
        assert verify_balances(session) == []
        account = session.execute(select(Customer).where(Customer.wc_id == wc_id)).scalar_one()
        assert account.deleted_at is not None

    sandbox.request_log.clear()
    again = sync()
    assert (again.entries_appended, again.accounts_deleted, again.write_gave_up) == (0, 0, 0)
    assert sandbox.request_log.count(method="POST") == 0, "nothing is written to it again"

    returning = store.register_customer(email=email)
    back = sync()
    assert back.transfers == 1, "registering again brings the points back"
    assert meta_balances(store)[("account", returning["id"])] == orders_points + 40
    assert sync().entries_appended == 0


@pytest.mark.slow
def test_an_account_whose_orders_come_back_as_guest_orders_is_asked_for_and_retired(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    bonus = replace(config, rules=replace(config.rules, first_order_points=25))
    wc_id = account_with_orders(store)
    sync(bonus)
    engine = engine_for()
    before = holdings(config, engine)[("account", wc_id)]
    delete_account(sandbox, wc_id)
    sandbox.request_log.clear()

    summary = sync(bonus, **always_check_known_orders())

    assert summary.accounts_deleted == 1
    asked = sandbox.request_log.entries(path_prefix="/wp-json/wc/v3/customers", method="GET")
    assert any(str(wc_id) in str(entry.query.get("include", "")) for entry in asked)
    assert sandbox.request_log.count(method="POST") == 0, "no meta is written to it"
    balances = holdings(config, engine)
    assert ("account", wc_id) not in balances
    assert balances[("guest", EMAIL)] == before, "orders and the first-order bonus moved"
    with session_scope(engine) as session:
        kinds = session.execute(
            select(PointEntry.kind, PointEntry.points).where(
                PointEntry.kind == SourceKind.FIRST_ORDER.value
            )
        ).all()
        assert verify_balances(session) == []
    assert sum(points for _, points in kinds) > 0
    assert sync(bonus, **always_check_known_orders()).entries_appended == 0


def test_an_adjustment_to_a_deleted_account_is_refused_with_where_its_points_went(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    wc_id = account_with_orders(store)
    sync()
    delete_account(sandbox, wc_id)
    assert sync().accounts_deleted == 1
    with pytest.raises(InvalidAdjustment, match=f"customer {wc_id} was deleted in the store"):
        adjust_by_hand(config, engine_for(), wc_id, 5)


def test_a_guest_order_under_the_email_of_a_deleted_account_not_yet_seen_goes_to_the_new_account(
    sync: Sync, store: SandboxStore, config: Config, engine_for: Callable[[], Engine]
) -> None:
    """An account without points is deleted (nothing tells the sync: it had no orders to come
    back as guest orders, no balance to write), and a guest orders under its email and
    registers. The run that listed the new account gave the order to it (the listing's email),
    the next run to the old account, which the ledger still held with that email and took
    first; its write-back then found it deleted and gave the order back (found by the seeded
    soak: the second sync appended entries)."""
    old = store.register_customer(email=EMAIL)
    sync()
    engine = engine_for()
    store.delete_customer(old["id"], force=True)
    product = store.all("products")[0]["id"]
    store.place_order(email=EMAIL, items=[(product, 4)], status="completed")
    new = store.register_customer(email=EMAIL)
    sync()
    assert holdings(config, engine).get(("account", new["id"]), 0) > 0
    assert sync().entries_appended == 0
    assert holdings(config, engine) == expected_balances(store)
