"""Stamps in the ledger: each (card, order) brought to its target, the card sums moved exactly."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models import Customer, StampCard, StampOrder, Store
from ledger.stamps import (
    StampTarget,
    customer_cards,
    forget_orders,
    mark_written,
    move_stamps,
    set_stamps,
    verify_stamps,
)
from tests.ledger.factories import NOW


def cards(session: Session, store: Store) -> dict[tuple[int, str], int]:
    rows = session.execute(select(StampCard).where(StampCard.store_id == store.id)).scalars()
    return {(row.customer_id, row.card): row.stamps for row in rows}


def orders(session: Session) -> dict[tuple[str, int], tuple[int, int]]:
    rows = session.execute(select(StampOrder)).scalars()
    return {(row.card, row.order_id): (row.customer_id, row.stamps) for row in rows}


def test_targets_are_reconciled_and_a_replay_changes_nothing(
    session: Session, store: Store, alice: Customer
) -> None:
    targets = [
        StampTarget("coffee", 1, alice.id, 3),
        StampTarget("coffee", 2, alice.id, 2),
        StampTarget("tea", 1, alice.id, 1),
    ]
    assert set_stamps(session, store.id, targets, now=NOW) == 3
    assert set_stamps(session, store.id, targets, now=NOW) == 0

    assert cards(session, store) == {(alice.id, "coffee"): 5, (alice.id, "tea"): 1}
    assert verify_stamps(session, store.id) == []


def test_fewer_stamps_move_the_card_by_the_difference_and_none_removes_the_order(
    session: Session, store: Store, alice: Customer
) -> None:
    set_stamps(session, store.id, [StampTarget("coffee", 1, alice.id, 3)], now=NOW)
    set_stamps(session, store.id, [StampTarget("coffee", 2, alice.id, 4)], now=NOW)

    assert set_stamps(session, store.id, [StampTarget("coffee", 1, alice.id, 2)], now=NOW) == 1
    assert cards(session, store) == {(alice.id, "coffee"): 6}
    assert set_stamps(session, store.id, [StampTarget("coffee", 1, alice.id, 0)], now=NOW) == 1
    assert cards(session, store) == {(alice.id, "coffee"): 4}
    assert orders(session) == {("coffee", 2): (alice.id, 4)}
    assert verify_stamps(session, store.id) == []


def test_an_order_that_changes_hands_moves_its_stamps(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    set_stamps(session, store.id, [StampTarget("coffee", 1, alice.id, 3)], now=NOW)

    set_stamps(session, store.id, [StampTarget("coffee", 1, bob.id, 3)], now=NOW)

    assert cards(session, store) == {(alice.id, "coffee"): 0, (bob.id, "coffee"): 3}
    set_stamps(session, store.id, [StampTarget("coffee", 1, None, 0)], now=NOW)
    assert cards(session, store) == {(alice.id, "coffee"): 0, (bob.id, "coffee"): 0}
    assert verify_stamps(session, store.id) == []


def test_a_customers_stamps_move_to_another_once_and_a_redecision_keeps_them_there(
    session: Session, store: Store, alice: Customer, guest: Customer
) -> None:
    """A guest who registers (or an account deleted in the store): every order's stamps it holds
    go to the new holder, each card's sum moved by exactly them; moved again, or an order decided
    again for the new holder, nothing changes."""
    set_stamps(
        session,
        store.id,
        [
            StampTarget("coffee", 1, guest.id, 3),
            StampTarget("coffee", 2, guest.id, 2),
            StampTarget("tea", 2, guest.id, 1),
            StampTarget("coffee", 3, alice.id, 4),
        ],
        now=NOW,
    )

    assert move_stamps(session, store.id, guest.id, alice.id, now=NOW) == 3

    assert cards(session, store) == {
        (guest.id, "coffee"): 0,
        (guest.id, "tea"): 0,
        (alice.id, "coffee"): 9,
        (alice.id, "tea"): 1,
    }
    assert move_stamps(session, store.id, guest.id, alice.id, now=NOW) == 0
    assert set_stamps(session, store.id, [StampTarget("coffee", 1, alice.id, 3)], now=NOW) == 0
    assert cards(session, store)[(alice.id, "coffee")] == 9
    assert verify_stamps(session, store.id) == []


def test_nothing_held_and_nothing_due_writes_nothing(session: Session, store: Store) -> None:
    assert set_stamps(session, store.id, [StampTarget("coffee", 1, None, 0)], now=NOW) == 0
    assert orders(session) == {}


def test_deleted_orders_give_their_stamps_back(
    session: Session, store: Store, alice: Customer
) -> None:
    set_stamps(
        session,
        store.id,
        [StampTarget("coffee", 1, alice.id, 3), StampTarget("coffee", 2, alice.id, 1)],
        now=NOW,
    )

    assert forget_orders(session, store.id, [1, 9], ["coffee", "tea"], now=NOW) == 1
    assert cards(session, store) == {(alice.id, "coffee"): 1}


def test_customer_cards_list_accounts_with_what_was_written(
    session: Session, store: Store, alice: Customer, guest: Customer
) -> None:
    set_stamps(session, store.id, [StampTarget("coffee", 1, alice.id, 3)], now=NOW)
    set_stamps(session, store.id, [StampTarget("coffee", 2, guest.id, 3)], now=NOW)
    mark_written(session, alice.id, {"coffee": '{"stamps": 3}'}, now=NOW)

    [row] = customer_cards(session, store.id)

    assert (row.customer_id, row.wc_id, row.email, row.card) == (
        alice.id,
        7,
        "alice@example.com",
        "coffee",
    )
    assert (row.stamps, row.rewards, row.written) == (3, 0, '{"stamps": 3}')


def test_a_card_out_of_step_with_its_orders_is_reported(
    session: Session, store: Store, alice: Customer
) -> None:
    set_stamps(session, store.id, [StampTarget("coffee", 1, alice.id, 3)], now=NOW)
    session.execute(select(StampCard)).scalar_one().stamps = 4

    assert verify_stamps(session, store.id) == [
        f"customer {alice.id} card coffee: 4 stamps cached, 3 in its orders"
    ]
