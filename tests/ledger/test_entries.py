"""Appending entries: idempotent per key, balances move by exactly what was inserted."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import ledger
from ledger.customers import get_or_create_store
from ledger.entries import (
    Holder,
    RefHolding,
    append_entries,
    append_entry,
    reconcile_key,
    ref_holdings,
)
from ledger.kinds import SourceKind
from ledger.models import AppendOnlyViolation, Balance, Customer, PointEntry, Store
from tests.ledger.factories import NOW, entry


def _balance(session: Session, customer: Customer) -> tuple[int, int]:
    row = session.get(Balance, customer.id)
    assert row is not None
    return row.balance, row.lifetime


def _entry_count(session: Session) -> int:
    return session.execute(select(func.count()).select_from(PointEntry)).scalar_one()


def test_same_key_twice_inserts_one_entry_and_moves_balance_once(
    session: Session, store: Store, alice: Customer
) -> None:
    first = append_entry(session, store.id, entry(alice.id, 120, "order:1#1"), now=NOW)
    second = append_entry(session, store.id, entry(alice.id, 120, "order:1#1"), now=NOW)

    assert (first, second) == (True, False)
    assert _entry_count(session) == 1
    assert _balance(session, alice) == (120, 120)


def test_replaying_a_batch_inserts_nothing(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    batch = [entry(alice.id, 10, "order:1#1"), entry(bob.id, 20, "order:2#1")]
    append_entries(session, store.id, batch, now=NOW)

    assert append_entries(session, store.id, batch, now=NOW) == []
    assert _entry_count(session) == 2
    assert (_balance(session, alice), _balance(session, bob)) == ((10, 10), (20, 20))


def test_only_the_new_entries_of_a_partly_known_batch_are_inserted(
    session: Session, store: Store, alice: Customer
) -> None:
    append_entry(session, store.id, entry(alice.id, 10, "order:1#1"), now=NOW)
    batch = [entry(alice.id, 10, "order:1#1"), entry(alice.id, -4, "order:1#2")]

    inserted = append_entries(session, store.id, batch, now=NOW)

    assert [e.idempotency_key for e in inserted] == ["order:1#2"]
    assert _balance(session, alice) == (6, 6)


def test_inserted_entries_are_returned_in_ascending_key_order(
    session: Session, store: Store, alice: Customer
) -> None:
    batch = [entry(alice.id, 1, key) for key in ("c#1", "a#1", "b#1")]

    inserted = append_entries(session, store.id, batch, now=NOW)

    assert [e.idempotency_key for e in inserted] == ["a#1", "b#1", "c#1"]


def test_the_same_key_in_another_store_is_another_entry(
    session: Session, store: Store, alice: Customer
) -> None:
    other = get_or_create_store(session, "other.example.com")
    append_entry(session, store.id, entry(alice.id, 5, "order:1#1"), now=NOW)

    assert append_entry(session, other.id, entry(alice.id, 5, "order:1#1"), now=NOW)


def test_balances_equal_the_sum_of_each_customers_entries(
    session: Session, store: Store, alice: Customer, bob: Customer, guest: Customer
) -> None:
    rng = random.Random(1042)
    customers = [alice, bob, guest]
    kinds = list(SourceKind)
    batch = [
        entry(
            rng.choice(customers).id,
            rng.choice([-1, 1]) * rng.randint(1, 500),
            f"ref:{i}#1",
            kind=rng.choice(kinds),
        )
        for i in range(300)
    ]
    expected: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for e in batch:
        expected[e.customer_id][0] += e.points if e.kind.counts_toward_balance else 0
        expected[e.customer_id][1] += e.points if e.kind.counts_toward_lifetime else 0

    append_entries(session, store.id, batch, now=NOW)

    for customer in customers:
        assert _balance(session, customer) == tuple(expected[customer.id])


@pytest.mark.parametrize(
    ("kind", "counts"),
    [
        (SourceKind.PURCHASE, True),
        (SourceKind.FIRST_ORDER, True),
        (SourceKind.REVIEW, True),
        (SourceKind.COMMENT, True),
        (SourceKind.SIGNUP, True),
        (SourceKind.BONUS, True),
        (SourceKind.TRANSFER, True),
        (SourceKind.ADJUSTMENT, False),
        (SourceKind.REDEMPTION, False),
        (SourceKind.EXPIRY, False),
    ],
)
def test_lifetime_counts_earning_kinds_and_transfers_only(
    session: Session, store: Store, alice: Customer, kind: SourceKind, counts: bool
) -> None:
    append_entry(session, store.id, entry(alice.id, 50, "x#1", kind=kind), now=NOW)

    assert kind.counts_toward_lifetime is counts
    assert _balance(session, alice) == (50, 50 if counts else 0)


def test_a_revocation_of_earned_points_lowers_lifetime_too(
    session: Session, store: Store, alice: Customer
) -> None:
    batch = [entry(alice.id, 100, "order:1#1"), entry(alice.id, -30, "order:1#2")]

    append_entries(session, store.id, batch, now=NOW)

    assert _balance(session, alice) == (70, 70)


def test_a_zero_point_entry_is_refused(session: Session, store: Store, alice: Customer) -> None:
    with pytest.raises(ValueError, match=r"points of entry 'order:1#1' is 0"):
        append_entry(session, store.id, entry(alice.id, 0, "order:1#1"), now=NOW)


def test_a_naive_occurred_at_is_refused_naming_the_field(
    session: Session, store: Store, alice: Customer
) -> None:
    naive = replace(entry(alice.id, 5, "order:1#1"), occurred_at=datetime(2024, 1, 1))

    with pytest.raises(ValueError, match=r"occurred_at of entry 'order:1#1'.*timezone-aware"):
        append_entry(session, store.id, naive, now=NOW)


def test_a_kind_that_is_not_a_source_kind_is_refused(
    session: Session, store: Store, alice: Customer
) -> None:
    bad = replace(entry(alice.id, 5, "order:1#1"), kind="purchase")  # type: ignore[arg-type]

    with pytest.raises(ValueError, match=r"kind of entry 'order:1#1' must be a SourceKind"):
        append_entry(session, store.id, bad, now=NOW)


def test_one_key_with_two_different_entries_in_a_batch_is_refused(
    session: Session, store: Store, alice: Customer
) -> None:
    batch = [entry(alice.id, 5, "order:1#1"), entry(alice.id, 6, "order:1#1")]

    with pytest.raises(ValueError, match=r"'order:1#1' appears twice"):
        append_entries(session, store.id, batch, now=NOW)


def test_an_entry_repeated_within_a_batch_is_inserted_once(
    session: Session, store: Store, alice: Customer
) -> None:
    batch = [entry(alice.id, 5, "order:1#1")] * 2

    assert len(append_entries(session, store.id, batch, now=NOW)) == 1
    assert _balance(session, alice) == (5, 5)


def test_a_batch_larger_than_one_insert_statement_is_appended_whole(
    session: Session, store: Store, alice: Customer
) -> None:
    batch = [entry(alice.id, 1, f"review:{i}#1", kind=SourceKind.REVIEW) for i in range(1234)]

    assert len(append_entries(session, store.id, batch, now=NOW)) == 1234
    assert _balance(session, alice) == (1234, 1234)


def test_entries_keep_what_they_were_given(session: Session, store: Store, alice: Customer) -> None:
    given = replace(entry(alice.id, 42, "order:9#1"), note="completed 2024-04-30")
    append_entry(session, store.id, given, now=NOW)

    stored = session.execute(select(PointEntry)).scalar_one()

    assert (stored.points, stored.kind, stored.source_ref, stored.rule_version, stored.note) == (
        42,
        "purchase",
        "order:9",
        "v1",
        "completed 2024-04-30",
    )
    assert (stored.occurred_at, stored.recorded_at) == (given.occurred_at, NOW)


def test_a_loaded_balance_object_shows_the_moved_balance(
    session: Session, store: Store, alice: Customer
) -> None:
    append_entry(session, store.id, entry(alice.id, 10, "order:1#1"), now=NOW)
    loaded = session.get(Balance, alice.id)
    assert loaded is not None
    assert loaded.balance == 10

    append_entry(session, store.id, entry(alice.id, 5, "order:2#1"), now=NOW)

    assert loaded.balance == 15


def test_ref_holdings_sums_points_and_counts_entries_per_ref(
    session: Session, store: Store, alice: Customer
) -> None:
    batch = [
        entry(alice.id, 100, "order:1#1"),
        entry(alice.id, -40, "order:1#2"),
        entry(alice.id, 7, "review:3#1", kind=SourceKind.REVIEW),
    ]
    append_entries(session, store.id, batch, now=NOW)

    holdings = ref_holdings(session, store.id, ["order:1", "review:3", "order:404"])

    assert holdings == {
        "order:1": RefHolding(60, 2, holders=(Holder(alice.id, 60),)),
        "review:3": RefHolding(7, 1, holders=(Holder(alice.id, 7),)),
    }


def test_ref_holdings_name_each_customer_who_holds_or_held_a_ref_and_what_expired_on_them(
    session: Session, store: Store, alice: Customer, bob: Customer
) -> None:
    """An order moved to bob after 60 of its points expired on alice: alice keeps what expired
    on her, bob holds the rest; a reconcile needs to know who holds what (found by a review)."""
    batch = [
        entry(alice.id, 100, "order:1#1"),
        entry(alice.id, -60, "expiry:order:1:2026-01-01", kind=SourceKind.EXPIRY, ref="order:1"),
        entry(alice.id, -40, "order:1#3"),
        entry(bob.id, 40, "order:1#4"),
    ]
    append_entries(session, store.id, batch, now=NOW)

    holders = (Holder(alice.id, 60, 60), Holder(bob.id, 40, 0))  # alice's id is the lower
    assert ref_holdings(session, store.id, ["order:1"]) == {
        "order:1": RefHolding(100, 4, 60, holders=holders)
    }


def test_ref_holdings_leave_expiry_out_of_the_points_but_count_its_entries(
    session: Session, store: Store, alice: Customer
) -> None:
    """The order earned 100 and still does: its expired points are not taken back by the order.
    Counted as the order's, the expiry made the order hold 0, and the next reconcile of it gave
    the 100 back (found by a review, 4 Dec). The entry still counts for the next position."""
    batch = [
        entry(alice.id, 100, "order:1#1"),
        entry(alice.id, -100, "expiry:order:1:2026-01-01", kind=SourceKind.EXPIRY, ref="order:1"),
    ]
    append_entries(session, store.id, batch, now=NOW)

    assert ref_holdings(session, store.id, ["order:1"]) == {
        "order:1": RefHolding(100, 2, 100, holders=(Holder(alice.id, 100, 100),))
    }


def test_ref_holdings_answers_for_more_refs_than_one_query_takes(
    session: Session, store: Store, alice: Customer
) -> None:
    refs = [f"order:{i}" for i in range(1200)]
    append_entries(session, store.id, [entry(alice.id, 3, f"{r}#1") for r in refs], now=NOW)

    holdings = ref_holdings(session, store.id, refs)

    assert len(holdings) == 1200
    assert set(holdings.values()) == {RefHolding(3, 1, holders=(Holder(alice.id, 3),))}


def test_ref_holdings_of_another_store_are_not_counted(
    session: Session, store: Store, alice: Customer
) -> None:
    other = get_or_create_store(session, "other.example.com")
    append_entry(session, other.id, entry(alice.id, 9, "order:1#1"), now=NOW)

    assert ref_holdings(session, store.id, ["order:1"]) == {}


def test_reconcile_key_numbers_the_next_position_after_the_held_entries() -> None:
    assert reconcile_key("order:1", None) == "order:1#1"
    assert reconcile_key("order:1", RefHolding(points=60, entries=2)) == "order:1#3"


def test_an_entry_cannot_be_changed_through_the_orm(
    session: Session, store: Store, alice: Customer
) -> None:
    append_entry(session, store.id, entry(alice.id, 10, "order:1#1"), now=NOW)
    stored = session.execute(select(PointEntry)).scalar_one()

    stored.points = 1_000_000
    with pytest.raises(AppendOnlyViolation, match="append-only"):
        session.flush()


def test_an_entry_cannot_be_deleted_through_the_orm(
    session: Session, store: Store, alice: Customer
) -> None:
    append_entry(session, store.id, entry(alice.id, 10, "order:1#1"), now=NOW)
    session.delete(session.execute(select(PointEntry)).scalar_one())

    with pytest.raises(AppendOnlyViolation, match="append-only"):
        session.flush()


#: Migration 0008 adds the derived column `balance_after` and fills it once, at upgrade, from the
#: entries themselves; it changes no points, key, kind or time.
FILLS_A_NEW_DERIVED_COLUMN = {"migrations/versions/0008_report_seeks.py"}


def test_nothing_in_the_ledger_package_updates_or_deletes_entries() -> None:
    forbidden = re.compile(
        r"(update|delete)\(\s*PointEntry|(UPDATE|DELETE\s+FROM)\s+point_entries", re.IGNORECASE
    )
    package = Path(ledger.__file__).parent
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if forbidden.search(path.read_text(encoding="utf-8"))
    ]

    assert set(offenders) <= FILLS_A_NEW_DERIVED_COLUMN
    backfill = (package / "migrations/versions/0008_report_seeks.py").read_text(encoding="utf-8")
    assert backfill.count("UPDATE point_entries SET balance_after =") == 1
    assert "DELETE" not in backfill.upper().replace("ON DELETE", "")


def test_a_key_longer_than_the_column_is_refused_on_both_databases(
    session: Session, store: Store, alice: Customer
) -> None:
    too_long = entry(alice.id, 5, "order:" + "9" * 250 + "#1", ref="order:1")

    with pytest.raises(ValueError, match=r"idempotency_key of entry .* longer than 255"):
        append_entry(session, store.id, too_long, now=NOW)
