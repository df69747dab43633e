"""A redemption's row and its customer's balance row, on PostgreSQL: the last transaction of an
attempt to issue a coupon (`Redeemer.issue` when the store refused it, `Redeemer.cancel` of a
coupon found in the trash) locked the redemption row (`ledger.redemptions._get`, `FOR UPDATE`)
and then the balance row, to give the points back. Two writers take them the other way round:
the sync retiring the account (`sync.owners.move_holdings`: both balance rows, then the
customer's redemptions moved to the email's holder) and a replay of the request once the
attempt's claim has lapsed (`Redeemer._claim_replay`: `lock_customer`, then the claim). So
PostgreSQL aborted one of the two: the sync, or the refusal (the redemption stayed pending, its
points taken, until an attempt after the claim). The holder's balance row is now locked before
the redemption row by every transaction that may move its points (`lock_holder`).

Each test holds the attempt between its two locks (a wrapper around the real step), starts the
other writer and waits until it queues on a lock (by its connection's pid, not by sleeping)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import ledger.redemptions as ledger
from ledger.models import Customer, Redemption
from ledger.session import session_scope
from rules.redemption import RedemptionRules, RedemptionTier
from sync.client import Page
from sync.errors import StoreRejected
from sync.redemptions import Redeemer, RedemptionSettings, Request
from tests.ledger.test_concurrent_moves import (
    EMAIL,
    NOW,
    WAIT_SECONDS,
    backend_pid,
    balances,
    deleted_account_with_points,
    in_thread,
    retire,
    wait_until_blocked,
)

TRASHED = 77  # the id of the coupon a held redemption's store moved to the trash
ASKED = Request(wc_customer_id=9, email=EMAIL, tier="5-off", request_key="dashboard:9:form-1")
SETTINGS = RedemptionSettings(RedemptionRules(tiers=(RedemptionTier("5-off", 40, Decimal(5)),)))


class Store:
    """A store with no coupon of the redemption's code, refusing to create one (HTTP 400), and
    coupon `TRASHED` in its trash, unused."""

    def get(self, endpoint: str, params: dict[str, Any] | None = None) -> Page:
        if endpoint == f"coupons/{TRASHED}":
            trashed = {"id": TRASHED, "code": "held", "usage_count": 0, "status": "trash"}
            return Page(trashed, None, None, 200)
        assert endpoint == "coupons", endpoint
        return Page([], None, None, 200)

    def post(self, endpoint: str, body: dict[str, Any]) -> Page:
        raise StoreRejected("POST coupons: 400 invalid email", status=400, code="invalid")


def redeemer(
    engine: Engine, store_id: int, *, minutes: int = 0, pid: list[int] | None = None
) -> Redeemer:
    """A process redeeming, its clock `minutes` after NOW (a claim lasts 10); `pid` gets the
    connection of each unit of work it opens."""

    @contextmanager
    def unit_of_work() -> Iterator[Session]:
        with session_scope(engine) as session:
            if pid is not None:
                pid[:] = [backend_pid(session)]
            yield session

    return Redeemer(
        Store(),  # type: ignore[arg-type]
        unit_of_work,
        store_id,
        SETTINGS,
        now=lambda: NOW + timedelta(minutes=minutes),
    )


def pending_redemption(engine: Engine, *, held: bool = False) -> tuple[int, int, int]:
    """Dora (account 9, 50 points) asked for the 5-off tier (40 points) on the dashboard: the
    pending redemption, claimed by the asking process (or, `held`, made otherwise by the store
    as coupon `TRASHED`, since moved to the trash, and claimed by nobody): (store, dora, id)."""
    store_id, dora = deleted_account_with_points(engine)
    redemption_id = redeemer(engine, store_id).open(ASKED)
    if held:
        with session_scope(engine) as session:
            ledger.hold(session, redemption_id, TRASHED, "amount 50.00 (asked: 5.00)", now=NOW)
    return store_id, dora, redemption_id


def pause_in(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    when: Callable[..., bool] = lambda *_: True,
    *,
    before: bool = False,
) -> tuple[threading.Event, threading.Event]:
    """Wrap `ledger.redemptions.{name}`: the first time it is called with arguments `when`
    accepts, the attempt's transaction waits after it (`before`: before it), its locks held,
    until the test lets it go on. Returns (paused, go)."""
    real = getattr(ledger, name)
    paused, go = threading.Event(), threading.Event()

    def wait(*args: Any) -> None:
        if not paused.is_set() and when(*args):
            paused.set()
            assert go.wait(WAIT_SECONDS)

    def step(*args: Any, **kwargs: Any) -> Any:
        if before:
            wait(*args)
        done = real(*args, **kwargs)
        if not before:
            wait(*args)
        return done

    monkeypatch.setattr(ledger, name, step)
    return paused, go


def refusal(_: Session, row: Redemption, *__: Any) -> bool:
    """`settle_points` about to give a refused redemption's points back (its row locked), not
    the debit at its opening."""
    return row.status == ledger.REFUSED


def redemption(engine: Engine, redemption_id: int) -> tuple[str, str | None]:
    """The redemption's status and its holder's email (`guest:` before a guest's)."""
    with session_scope(engine, readonly=True) as session:
        row = session.get(Redemption, redemption_id)
        assert row is not None
        holder = session.get(Customer, row.customer_id)
        assert holder is not None
        return row.status, ("guest:" if holder.is_guest else "") + str(holder.email)


def run_against(
    engine: Engine,
    attempt: Callable[[], object],
    paused: threading.Event,
    go: threading.Event,
    other: Callable[[Session], object],
    pid: list[int] | None = None,
) -> tuple[list[BaseException], list[BaseException]]:
    """The attempt on a thread until it pauses, then `other` (in a unit of work of its own, or
    of its own making: `pid` gets the connection that may queue) until it queues on a lock;
    then both to the end. Returns what each raised."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            attempt()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failed.append(error)

    attempting = threading.Thread(target=run, daemon=True)
    attempting.start()
    writer, own, done, errors = in_thread(other, engine)
    try:
        assert paused.wait(WAIT_SECONDS), failed
        writer.start()
        assert wait_until_blocked(engine, own if pid is None else pid, done), errors
    finally:
        go.set()
    attempting.join(WAIT_SECONDS)
    writer.join(WAIT_SECONDS)
    return failed, errors


def first_line(errors: list[BaseException]) -> str:
    return str(errors[0]).splitlines()[0] if errors else ""


def test_a_coupon_the_store_refused_while_the_sync_retires_the_account_does_not_deadlock(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_id, dora, redemption_id = pending_redemption(engine)
    paused, go = pause_in(monkeypatch, "settle_points", refusal, before=True)
    issuing = redeemer(engine, store_id)
    failed, errors = run_against(
        engine, lambda: issuing.issue(redemption_id), paused, go, retire(store_id, dora)
    )

    assert not failed, f"the refusal: {first_line(failed)}"
    assert not errors, f"the sync: {first_line(errors)}"
    # the 40 came back to dora, then all she held went to her email, the redemption with it
    assert balances(engine, store_id) == {EMAIL: 0, f"guest:{EMAIL}": 50}
    assert redemption(engine, redemption_id) == (ledger.REFUSED, f"guest:{EMAIL}")


def test_a_cancel_of_a_trashed_coupon_while_the_sync_retires_the_account_does_not_deadlock(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`loyalty redemptions --cancel ID`: issued under the trashed coupon's id, then closed as
    deleted with its points returned, in one transaction."""
    store_id, dora, redemption_id = pending_redemption(engine, held=True)
    paused, go = pause_in(monkeypatch, "mark_issued")
    cancelling = redeemer(engine, store_id)
    failed, errors = run_against(
        engine, lambda: cancelling.cancel(redemption_id), paused, go, retire(store_id, dora)
    )

    assert not failed, f"the cancel: {first_line(failed)}"
    assert not errors, f"the sync: {first_line(errors)}"
    assert balances(engine, store_id) == {EMAIL: 0, f"guest:{EMAIL}": 50}
    assert redemption(engine, redemption_id) == (ledger.DELETED, f"guest:{EMAIL}")


def test_a_replay_after_the_claim_lapsed_while_the_refusal_is_recorded_does_not_deadlock(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's form sent again (or `loyalty redeem` run again with the same request id)
    once the first attempt's claim has lapsed, while that attempt records the store's refusal:
    the replay reports the redemption refused, and creates nothing."""
    store_id, _, redemption_id = pending_redemption(engine)
    paused, go = pause_in(monkeypatch, "settle_points", refusal, before=True)
    issuing = redeemer(engine, store_id)
    pid: list[int] = []
    replaying = redeemer(engine, store_id, minutes=11, pid=pid)
    outcomes: list[str] = []
    failed, errors = run_against(
        engine,
        lambda: issuing.issue(redemption_id),
        paused,
        go,
        lambda _: outcomes.append(replaying.redeem(ASKED).status),
        pid,
    )

    assert not failed, f"the refusal: {first_line(failed)}"
    assert not errors, f"the replay: {first_line(errors)}"
    assert outcomes == [ledger.REFUSED]
    assert balances(engine, store_id) == {EMAIL: 50}
    assert redemption(engine, redemption_id) == (ledger.REFUSED, EMAIL)


def test_a_refusal_queued_behind_the_sync_retiring_the_account_follows_the_points(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal read dora as the holder, then queued on her balance row while the sync moved
    her holdings: once the move commits, it takes the new holder's row and lets dora's go."""
    store_id, dora, redemption_id = pending_redemption(engine)
    paused, go = pause_in(monkeypatch, "settle_points", refusal, before=True)
    pid: list[int] = []
    issuing = redeemer(engine, store_id, pid=pid)
    failed: list[BaseException] = []

    def attempt() -> None:
        try:
            issuing.issue(redemption_id)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            failed.append(error)

    attempting = threading.Thread(target=attempt, daemon=True)
    sync = Session(engine)  # the sync retires dora, not committed yet
    try:
        retire(store_id, dora)(sync)
        attempting.start()
        assert wait_until_blocked(engine, pid, paused), failed  # on dora's balance row
        sync.commit()
        assert paused.wait(WAIT_SECONDS), failed
        with engine.connect() as probe:  # dora's row is free: a writer of hers goes on
            locked = text("SELECT 1 FROM balances WHERE customer_id = :c FOR UPDATE NOWAIT")
            assert probe.execute(locked, {"c": dora}).all() == [(1,)]
            probe.rollback()
    finally:
        go.set()
        sync.close()
    attempting.join(WAIT_SECONDS)

    assert not failed, f"the refusal: {first_line(failed)}"
    assert balances(engine, store_id) == {EMAIL: 0, f"guest:{EMAIL}": 50}
    assert redemption(engine, redemption_id) == (ledger.REFUSED, f"guest:{EMAIL}")
