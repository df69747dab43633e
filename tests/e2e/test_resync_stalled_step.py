"""A customer resync whose coupon lists stalled (a guarded step) is recorded as failed in
`sync_runs`, as a sync or a backfill is (it was recorded as succeeded; a review, 4 Dec)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.models import SyncRun
from ledger.session import session_scope
from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sandbox.store import SandboxStore
from sync.client import StoreClient
from sync.redemptions import Request
from sync.service import run_sync
from tests.e2e.test_redemption import (  # noqa: F401 # fixtures and helpers
    EMAIL,
    TIERS,
    alice,
    give,
    redeemer,
    store,
)


class IgnoresInclude(StoreClient):
    """The real client against a store whose `customers?include=` answers one stranger too."""

    def get(self, endpoint: str, params: Any = None) -> Any:
        page = super().get(endpoint, params)
        if endpoint == "customers" and params and "include" in params:
            items = [*(page.items or []), {"id": 987654, "email": "x@example.com"}]
            return replace(page, items=items, total=len(items))
        return page


@pytest.fixture
def tiered(config: Config) -> Config:
    return replace(config, redemption=TIERS)


def test_a_customer_resync_whose_coupon_listing_stalled_is_not_recorded_as_succeeded(
    tiered: Config,
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    engine = engine_for()
    store_id = give(tiered, engine, alice, 1500)
    outcome = redeemer(tiered, engine, store_id).redeem(
        Request(alice, EMAIL, tier="10-off", channel="storefront", request_key="front:1")
    )
    assert outcome.status == "issued"  # not listed yet: list_coupons reads alice by include=
    settings = sync_settings(tiered)
    client = IgnoresInclude(settings.client)
    try:
        summary = run_sync(settings, engine=engine, client=client, customer=alice)
    finally:
        client.close()
    assert "coupon lists" in summary.sources_stopped  # the step did stall
    with session_scope(engine) as session:
        status = session.execute(
            select(SyncRun.status).order_by(SyncRun.id.desc()).limit(1)
        ).scalar_one()
    assert status == "failed"
