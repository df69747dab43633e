"""An email the ledger cannot hold (a NUL in it, or longer than the 320 characters of
`customers.email`), served by a hostile or broken store, is one bad item: quarantined with the
field named, the rest of the run exact. It was written as it came: PostgreSQL refused the row
("text fields cannot contain NUL bytes", "value too long for type character varying(320)") and
every run stopped there with an internal error, whatever else the store held."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.e2e.activity import entries_of
from tests.e2e.activity import quarantined as quarantined_reviews
from tests.e2e.test_bad_items import (
    Sync,
    assert_exact_without,
    earning_order,
    first_page_ids,
    quarantined,
    serve_broken,
)
from tests.e2e.test_review_sync import reviews_on  # noqa: F401 # a fixture

UNHOLDABLE = {
    "a NUL": "guest\x00@example.org",
    "401 characters": "g" * 389 + "@example.org",
}


@pytest.mark.parametrize("email", list(UNHOLDABLE))
def test_a_guest_order_whose_billing_email_the_ledger_cannot_hold_is_quarantined(
    email: str,
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    victim = earning_order(store, first_page_ids(sandbox)[10:])
    billing = {**store.get("orders", victim)["billing"], "email": UNHOLDABLE[email]}
    serve_broken(sandbox, "orders", victim, {"patch": {"customer_id": 0, "billing": billing}})

    summary = sync()

    engine = engine_for()
    assert summary.quarantined == 1
    [item] = quarantined(engine)
    assert (item.resource, item.field, item.item_ref) == ("orders", "billing.email", str(victim))
    assert_exact_without(store, config, engine, {victim})


@pytest.mark.parametrize("email", list(UNHOLDABLE))
def test_an_account_whose_email_the_ledger_cannot_hold_is_quarantined(
    email: str,
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    engine_for: Callable[[], Engine],
) -> None:
    customer = store.all("customers")[3]["id"]
    serve_broken(sandbox, "customers", customer, {"patch": {"email": UNHOLDABLE[email]}})

    summary = sync()

    assert summary.quarantined == 1
    [item] = quarantined(engine_for())
    assert (item.resource, item.field, item.item_ref) == ("customers", "email", str(customer))


def test_a_review_whose_email_holds_a_nul_is_quarantined(
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    reviews_on: Config,  # noqa: F811 # the fixture
    engine_for: Callable[[], Engine],
) -> None:
    product = store.all("products")[0]["id"]
    broken = store.add_review(product_id=product, email="x@example.org", name="X", rating=5,
                              text="?", status="approved")  # fmt: skip
    fine = store.add_review(product_id=product, email="y@example.org", name="Y", rating=5,
                            text="!", status="approved")  # fmt: skip
    sandbox.overrides.patch("reviews", broken["id"], {"reviewer_email": UNHOLDABLE["a NUL"]})

    summary = sync(reviews_on)

    engine = engine_for()
    assert summary.quarantined == 1
    assert "reviewer_email" in quarantined_reviews(engine, "reviews")[str(broken["id"])]
    assert entries_of(engine, f"review:{fine['id']}") == [10]


@pytest.mark.parametrize("email", list(UNHOLDABLE))
def test_an_account_order_whose_billing_email_the_ledger_cannot_hold_earns_as_usual(
    email: str,
    sync: Sync,
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    engine_for: Callable[[], Engine],
) -> None:
    """An account's order is held by the account: its billing email is never read nor written,
    so an email the ledger cannot hold there is no fault of the order (it was quarantined, its
    points never earned, and a refund of an order earned before never taken back)."""
    accounts = [o for o in first_page_ids(sandbox)[10:] if store.get("orders", o)["customer_id"]]
    victim = earning_order(store, accounts)
    billing = {**store.get("orders", victim)["billing"], "email": UNHOLDABLE[email]}
    serve_broken(sandbox, "orders", victim, {"patch": {"billing": billing}})

    summary = sync()

    engine = engine_for()
    assert summary.quarantined == 0
    assert quarantined(engine) == []
    assert_exact_without(store, config, engine, set())
