"""The sync's coupon step (`sync.redemption_lifecycle.track_redemptions`) gives back the points of
the coupons a batch finds expired or deleted in one transaction, one redemption after another in
redemption order: each return locked its customer's balance row (and the day's redemption rollup
row) in turn, so two customers' rows were taken out of ascending order and a writer taking them in
order (`loyalty expire`: every balance row; `loyalty redeem`: one balance row, then the same
rollup row) deadlocked with it on PostgreSQL, one of the two aborted (found by a review of
concurrent runs, 5 Dec). The lock order `ledger.entries.append_entries` documents is one row set,
in ascending order, before anything else. (`loyalty expire` takes the store row exclusively
first, so it waits for the step's transaction to end: no deadlock with it.)"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import ledger.redemptions as ledger
from ledger.customers import account_customer, get_or_create_store
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import Balance
from ledger.session import session_scope
from sync.redemption_lifecycle import CouponUses, track_redemptions
from tests.ledger.test_concurrent_moves import NOW, WAIT_SECONDS, in_thread, wait_until_blocked


class Coupons:
    """A store answering `GET coupons?include=` with every coupon asked for, expired unused."""

    per_page = 100

    def get_by_ids(self, resource: str, ids: list[int], *_: Any, **__: Any) -> list[dict[str, Any]]:
        assert resource == "coupons"
        expired = (NOW - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
        return [
            {"id": i, "code": f"c{i}", "usage_count": 0, "status": "publish",
             "date_expires_gmt": expired}
            for i in ids
        ]  # fmt: skip


def redemption(customer: int, coupon: int, points: int) -> ledger.NewRedemption:
    return ledger.NewRedemption(
        customer_id=customer,
        request_key=f"admin:{coupon}",
        request={"points": points},
        channel="admin",
        tier=None,
        points=points,
        amount=Decimal(points) / 10,
        code=f"c{coupon}",
        email="x@example.com",
        expires_at=NOW - timedelta(days=1),
    )


def two_issued_coupons(engine: Engine) -> tuple[int, int, int]:
    """Alice (the lower ledger id) and bob, 100 points each; bob redeemed 40 first (coupon 501),
    then alice (coupon 502), both issued: (store, alice, bob)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time, from BEGIN")
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "https://shop.example.com").id
        alice = account_customer(session, store_id, 7, "alice@example.com").id
        bob = account_customer(session, store_id, 8, "bob@example.com").id
        earned = [
            NewEntry(c, 100, SourceKind.PURCHASE, f"order:{c}", f"order:{c}#1", NOW)
            for c in (alice, bob)
        ]
        append_entries(session, store_id, earned, now=NOW)
    for customer, coupon in ((bob, 501), (alice, 502)):
        with session_scope(engine) as session:
            ledger.lock_customer(session, store_id, customer, now=NOW)
            row = ledger.open_redemption(
                session,
                store_id,
                redemption(customer, coupon, 40),
                now=NOW - timedelta(days=90),
                claim_until=NOW - timedelta(days=90),
            )
            ledger.mark_issued(session, row.id, coupon, now=NOW - timedelta(days=90))
    return store_id, alice, bob


def test_the_coupon_step_and_a_redemption_at_once_do_not_deadlock(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_id, alice, bob = two_issued_coupons(engine)
    real_close = ledger.close_unused
    closed, go = threading.Event(), threading.Event()

    def close_then_wait(*args: Any, **kwargs: Any) -> int:
        done = real_close(*args, **kwargs)
        if not closed.is_set():  # bob's points are back: his rows are held
            closed.set()
            assert go.wait(WAIT_SECONDS)
        return done

    monkeypatch.setattr(ledger, "close_unused", close_then_wait)
    errors: list[BaseException] = []

    def sync() -> None:
        try:
            track_redemptions(
                Coupons(),  # type: ignore[arg-type]
                lambda: session_scope(engine),
                store_id,
                CouponUses(),
                return_points=True,
                now=NOW,
            )
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    def redeem(session: Session) -> None:  # `loyalty redeem --customer 7 --points 10`, step 1
        ledger.lock_customer(session, store_id, alice, now=NOW)
        ledger.open_redemption(
            session, store_id, redemption(alice, 503, 10), now=NOW, claim_until=NOW
        )

    syncing = threading.Thread(target=sync, daemon=True)
    syncing.start()
    try:
        assert closed.wait(WAIT_SECONDS), errors
        customer, pid, done, redeemed = in_thread(redeem, engine)
        customer.start()
        assert wait_until_blocked(engine, pid, done), redeemed  # on the day's redemption rollup
    finally:
        go.set()
    syncing.join(WAIT_SECONDS)
    customer.join(WAIT_SECONDS)

    assert not errors, f"the sync: {str(errors[0]).splitlines()[0]}" if errors else ""
    assert not redeemed, f"the redemption: {str(redeemed[0]).splitlines()[0]}"
    with session_scope(engine, readonly=True) as session:  # both coupons' points came back
        rows = session.execute(select(Balance.customer_id, Balance.balance)).all()
    assert {int(c): int(b) for c, b in rows} == {alice: 90, bob: 100}
