"""Hostile coupon answers on the redemption path: an amount that is no number, text ids in by-id
reads (a review, 4 Dec)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from loyalty.sync_settings import make_client, sync_settings
from sandbox.store import SandboxStore
from sync import redemption_lifecycle
from sync.client import StoreClient
from sync.paging import Listing, ListingStalled
from sync.redemptions import Request
from sync.service import run_sync
from tests.e2e.conftest import meta
from tests.e2e.test_redemption import (  # noqa: F401 # fixtures and helpers
    EMAIL,
    TIERS,
    FlakyClient,
    alice,
    consistent,
    give,
    redeemer,
    redemption,
    redemption_entries,
    store,
)
from tests.e2e.test_redemption_hostile import _issue_now, _track, now
from tests.e2e.test_redemption_lifecycle import outcome_coupon_id


@pytest.fixture
def tiered(config: Config) -> Config:
    return replace(config, redemption=TIERS)


@pytest.fixture
def ledger_engine(engine_for: Callable[[], Engine]) -> Engine:
    return engine_for()


def _snan(items: Any) -> Any:
    if isinstance(items, dict) and "amount" in items:
        return {**items, "amount": "sNaN"}
    if isinstance(items, list):
        return [_snan(item) for item in items]
    return items


def test_a_coupon_answered_with_amount_snan_holds_the_redemption_and_crashes_nothing(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    """The store creates the coupon but answers its `amount` as `"sNaN"` (and lists it so).
    `sync.coupons.differences` compares amounts as Decimals, and comparing a signalling NaN
    raises `decimal.InvalidOperation` (not a StoreError): `loyalty redeem` dies with a traceback,
    and since every sync finishes pending redemptions first (`finish_redemptions`, BEFORE the
    sources), every later sync dies the same way before reading anything. Expected: a coupon
    that is not the one asked for, held with the difference as its reason (README, *Exactly
    once* step 4), the points taken once."""
    store_id = give(tiered, ledger_engine, alice, 1000)
    real = make_client(tiered.require_store())

    def post(endpoint: str, data: Any) -> Any:
        page = real.post(endpoint, data)
        return replace(page, items=_snan(page.items)) if endpoint == "coupons" else page

    def get(endpoint: str, params: Any = None) -> Any:
        page = real.get(endpoint, params)
        return replace(page, items=_snan(page.items)) if endpoint.startswith("coupons") else page

    client = FlakyClient(real, post=post, get=get)
    outcome = redeemer(tiered, ledger_engine, store_id, client=client).redeem(
        Request(alice, EMAIL, tier="10-off")
    )
    assert outcome.status == "pending"
    assert -sum(p for p, _ in redemption_entries(ledger_engine, outcome.redemption_id)) == 1000
    # The next sync's first step, against the same store, goes on.
    redeemer(tiered, ledger_engine, store_id, client=client, claim_seconds=0).finish_pending()
    consistent(ledger_engine)


def test_an_issued_coupon_listed_with_a_text_id_is_quarantined_and_tracking_goes_on(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    """`GET coupons?include=44` answers the coupon with `"id": "44"` (a plugin's text id). The
    coupons' docstring and README promise such a coupon is quarantined, its redemption left as
    it is, and the run goes on (`_read_coupons`' `blind` branch). But `_read_coupons` reads with
    `client.get_by_ids(...)` without `unusable_missing=True`, so `Listing._batch` takes `"44"` for
    an item not asked for and raises `ListingStalled`; `track_coupons` is not run under
    `ctx.guard`, so the whole sync fails there, before the storefront answers and the balance
    write-back, and does so every run while that coupon stays issued: no balance of any customer
    reaches the store again. Here the real client's paging runs against the mangled answers."""
    outcome = _issue_now(tiered, ledger_engine, alice)
    assert outcome.status == "issued"
    real = make_client(tiered.require_store())

    def get(endpoint: str, params: Any = None) -> Any:
        page = real.get(endpoint, params)
        if endpoint == "coupons" and isinstance(page.items, list):
            items = [{**c, "id": str(c["id"])} if isinstance(c, dict) else c for c in page.items]
            return replace(page, items=items)
        return page

    hostile = FlakyClient(real, get=get)

    def get_by_ids(endpoint: str, ids: Any, params: Any = None, **kw: Any) -> list[Any]:
        listing = Listing(hostile, endpoint, per_page=real.per_page)
        return [i for page in listing.by_ids(ids, params, **kw) for i in page]

    hostile.replaced["get_by_ids"] = get_by_ids
    counts = _track(tiered, ledger_engine, hostile, now())  # raised ListingStalled
    assert counts.quarantined == 1
    assert -sum(p for p, _ in redemption_entries(ledger_engine, outcome.redemption_id)) == 1000


def _text_ids(resource: str) -> Any:
    class TextIds(StoreClient):
        """The real client against a store that answers `resource` listings with text ids."""

        def get(self, endpoint: str, params: Any = None) -> Any:
            page = super().get(endpoint, params)
            if endpoint == resource and isinstance(page.items, list):
                items = [{**c, "id": str(c["id"])} if isinstance(c, dict) else c
                         for c in page.items]  # fmt: skip
                return replace(page, items=items)
            return page

    return TextIds


@pytest.mark.parametrize("resource", ["coupons", "customers"])
def test_a_sync_facing_a_text_id_in_a_by_id_read_still_writes_balances_back(
    resource: str,
    tiered: Config,
    ledger_engine: Engine,
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    """The whole run: an issued storefront coupon (followed by `track_coupons`, listed by
    `list_coupons`), and a store that answers the `include=` read of coupons (or of customers)
    with text ids. The sync raises `ListingStalled` out of an unguarded step and never reaches
    the balance write-back: alice's `loyalty_points` meta is never written, this run or any
    later one while the coupon is followed. Expected: the run goes on to the write-back."""
    store_id = give(tiered, ledger_engine, alice, 1500)
    outcome = redeemer(tiered, ledger_engine, store_id).redeem(
        Request(alice, EMAIL, tier="10-off", channel="storefront", request_key="front:1")
    )
    assert outcome.status == "issued"
    settings = sync_settings(tiered)
    client = _text_ids(resource)(settings.client)
    try:
        run_sync(settings, engine=engine_for(), client=client)  # raised ListingStalled
    finally:
        client.close()
    assert meta(store, alice) == "500"


def test_a_coupon_batch_that_stalls_does_not_hold_back_the_batches_after_it(
    tiered: Config,
    ledger_engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From a review (4 Dec): one batch of issued coupons whose read always stalls stopped the
    pass there, every run, so the coupons after it were never followed. They are now; the step
    still stops, saying why, once the others are done."""
    first = _issue_now(tiered, ledger_engine, alice)
    second = _issue_now(tiered, ledger_engine, alice)
    store.delete_coupon(outcome_coupon_id(ledger_engine, second), force=True)
    one_a_page = replace(tiered, store=replace(tiered.require_store(), per_page=1))
    client = make_client(one_a_page.require_store())
    stalling = outcome_coupon_id(ledger_engine, first)
    real = redemption_lifecycle._read_coupons

    def read(client: Any, coupon_ids: list[int]) -> Any:
        if stalling in coupon_ids:
            raise ListingStalled("coupons listing stopped: hostile", detail="hostile")
        return real(client, coupon_ids)

    monkeypatch.setattr(redemption_lifecycle, "_read_coupons", read)
    with pytest.raises(ListingStalled):
        _track(one_a_page, ledger_engine, client, now())

    assert redemption(ledger_engine, second.redemption_id).status == "deleted"
    assert redemption(ledger_engine, first.redemption_id).status == "issued"
