"""Storefront redemption requests in customer meta, and the automatic voucher, end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, select

from ledger.models import QuarantinedItem, Redemption
from ledger.session import session_scope
from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.e2e.conftest import meta
from tests.e2e.test_redemption import EMAIL, TIERS, alice, give, ours, store  # noqa: F401

Sync = Callable[..., Any]


@pytest.fixture
def shop_config(config: Config) -> Config:
    return replace(config, redemption=TIERS)


def ask(shop: SandboxStore, wc_id: int, value: Any) -> None:
    text = value if isinstance(value, str) else json.dumps(value)
    shop.update_customer(wc_id, {"meta_data": [{"key": "loyalty_redeem_request", "value": text}]})


def our_coupons(shop: SandboxStore) -> list[dict[str, Any]]:
    return [c for c in shop.all("coupons") if c["code"] != "welcome10"]


def test_a_request_gives_a_coupon_restricted_to_the_customer_and_is_cleared(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    give(shop_config, engine, alice, 1500)
    ask(store, alice, {"id": "r-42", "tier": "10-off"})

    summary = sync(shop_config)

    [coupon] = our_coupons(store)
    assert (coupon["amount"], coupon["email_restrictions"]) == ("10.00", [EMAIL])
    assert (coupon["usage_limit"], coupon["usage_limit_per_user"]) == (1, 1)
    listed = json.loads(meta(store, alice, "loyalty_coupons"))
    assert listed == [
        {
            "code": coupon["code"],
            "amount": "10.00",
            "expires": listed[0]["expires"],
            "redemption_id": listed[0]["redemption_id"],
        }
    ]
    assert listed[0]["expires"][:19] == coupon["date_expires_gmt"]
    assert meta(store, alice, "loyalty_redeem_request") == ""
    assert meta(store, alice, "loyalty_points") == "500"
    assert summary.redemptions["storefront_issued"] == 1
    assert "coupons_listed" not in summary.redemptions  # the answer listed it, and recorded so

    again = sync(shop_config)
    assert len(our_coupons(store)) == 1
    assert again.entries_appended == 0
    assert again.redemptions.get("storefront_issued", 0) == 0


def test_the_same_request_id_twice_gives_one_coupon(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    give(shop_config, engine, alice, 5000)
    ask(store, alice, {"id": "r-7", "tier": "10-off"})
    sync(shop_config)
    ask(store, alice, {"id": "r-7", "tier": "10-off"})

    sync(shop_config)

    assert len(our_coupons(store)) == 1
    assert len(json.loads(meta(store, alice, "loyalty_coupons"))) == 1
    assert meta(store, alice, "loyalty_redeem_request") == ""
    assert meta(store, alice, "loyalty_points") == "4000"


@pytest.mark.parametrize(
    ("request_value", "message"),
    [
        ('{"id": "r-1", "tier": ', "the request is not valid JSON"),
        ({"id": "r-2", "tier": "99-off"}, "unknown tier '99-off' (tiers: 10-off, 40-off)"),
        ({"id": "r-3", "tier": "40-off"}, "the 40-off tier needs 3400 points, the balance is 1500: 1900 points"),
        ({"id": "r-4"}, "the request must name either a tier or a number of points"),
        ({"id": "r-5", "points": 1000}, "redeeming a number of points needs points_per_unit"),
    ],
)  # fmt: skip
def test_an_invalid_request_is_answered_in_meta_with_its_id_and_recorded(
    request_value: Any,
    message: str,
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    give(shop_config, engine, alice, 1500)
    ask(store, alice, request_value)

    sync(shop_config)

    answer = json.loads(meta(store, alice, "loyalty_redeem_error"))
    expected_id = None if isinstance(request_value, str) else request_value["id"]
    assert answer["id"] == expected_id
    assert message in answer["message"]
    assert meta(store, alice, "loyalty_redeem_request") == ""
    assert our_coupons(store) == []
    with session_scope(engine) as session:
        [recorded] = session.execute(select(QuarantinedItem)).scalars()
        assert (recorded.resource, recorded.item_ref) == (
            "redeem_request",
            f"{alice}:{expected_id or '?'}",
        )
        assert message in recorded.error
        assert session.execute(select(Redemption)).first() is None
    assert meta(store, alice, "loyalty_points") == "1500"


def test_an_id_used_before_for_something_else_is_refused(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    give(shop_config, engine, alice, 5000)
    ask(store, alice, {"id": "r-9", "tier": "10-off"})
    sync(shop_config)
    ask(store, alice, {"id": "r-9", "tier": "40-off"})

    sync(shop_config)

    answer = json.loads(meta(store, alice, "loyalty_redeem_error"))
    assert answer["id"] == "r-9"
    assert "request id 'r-9' was already used for" in answer["message"]
    assert len(our_coupons(store)) == 1


def test_finding_requests_reads_only_the_customers_able_to_redeem_and_a_rotating_slice(
    shop_config: Config,
    engine: Engine,
    sandbox: SandboxServer,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    poor = [store.register_customer(email=f"p{n}@example.com")["id"] for n in range(5)]
    give(shop_config, engine, alice, 1500)
    for wc_id in poor:
        give(shop_config, engine, wc_id, 10)
    ask(store, poor[3], {"id": "r-1", "tier": "10-off"})
    rotating = replace(shop_config, redemption=replace(TIERS, request_scan=2))

    reads = []
    for _ in range(3):
        before = sandbox.request_log.count()
        sync(rotating)
        reads.append(
            [
                r
                for r in sandbox.request_log.entries()[before:]
                if r.path.endswith("/customers") and "include" in r.query
            ]
        )

    # Every run: one request of 100 ids, holding alice (can redeem) and two of the others.
    assert [len(run) for run in reads] == [1, 1, 1]
    answer = json.loads(meta(store, poor[3], "loyalty_redeem_error"))
    assert "1 point missing" not in answer["message"]
    assert "990 points missing" in answer["message"]


def test_the_auto_issue_tier_issues_a_coupon_once_the_balance_reaches_it(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    auto = replace(shop_config, redemption=replace(TIERS, auto_issue_tier="10-off"))
    give(auto, engine, alice, 999)
    sync(auto)
    assert our_coupons(store) == []

    give(auto, engine, alice, 1)
    summary = sync(auto)

    [coupon] = our_coupons(store)
    assert coupon["amount"] == "10.00"
    assert summary.redemptions["auto_issued"] == 1
    assert [c["code"] for c in json.loads(meta(store, alice, "loyalty_coupons"))] == [
        coupon["code"]
    ]
    assert meta(store, alice, "loyalty_points") == "0"
    assert sync(auto).redemptions.get("auto_issued", 0) == 0
    assert len(our_coupons(store)) == 1


def test_an_account_deleted_in_the_store_is_not_read_for_requests_again(
    shop_config: Config,
    engine: Engine,
    sandbox: SandboxServer,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    """Its balance went back to its email; reading it by id every run found nothing, for ever."""
    give(shop_config, engine, alice, 1500)
    sync(shop_config)
    requests.delete(f"{sandbox.base_url}/sandbox/customers/{alice}", timeout=10).raise_for_status()
    give(shop_config, engine, alice, 1)  # the write-back finds the account gone
    assert sync(shop_config).accounts_deleted == 1

    before = sandbox.request_log.count()
    sync(shop_config)

    asked = [
        r.query.get("include", "")
        for r in sandbox.request_log.entries()[before:]
        if r.path.endswith("/customers") and "include" in r.query
    ]
    assert all(str(alice) not in str(ids).split(",") for ids in asked), asked
