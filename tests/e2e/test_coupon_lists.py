"""Every coupon of the auto-issue tier or of a full stamp card reaches the customer's
`loyalty_coupons` meta exactly once, also when the run that created it died before recording it
and a later sync finished it (SQLite and PostgreSQL, against the sandbox)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from ledger import redemptions
from ledger.models import Redemption
from ledger.session import session_scope
from loyalty.config import Config
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.test_redemption import TIERS, give
from tests.e2e.test_stamp_cards import alice, buy, cards, coffee, store  # noqa: F401 # fixtures

Sync = Callable[..., SyncSummary]


def listed(shop: SandboxStore, wc_id: int) -> list[dict[str, Any]]:
    meta = shop.get("customers", wc_id)["meta_data"]
    values = [m["value"] for m in meta if m["key"] == "loyalty_coupons"]
    return json.loads(values[0]) if values else []


def only_redemption(engine: Engine) -> Redemption:
    with session_scope(engine) as session:
        row = session.execute(select(Redemption)).scalar_one()
        session.expunge(row)
        return row


@pytest.mark.parametrize("path", ["auto", "stamps"])
def test_a_coupon_whose_run_died_before_recording_it_is_listed_once_by_the_next_sync(
    path: str,
    cards: Config,  # noqa: F811
    engine_for: Callable[[], Engine],
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    coffee: int,  # noqa: F811
    sync: Sync,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = engine_for()
    if path == "auto":
        config = replace(cards, redemption=replace(TIERS, auto_issue_tier="10-off"))
        give(config, engine, alice, 1000)
    else:
        config = cards
        buy(store, alice, (coffee, 10))

    # The store creates the coupon, then the process dies before recording it.
    def killed(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed between the coupon's creation and its recording")

    with monkeypatch.context() as patched:
        patched.setattr(redemptions, "mark_issued", killed)
        with pytest.raises(RuntimeError, match="killed between"):
            sync(config)
    [coupon] = [c for c in store.all("coupons") if c["code"] != "welcome10"]
    assert only_redemption(engine).status == "pending"
    assert listed(store, alice) == []

    # The dead process's claim lapses; the next sync finishes the redemption and lists it.
    with session_scope(engine) as session:
        past = datetime.now(UTC) - timedelta(minutes=1)
        session.execute(update(Redemption).values(claimed_until=past))
    finished = sync(config)

    row = only_redemption(engine)
    assert (row.status, finished.redemptions["issued"]) == ("issued", 1)
    assert row.listed_at is not None
    [entry] = listed(store, alice)
    assert (entry["code"], entry["redemption_id"]) == (coupon["code"], row.id)
    if path == "stamps":
        assert (entry["stamp_card"], entry["reward"], entry["amount"]) == (
            "coffee", "free_item", "100.00"
        )  # fmt: skip
    assert finished.redemptions["coupons_listed"] == 1

    again = sync(config)
    assert len(listed(store, alice)) == 1
    assert "coupons_listed" not in again.redemptions
    assert len([c for c in store.all("coupons") if c["code"] != "welcome10"]) == 1
