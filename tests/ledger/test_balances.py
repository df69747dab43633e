"""Verification and listing: cached balances are provably the sums of the entries."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from ledger.balances import BalanceDifference, BalanceRow, list_balances, verify_balances
from ledger.customers import account_customer, get_or_create_store
from ledger.entries import append_entries
from ledger.kinds import SourceKind
from ledger.models import Balance, Customer, Store
from tests.ledger.factories import NOW, entry


def _earn(session: Session, store: Store, *customers_points: tuple[Customer, int]) -> None:
    batch = [
        entry(customer.id, points, f"order:{i}#1")
        for i, (customer, points) in enumerate(customers_points)
    ]
    append_entries(session, store.id, batch, now=NOW)


def test_a_consistent_ledger_verifies_clean(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    _earn(session, store, (alice, 100), (bob, 50), (alice, -20))
    append_entries(
        session, store.id, [entry(bob.id, -50, "redeem:1#1", kind=SourceKind.REDEMPTION)], now=NOW
    )

    assert verify_balances(session) == []
    assert verify_balances(session, store.id) == []


def test_verify_finds_a_tampered_cached_balance(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    _earn(session, store, (alice, 100), (bob, 50))
    session.execute(
        update(Balance).where(Balance.customer_id == alice.id).values(balance=Balance.balance + 5)
    )

    assert verify_balances(session, store.id) == [
        BalanceDifference(
            customer_id=alice.id,
            wc_id=7,
            email="alice@example.com",
            cached_balance=105,
            entries_balance=100,
            cached_lifetime=100,
            entries_lifetime=100,
            cached_pending=0,
        )
    ]


def test_pending_points_are_kept_beside_the_balance_and_verified(
    session: Session, store: Store, alice: Customer
) -> None:
    append_entries(
        session,
        store.id,
        [
            entry(alice.id, 100, "order:1#1"),
            entry(alice.id, 40, "pending:order:2#1", kind=SourceKind.PENDING),
        ],
        now=NOW,
    )
    row = session.get(Balance, alice.id, populate_existing=True)
    assert row is not None
    assert (row.balance, row.lifetime, row.pending) == (100, 100, 40)
    assert verify_balances(session, store.id) == []

    session.execute(update(Balance).where(Balance.customer_id == alice.id).values(pending=41))
    [difference] = verify_balances(session, store.id)
    assert (difference.cached_pending, difference.entries_pending) == (41, 40)


def test_verify_finds_a_tampered_lifetime(session: Session, store: Store, alice: Customer) -> None:
    _earn(session, store, (alice, 100))
    session.execute(update(Balance).values(lifetime=0))

    [difference] = verify_balances(session)

    assert (difference.cached_lifetime, difference.entries_lifetime) == (0, 100)


def test_verify_finds_entries_without_a_balance_row(
    session: Session, store: Store, alice: Customer
) -> None:
    _earn(session, store, (alice, 30))
    session.execute(delete(Balance))

    [difference] = verify_balances(session, store.id)

    assert (difference.customer_id, difference.cached_balance, difference.entries_balance) == (
        alice.id,
        None,
        30,
    )


def test_verify_finds_a_balance_no_entry_backs(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    session.add_all(
        [
            Balance(customer_id=alice.id, store_id=store.id, balance=0, lifetime=0, updated_at=NOW),
            Balance(customer_id=bob.id, store_id=store.id, balance=9, lifetime=9, updated_at=NOW),
        ]
    )
    session.flush()

    assert [
        (d.customer_id, d.cached_balance, d.entries_balance) for d in verify_balances(session)
    ] == [(bob.id, 9, 0)]


def test_verify_of_one_store_ignores_the_others(
    session: Session, store: Store, alice: Customer
) -> None:
    other = get_or_create_store(session, "other.example.com")
    carol = account_customer(session, other.id, 9, None)
    _earn(session, store, (alice, 10))
    _earn(session, other, (carol, 10))
    session.execute(update(Balance).where(Balance.customer_id == carol.id).values(balance=0))

    assert verify_balances(session, store.id) == []
    assert [d.customer_id for d in verify_balances(session, other.id)] == [carol.id]
    assert [d.customer_id for d in verify_balances(session)] == [carol.id]


def test_balances_are_listed_highest_first_then_by_wc_id_with_guests_last(
    session: Session, store: Store, alice: Customer, bob: Customer, guest: Customer
) -> None:
    zed = account_customer(session, store.id, 1, "zed@example.com")
    _earn(session, store, (guest, 50), (bob, 50), (alice, 50), (zed, 80))
    append_entries(
        session, store.id, [entry(alice.id, -10, "redeem:1#1", kind=SourceKind.REDEMPTION)], now=NOW
    )

    assert list_balances(session, store.id) == [
        BalanceRow(customer_id=1, email="zed@example.com", balance=80, lifetime=80),
        BalanceRow(customer_id=8, email="bob@example.com", balance=50, lifetime=50),
        BalanceRow(customer_id=None, email="guest@example.com", balance=50, lifetime=50),
        BalanceRow(customer_id=7, email="alice@example.com", balance=40, lifetime=50),
    ]


def test_listing_one_store_shows_only_its_customers(
    session: Session, store: Store, alice: Customer
) -> None:
    other = get_or_create_store(session, "other.example.com")
    _earn(session, other, (account_customer(session, other.id, 9, None), 10))

    assert list_balances(session, store.id) == []
