"""A `loyalty_coupons` meta holding what no set can hold stops nothing (found by a review, 4 Dec)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from sandbox.store import SandboxStore
from tests.e2e.conftest import meta
from tests.e2e.test_redemption import TIERS, alice, give, store  # noqa: F401
from tests.e2e.test_storefront import ask

Sync = Callable[..., Any]


@pytest.mark.parametrize("listed", ['[{"redemption_id": []}]', '[{"redemption_id": {"a": 1}}]'])
def test_a_coupons_list_holding_an_unhashable_redemption_id_does_not_stop_the_sync(
    listed: str,
    config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    sync: Sync,
) -> None:
    """`coupon_lists.appended` puts every entry's `redemption_id` in a set: a list or an object
    there (a broken plugin's, or anything else that wrote the meta) raises TypeError, which no
    step catches. The coupon was created; the request stays in meta, is replayed next run and
    crashes again: every sync fails, and nobody after alice is answered or written back."""
    shop = replace(config, redemption=TIERS)
    bob = int(store.register_customer(email="bob@example.com")["id"])
    give(shop, engine, alice, 1500)
    give(shop, engine, bob, 1500)
    store.update_customer(alice, {"meta_data": [{"key": "loyalty_coupons", "value": listed}]})
    ask(store, alice, {"id": "r-1", "tier": "10-off"})
    ask(store, bob, {"id": "r-9", "tier": "10-off"})

    summary = sync(shop)

    assert summary.redemptions["storefront_issued"] == 2
    assert meta(store, bob, "loyalty_redeem_request") == ""
    assert meta(store, alice, "loyalty_redeem_request") == ""
