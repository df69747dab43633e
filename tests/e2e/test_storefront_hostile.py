"""Storefront requests a broken or hostile store can hold: none stops the sync. Each is answered
naming what is wrong, or, when the customer cannot be read at all, left for later and named in
the run's errors; every other customer's request is answered in the same run."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.models import QuarantinedItem, Redemption
from ledger.session import session_scope
from loyalty.config import Config
from sandbox.store import SandboxStore
from tests.e2e.conftest import meta
from tests.e2e.test_redemption import TIERS, alice, give, store  # noqa: F401
from tests.e2e.test_storefront import ask, our_coupons

Sync = Callable[..., Any]


@pytest.fixture
def shop_config(config: Config) -> Config:
    return replace(config, redemption=TIERS)


@pytest.fixture
def bob(store: SandboxStore) -> int:  # noqa: F811
    return int(store.register_customer(email="bob@example.com")["id"])


def bobs_request_is_answered(store: SandboxStore, bob: int) -> None:  # noqa: F811
    [coupon] = our_coupons(store)
    assert [c["code"] for c in json.loads(meta(store, bob, "loyalty_coupons"))] == [coupon["code"]]
    assert meta(store, bob, "loyalty_redeem_request") == ""


@pytest.mark.parametrize(
    ("request_text", "answer_id", "message"),
    [
        # Brackets nested past the decoder: RecursionError stopped every sync.
        ("[" * 100_000, None, "the request is 100,000 characters long; at most 1,000"),
        ('{"id": "r-1", "tier": ' + "[" * 970, None, "the request is not valid JSON"),
        # What no ledger key may hold: PostgreSQL refuses NUL, no encoding takes a lone surrogate.
        ('{"id": "r\\u0000x", "tier": "10-off"}', None, "holds a control or unencodable character"),
        ('{"id": "r\\ud800", "tier": "10-off"}', None, "holds a control or unencodable character"),
        ('{"id": "r-2", "tier": "10\\u0000off"}', "r-2", "is not the name of a tier"),
    ],
)  # fmt: skip
def test_a_request_no_ledger_can_take_is_refused_and_the_others_are_answered(
    request_text: str,
    answer_id: str | None,
    message: str,
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    bob: int,
    sync: Sync,
) -> None:
    give(shop_config, engine, alice, 1500)
    give(shop_config, engine, bob, 1500)
    ask(store, alice, request_text)
    ask(store, bob, {"id": "r-9", "tier": "10-off"})

    summary = sync(shop_config)

    answer = json.loads(meta(store, alice, "loyalty_redeem_error"))
    assert answer["id"] == answer_id
    assert message in answer["message"]
    assert meta(store, alice, "loyalty_redeem_request") == ""
    bobs_request_is_answered(store, bob)
    assert (summary.redemptions["storefront_issued"], summary.errors) == (1, [])
    with session_scope(engine) as session:
        [recorded] = session.execute(
            select(QuarantinedItem).where(QuarantinedItem.resource == "redeem_request")
        ).scalars()
        assert recorded.item_ref == f"{alice}:{answer_id or '?'}"
        assert "\x00" not in recorded.payload
        assert message in recorded.error
        assert session.execute(select(Redemption.customer_id)).scalars().all() != []
    assert meta(store, alice, "loyalty_points") == "1500"


def test_a_customer_whose_meta_no_decoder_takes_waits_and_the_others_are_answered(
    shop_config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    bob: int,
    sync: Sync,
) -> None:
    """A plugin's meta nested 150 deep made the page of customers holding it undecodable: the
    storefront step stopped there, every run, and nobody's request was answered."""
    deep: Any = "x"
    for _ in range(150):
        deep = [deep]
    give(shop_config, engine, alice, 1500)
    give(shop_config, engine, bob, 1500)
    ask(store, alice, {"id": "r-1", "tier": "10-off"})
    store.update_customer(alice, {"meta_data": [{"key": "_plugin_tree", "value": deep}]})
    ask(store, bob, {"id": "r-9", "tier": "10-off"})

    summary = sync(shop_config)

    bobs_request_is_answered(store, bob)
    assert json.loads(meta(store, alice, "loyalty_redeem_request"))["id"] == "r-1"  # waits
    assert meta(store, alice, "loyalty_points") == "1500"
    [read, written] = summary.errors  # the request waits; so does the balance write-back
    assert f"customer {alice} could not be read" in read
    assert "100 deep" in read
    assert "customers/batch" in written
    assert (summary.customers_written, summary.write_failures) == (1, 1)  # bob: the other half

    store.update_customer(alice, {"meta_data": [{"key": "_plugin_tree", "value": "flat"}]})
    again = sync(shop_config)

    assert again.errors == []
    assert again.redemptions["storefront_issued"] == 1
    assert meta(store, alice, "loyalty_points") == "500"
