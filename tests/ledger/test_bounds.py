"""The ledger refuses points it cannot hold: ±POINTS_LIMIT per entry, per balance, per lifetime."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ledger.admin import adjust
from ledger.customers import account_customer, get_or_create_store
from ledger.entries import POINTS_LIMIT, append_entries, append_entry
from ledger.errors import LedgerError, PointsOutOfRange
from ledger.kinds import SourceKind
from ledger.models import Balance, Customer, PointEntry, Store
from ledger.session import session_scope
from tests.ledger.factories import NOW, entry


@pytest.mark.parametrize("points", [POINTS_LIMIT + 1, -POINTS_LIMIT - 1, 2**63 - 1, 10**30])
def test_an_entry_beyond_the_limit_is_refused_before_anything_is_written(
    session: Session, store: Store, alice: Customer, points: int
) -> None:
    with pytest.raises(PointsOutOfRange, match="beyond what the ledger holds"):
        append_entry(session, store.id, entry(alice.id, points, "order:1#1"), now=NOW)
    assert session.execute(select(func.count()).select_from(PointEntry)).scalar_one() == 0


def test_entries_at_the_limit_are_held(session: Session, store: Store, alice: Customer) -> None:
    append_entry(session, store.id, entry(alice.id, POINTS_LIMIT, "order:1#1"), now=NOW)
    balance = session.get(Balance, alice.id)
    assert balance is not None
    assert (balance.balance, balance.lifetime) == (POINTS_LIMIT, POINTS_LIMIT)


@pytest.mark.parametrize("kind", [SourceKind.PURCHASE, SourceKind.ADJUSTMENT])
def test_a_batch_that_would_carry_a_balance_beyond_the_limit_rolls_back_whole(
    engine: Engine, kind: SourceKind
) -> None:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "https://shop.example.com").id
        alice = account_customer(session, store_id, 7, "alice@example.com").id
        append_entry(session, store_id, entry(alice, POINTS_LIMIT - 5, "order:1#1"), now=NOW)

    batch = [entry(alice, 3, "order:2#1", kind=kind), entry(alice, 3, "order:3#1", kind=kind)]
    refused = pytest.raises(PointsOutOfRange, match=f"ledger customer {alice} would go beyond")
    with refused, session_scope(engine) as session:
        append_entries(session, store_id, batch, now=NOW)

    with session_scope(engine) as session:
        assert session.execute(select(func.count()).select_from(PointEntry)).scalar_one() == 1
        balance = session.get(Balance, alice)
        assert balance is not None
        assert balance.balance == POINTS_LIMIT - 5


def test_many_entries_each_within_the_limit_cannot_overflow_a_balance(
    session: Session, store: Store, alice: Customer
) -> None:
    batch = [entry(alice.id, POINTS_LIMIT, f"order:{n}#1") for n in range(3)]
    with pytest.raises(PointsOutOfRange):
        append_entries(session, store.id, batch, now=NOW)


def test_an_adjustment_beyond_the_limit_is_a_ledger_error_naming_the_bound(
    session: Session, store: Store
) -> None:
    with pytest.raises(LedgerError, match=r"points must be within ±1,000,000,000,000"):
        adjust(session, store.id, 5, 9223372036854775807, "typo", now=NOW)
    assert session.execute(select(func.count()).select_from(PointEntry)).scalar_one() == 0
