"""The one reconcile: target minus what a reference holds, as entries keyed `{ref}#{n}`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from ledger.entries import NewEntry, append_entries, ref_holdings, ref_lines
from ledger.kinds import SourceKind
from ledger.models import Customer, Store
from ledger.reconcile import Target, reconcile
from ledger.rollups import LinePoints
from tests.ledger.factories import NOW, OCCURRED


def target(owner: int, points: int, ref: str = "review:7", **more: Any) -> Target:
    return replace(
        Target(
            owner=owner,
            source_ref=ref,
            kind=SourceKind.REVIEW,
            points=points,
            occurred_at=OCCURRED,
            note="approved review",
        ),
        **more,
    )


def settle(session: Session, store: Store, *targets: Target) -> list[NewEntry]:
    """Reconcile and append, as a source does in its unit of work."""
    return append_entries(session, store.id, reconcile(session, store.id, targets), now=NOW)


def shape(entries: list[NewEntry]) -> list[tuple[int, int, str, str]]:
    return [(e.customer_id, e.points, e.idempotency_key, e.kind.value) for e in entries]


def test_a_new_reference_gets_its_target_as_its_first_entry(
    session: Session, store: Store, alice: Customer
) -> None:
    assert shape(settle(session, store, target(alice.id, 10))) == [
        (alice.id, 10, "review:7#1", "review")
    ]


def test_reconciling_the_same_target_again_appends_nothing(
    session: Session, store: Store, alice: Customer
) -> None:
    settle(session, store, target(alice.id, 10))

    assert reconcile(session, store.id, [target(alice.id, 10)]) == []


def test_a_changed_target_appends_the_difference_at_the_next_position(
    session: Session, store: Store, alice: Customer
) -> None:
    settle(session, store, target(alice.id, 10))

    assert shape(settle(session, store, target(alice.id, 0))) == [
        (alice.id, -10, "review:7#2", "review")
    ]
    assert shape(settle(session, store, target(alice.id, 10))) == [
        (alice.id, 10, "review:7#3", "review")
    ]


def test_points_held_by_a_previous_owner_move_out_and_the_owner_gets_the_full_target(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    settle(session, store, target(alice.id, 10))

    moved = settle(session, store, target(bob.id, 12, previous_owner=alice.id, moved_note="moved"))

    assert shape(moved) == [
        (alice.id, -10, "review:7#2", "review"),
        (bob.id, 12, "review:7#3", "review"),
    ]
    assert [e.note for e in moved] == ["moved", "approved review"]


def test_a_previous_owner_holding_nothing_is_no_move(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    assert shape(settle(session, store, target(bob.id, 5, previous_owner=alice.id))) == [
        (bob.id, 5, "review:7#1", "review")
    ]


def test_a_held_amount_moves_as_a_pair_at_consecutive_positions(
    session: Session, store: Store, alice: Customer, guest: Customer
) -> None:
    """A transfer: what the guest holds moves to the account, pair after pair on one reference."""
    move = Target(
        owner=alice.id,
        source_ref="transfer:guest:1",
        kind=SourceKind.TRANSFER,
        points=30,
        occurred_at=NOW,
        previous_owner=guest.id,
        held=30,
    )
    first = settle(session, store, move)
    second = settle(session, store, replace(move, points=5, held=5))

    assert shape(first + second) == [
        (guest.id, -30, "transfer:guest:1#1", "transfer"),
        (alice.id, 30, "transfer:guest:1#2", "transfer"),
        (guest.id, -5, "transfer:guest:1#3", "transfer"),
        (alice.id, 5, "transfer:guest:1#4", "transfer"),
    ]


def test_per_product_shares_move_from_what_is_held_to_the_target(
    session: Session, store: Store, alice: Customer
) -> None:
    settle(session, store, target(alice.id, 10, ref="order:1", lines={(3, 0): 6, (4, 0): 4}))

    changed = settle(session, store, target(alice.id, 6, ref="order:1", lines={(3, 0): 6}))

    assert [e.lines for e in changed] == [(LinePoints(product_id=4, category_id=0, points=-4),)]


def test_many_targets_are_decided_on_one_reading_of_the_ledger(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    settle(session, store, target(alice.id, 10, ref="review:1"))

    entries = reconcile(
        session,
        store.id,
        [target(alice.id, 10, ref="review:1"), target(bob.id, 7, ref="review:2")],
    )

    assert shape(entries) == [(bob.id, 7, "review:2#1", "review")]


def expire(session: Session, store: Store, customer: Customer, ref: str, points: int) -> None:
    """An expiry entry of `points` of `ref`'s lot on `customer`."""
    key = f"expiry:{customer.id}:{ref}:2026-01-01"
    append_entries(
        session,
        store.id,
        [NewEntry(customer.id, -points, SourceKind.EXPIRY, ref, key, OCCURRED)],
        now=NOW,
    )


