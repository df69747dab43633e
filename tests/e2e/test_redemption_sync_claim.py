"""Found by a review (4 Dec): the sync's redeemer took its clock from the run's start
(`sync.redemption_steps.redeemer`: `now=lambda: ctx.now`), so a redemption the sync opened after
running longer than a claim (8.5 minutes by default: a catch-up, a first full sync) was claimed
until a moment already past. `loyalty redemptions --cancel` then took the claim while the sync
was still creating the coupon: the points were returned, and the coupon the sync created a
moment later was live in the store. README: "A process issuing a coupon holds a claim on it
long enough for its three store calls to run out of retries" and the cancel acts "only once this
process holds its claim"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine

from ledger.session import session_scope
from loyalty.config import Config
from loyalty.redeem import _redeemer as admin_redeemer
from loyalty.sync_settings import make_client, sync_settings
from sandbox.store import SandboxStore
from sync.redemption_steps import redeemer
from sync.redemptions import RedemptionRefused, Request
from tests.e2e.test_redemption import (  # noqa: F401
    EMAIL,
    TIERS,
    FlakyClient,
    alice,
    give,
    ours,
    redemption,
    redemption_entries,
    store,
)


def test_an_admin_cannot_cancel_a_redemption_a_long_sync_is_issuing(
    config: Config,
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
) -> None:
    cfg = replace(config, redemption=TIERS)
    engine = engine_for()
    store_id = give(cfg, engine, alice, 1000)
    real = make_client(cfg.require_store())
    _, admin = admin_redeemer(cfg, engine, store_id)
    cancelled: list[Any] = []

    def post_while_the_admin_cancels(endpoint: str, data: Any) -> Any:
        rid = int(data["meta_data"][0]["value"])
        try:  # the admin, seeing it in `loyalty redemptions --pending`, cancels it meanwhile
            cancelled.append(admin.cancel(rid).status)
        except RedemptionRefused as refused:
            cancelled.append(refused.reason)
        return real.post(endpoint, data)

    # the sync's redeemer (`sync.redemption_steps.redeemer`) in a run started 20 minutes ago
    # (its storefront step comes after the catch-up)
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    settings = sync_settings(cfg)
    run = SimpleNamespace(
        settings=settings,
        client=FlakyClient(real, post=post_while_the_admin_cancels),
        tx=SimpleNamespace(unit=lambda: session_scope(engine)),
        store_id=store_id,
        now=started,
    )
    sync_redeemer = redeemer(run)  # type: ignore[arg-type]
    outcome = sync_redeemer.redeem(
        Request(alice, EMAIL, tier="10-off", channel="storefront", request_key="storefront:x:r-1")
    )

    rid = outcome.redemption_id
    live = [c for c in ours(store, rid) if c["status"] == "publish"]
    points = [p for p, _ in redemption_entries(engine, rid)]
    # expected: the cancel is refused (another process is issuing it), one coupon, points spent
    assert cancelled, (points, len(live))
    assert "being issued by another process" in cancelled[0], (cancelled, points, len(live))
    assert (redemption(engine, rid).status, points, len(live)) == ("issued", [-1000], 1)
