"""The one reconcile: target minus what a reference holds, as entries keyed `{ref}#{n}`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from ledger.entries import NewEntry, append_entries
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


def test_a_partly_expired_reference_moves_what_is_left_and_is_stable(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    """Alice's review earned 10, 4 of which expired on her; moved to bob, alice gives the 6
    left and bob gets them; the same target again appends nothing."""
    settle(session, store, target(alice.id, 10))
    expire(session, store, alice, "review:7", 4)
    moved = target(bob.id, 10, previous_owner=alice.id, moved_note="moved")

    entries = settle(session, store, moved)

    assert shape(entries) == [
        (alice.id, -6, "review:7#3", "review"),
        (bob.id, 6, "review:7#4", "review"),
    ]
    assert [e.note for e in entries] == ["moved", "approved review"]
    assert [e.lines for e in entries] == [(), ()]  # a review is on no product
    assert reconcile(session, store.id, [moved]) == []
    assert reconcile(session, store.id, [target(bob.id, 10)]) == []  # its next sync


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
    assert reconcile(session, store.id, [target(bob.id, 0)]) == []


def test_a_reduction_the_owner_can_take_stays_with_the_owner(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    """4 of alice's 10 expired; moved to bob (6 move); bob's part reduced to 2: bob gives 4,
    alice keeps what expired on her."""
    settle(session, store, target(alice.id, 10))
    expire(session, store, alice, "review:7", 4)
    settle(session, store, target(bob.id, 10, previous_owner=alice.id))

    entries = settle(session, store, target(bob.id, 6))

    assert shape(entries) == [(bob.id, -4, "review:7#5", "review")]


def test_per_product_lines_of_a_partly_expired_order_moved_add_up(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    lines = {(1, 0): 60, (2, 0): 40}
    order = target(alice.id, 100, ref="order:5", kind=SourceKind.PURCHASE, lines=lines)
    settle(session, store, order)
    expire(session, store, alice, "order:5", 50)

    entries = settle(session, store, replace(order, owner=bob.id, previous_owner=alice.id))

    assert shape(entries) == [
        (alice.id, -50, "order:5#3", "purchase"),
        (bob.id, 50, "order:5#4", "purchase"),
    ]
    assert [sum(line.points for line in e.lines) for e in entries] == [-50, 50]
    assert entries[1].lines == (LinePoints(1, 0, 30), LinePoints(2, 0, 20))