def test_a_reference_some_of_whose_points_expired_moves_nothing_and_is_stable(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    """Alice's review earned 10, 4 of which expired on her (the other 6 she spent, or they
    expire tomorrow: a lot is as old as its source). Moved to bob, nothing moves: none of its
    points is within its life any more, wherever it goes. Again, nothing."""
    settle(session, store, target(alice.id, 10))
    expire(session, store, alice, "review:7", 4)
    moved = target(bob.id, 10, previous_owner=alice.id, moved_note="moved")

    assert settle(session, store, moved) == []
    assert reconcile(session, store.id, [target(bob.id, 10)]) == []  # its next sync
    assert reconcile(session, store.id, [target(alice.id, 10, previous_owner=bob.id)]) == []


def test_a_reduction_of_an_expired_reference_that_moved_is_taken_from_who_had_its_points(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    """All 10 expired on alice, then the review moved to bob (nothing moves) and was unapproved:
    the 10 are taken from alice, who had them (as when it stays hers), not from bob, who never
    held a point of it (found by a review); again, nothing more."""
    settle(session, store, target(alice.id, 10))
    expire(session, store, alice, "review:7", 10)
    assert reconcile(session, store.id, [target(bob.id, 10, previous_owner=alice.id)]) == []

    entries = settle(session, store, target(bob.id, 0, previous_owner=bob.id))

    assert shape(entries) == [(alice.id, -10, "review:7#3", "review")]
    assert [e.lines for e in entries] == [()]  # a review is on no product
    assert reconcile(session, store.id, [target(bob.id, 0)]) == []


def test_an_expired_order_moved_back_takes_nothing_from_the_customer_it_visited(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    """All of alice's 100 expired; the order went to bob (nothing moved) and comes back: bob, the
    previous owner the order names, holds none of it. The plain move took the reference's 100
    from him (into debt) and gave them to alice again (found by a review)."""
    lines = {(1, 0): 60, (2, 0): 40}
    order = target(alice.id, 100, ref="order:5", kind=SourceKind.PURCHASE, lines=lines)
    settle(session, store, order)
    expire(session, store, alice, "order:5", 100)
    assert settle(session, store, replace(order, owner=bob.id, previous_owner=alice.id)) == []

    assert reconcile(session, store.id, [replace(order, previous_owner=bob.id)]) == []


def test_a_reduction_of_a_partly_expired_order_that_moved_revokes_the_products_it_no_longer_earns(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    lines = {(1, 0): 60, (2, 0): 40}
    order = target(alice.id, 100, ref="order:5", kind=SourceKind.PURCHASE, lines=lines)
    settle(session, store, order)
    expire(session, store, alice, "order:5", 50)
    settle(session, store, replace(order, owner=bob.id, previous_owner=alice.id))  # nothing

    entries = settle(session, store, replace(order, owner=bob.id, points=50, lines={(1, 0): 50}))

    assert shape(entries) == [(alice.id, -50, "order:5#3", "purchase")]
    # exactly what the order no longer earns, per product (product 2 wholly, 10 of product 1);
    # they were spread in proportion, and the order's shares stayed off (found by a review)
    assert entries[0].lines == (LinePoints(1, 0, -10), LinePoints(2, 0, -40))
    holdings = ref_holdings(session, store.id, ["order:5"])
    assert ref_lines(session, store.id, holdings) == {"order:5": {(1, 0): 50}}
