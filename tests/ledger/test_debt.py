"""Points debt over a real ledger (SQLite and PostgreSQL): each policy after a revoke that follows
a redemption, the balance, the entries, the Points Status figures, replays and repayment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.balances import verify_balances
from ledger.debt import debt_state
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import Balance, Customer, PointEntry, Store
from ledger.redemptions import owed_points, spendable_points
from ledger.rollup_checks import verify_rollups
from reports.period import Period
from reports.status import points_status
from rules.debt import DebtPolicy
from rules.expiry import ExpiryMode, ExpiryRules
from sync.debt import settle_debts
from sync.expiry import run_expiry

NOW = datetime(2025, 3, 1, 12, tzinfo=UTC)
P, R = SourceKind.PURCHASE, SourceKind.REDEMPTION


def put(session: Session, store: Store, customer: Customer, *rows: tuple[int, str, str]) -> None:
    """(points, kind, key) rows for `customer`, the ref being the key without `#n`."""
    append_entries(
        session,
        store.id,
        [
            NewEntry(customer.id, points, SourceKind(kind), key.split("#")[0], key, NOW)
            for points, kind, key in rows
        ],
        now=NOW,
    )


def spent_then_revoked(session: Session, store: Store, customer: Customer) -> None:
    """100 points earned, all spent on a coupon, then the order refunded: -100."""
    put(
        session,
        store,
        customer,
        (100, "purchase", "order:1#1"),
        (-100, "redemption", "redemption:1#1"),
        (-100, "purchase", "order:1#2"),
    )


def balance(session: Session, customer: Customer) -> int:
    return int(
        session.execute(
            select(Balance.balance).where(Balance.customer_id == customer.id)
        ).scalar_one()
    )


def entries(session: Session, customer: Customer, *kinds: SourceKind) -> list[tuple[str, int]]:
    rows = session.execute(
        select(PointEntry.idempotency_key, PointEntry.points)
        .where(PointEntry.customer_id == customer.id, PointEntry.kind.in_([k.value for k in kinds]))
        .order_by(PointEntry.id)
    )
    return [(key, points) for key, points in rows]


def status(session: Session, store: Store) -> dict[str, int]:
    report = points_status(session, store.id, Period(), point_value=Decimal("0.01"))
    m = report.movements
    assert report.balanced
    return {
        "earned": m.earned,
        "revoked": m.revoked,
        "redeemed": m.redeemed,
        "debt": m.debt,
        "written_off": m.written_off,
        "closing": report.closing,
        "debt_outstanding": report.debt_outstanding,
        "below_zero": report.below_zero,
    }


def consistent(session: Session, store: Store) -> None:
    assert verify_balances(session, store.id) == []
    # (these purchases carry no product lines: only the point rollup is compared)
    assert [d for d in verify_rollups(session, store.id) if d.table == "point_rollups"] == []


DEBT, WRITE_OFF = SourceKind.DEBT, SourceKind.WRITE_OFF


def test_allow_negative_leaves_the_balance_below_zero_shown_as_owed(
    session: Session, store: Store, alice: Customer
) -> None:
    spent_then_revoked(session, store, alice)

    assert settle_debts(session, store.id, DebtPolicy.ALLOW_NEGATIVE, now=NOW) == []

    assert balance(session, alice) == -100
    assert (spendable_points(session, alice.id), owed_points(session, alice.id)) == (0, 100)
    assert status(session, store) == {
        "earned": 100, "revoked": 100, "redeemed": 100, "debt": 0, "written_off": 0,
        "closing": -100, "debt_outstanding": 0, "below_zero": 100,
    }  # fmt: skip
    # later earnings simply lift the balance
    put(session, store, alice, (30, "purchase", "order:2#1"))
    assert settle_debts(session, store.id, DebtPolicy.ALLOW_NEGATIVE, now=NOW) == []
    assert (balance(session, alice), owed_points(session, alice.id)) == (-70, 70)
    consistent(session, store)


def test_net_against_future_shows_zero_records_the_debt_and_takes_it_from_future_points(
    session: Session, store: Store, alice: Customer
) -> None:
    spent_then_revoked(session, store, alice)
    net = DebtPolicy.NET_AGAINST_FUTURE

    recorded = settle_debts(session, store.id, net, now=NOW)
    replay = settle_debts(session, store.id, net, now=NOW)

    assert [(e.idempotency_key, e.points) for e in recorded] == [(f"debt:{alice.id}#1", 100)]
    assert replay == []
    assert balance(session, alice) == 0
    assert (spendable_points(session, alice.id), owed_points(session, alice.id)) == (0, 100)
    assert status(session, store) == {
        "earned": 100, "revoked": 100, "redeemed": 100, "debt": 100, "written_off": 0,
        "closing": 0, "debt_outstanding": 100, "below_zero": 0,
    }  # fmt: skip

    # 60 points earned: all of them pay the debt; then 100 more: 40 pay the rest
    put(session, store, alice, (60, "purchase", "order:2#1"))
    settle_debts(session, store.id, net, now=NOW)
    assert (balance(session, alice), owed_points(session, alice.id)) == (0, 40)
    put(session, store, alice, (100, "purchase", "order:3#1"))
    settle_debts(session, store.id, net, now=NOW)
    assert settle_debts(session, store.id, net, now=NOW) == []

    assert (balance(session, alice), owed_points(session, alice.id)) == (60, 0)
    assert spendable_points(session, alice.id) == 60
    assert entries(session, alice, DEBT) == [
        (f"debt:{alice.id}#1", 100),
        (f"debt:{alice.id}#2", -60),
        (f"debt:{alice.id}#3", -40),
    ]
    assert status(session, store)["debt_outstanding"] == 0
    consistent(session, store)


def test_clamp_zero_and_record_writes_the_debt_off_with_a_reason(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    spent_then_revoked(session, store, alice)
    put(session, store, bob, (50, "purchase", "order:9#1"))
    clamp = DebtPolicy.CLAMP_ZERO_AND_RECORD

    written = settle_debts(session, store.id, clamp, now=NOW)
    assert settle_debts(session, store.id, clamp, now=NOW) == []

    assert [(e.idempotency_key, e.points, e.note) for e in written] == [
        (
            f"write_off:{alice.id}#1",
            100,
            "100 points written off: revoked after they were spent (after order:1)",
        )
    ]
    assert (balance(session, alice), balance(session, bob)) == (0, 50)
    assert (spendable_points(session, alice.id), owed_points(session, alice.id)) == (0, 0)
    assert status(session, store) == {
        "earned": 150, "revoked": 100, "redeemed": 100, "debt": 0, "written_off": 100,
        "closing": 50, "debt_outstanding": 0, "below_zero": 0,
    }  # fmt: skip
    put(session, store, alice, (30, "purchase", "order:2#1"))
    assert settle_debts(session, store.id, clamp, now=NOW) == []
    assert balance(session, alice) == 30  # nothing is owed after a write-off
    consistent(session, store)


@pytest.mark.parametrize("policy", list(DebtPolicy))
def test_a_customer_in_good_standing_is_never_touched(
    session: Session, store: Store, alice: Customer, policy: DebtPolicy
) -> None:
    put(session, store, alice, (100, "purchase", "order:1#1"), (-40, "redemption", "r:1#1"))
    assert settle_debts(session, store.id, policy, now=NOW) == []
    assert debt_state(session, alice.id).owed == 0


def test_expiry_treats_recorded_debt_as_paid_not_as_a_new_lot(
    session: Session, store: Store, alice: Customer
) -> None:
    spent_then_revoked(session, store, alice)
    settle_debts(session, store.id, DebtPolicy.NET_AGAINST_FUTURE, now=NOW)
    rules = ExpiryRules(enabled=True, mode=ExpiryMode.PER_LOT, days=30)

    run = run_expiry(session, store.id, rules, as_of=date(2026, 1, 1), now=NOW)

    assert (run.expired_points, balance(session, alice)) == (0, 0)
