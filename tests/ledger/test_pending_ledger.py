"""Pending points in the ledger (SQLite and PostgreSQL): when each order first earned, and which
orders hold pending points whose window has ended."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from ledger.kinds import SourceKind
from ledger.models import Customer, Store
from ledger.pending import first_earned, holds_pending, matured_orders
from tests.ledger.test_expiry_run import P, put

W = SourceKind.PENDING


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_first_earned_and_the_orders_whose_window_ended(
    session: Session, store: Store, alice: Customer
) -> None:
    put(
        session,
        store,
        alice,
        (100, W, "pending:order:1", "pending:order:1#1", "2025-03-01T10:00"),
        (40, W, "pending:order:2", "pending:order:2#1", "2025-03-05T10:00"),
        (60, P, "order:3", "order:3#1", "2025-02-01T10:00"),  # earned before pending existed
        (30, W, "pending:order:3", "pending:order:3#1", "2025-03-10T10:00"),
        (50, W, "pending:order:4", "pending:order:4#1", "2025-03-01T10:00"),
        (-50, W, "pending:order:4", "pending:order:4#2", "2025-03-02T10:00"),  # cancelled
    )

    assert first_earned(session, store.id, ["order:1", "order:3", "order:9"]) == {
        "order:1": at("2025-03-01T10:00"),
        "order:3": at("2025-02-01T10:00"),
    }
    assert matured_orders(session, store.id, days=14, now=at("2025-03-15T09:59:59")) == [3]
    assert matured_orders(session, store.id, days=14, now=at("2025-03-15T10:00")) == [1, 3]
    assert matured_orders(session, store.id, days=14, now=at("2025-04-01T00:00")) == [1, 2, 3]


def test_whether_the_store_ever_held_pending_points(
    session: Session, store: Store, alice: Customer
) -> None:
    """The sync skips reading pending holdings page by page when pending points are off and the
    ledger never held any; once one pending entry exists (even cancelled), it reads them."""
    put(
        session,
        store,
        alice,
        (60, P, "order:3", "order:3#1", "2025-02-01T10:00"),
        (5, P, "pending;order:4", "pending;order:4#1", "2025-02-01T10:00"),  # just past the range
        (5, P, "pendinf:order:4", "pendinf:order:4#1", "2025-02-01T10:00"),  # just before it
    )
    assert not holds_pending(session, store.id)
    put(
        session,
        store,
        alice,
        (50, W, "pending:order:4", "pending:order:4#1", "2025-03-01T10:00"),
        (-50, W, "pending:order:4", "pending:order:4#2", "2025-03-02T10:00"),
    )
    assert holds_pending(session, store.id)


def test_a_recalculated_difference_waits_out_its_orders_window(
    session: Session, store: Store, alice: Customer
) -> None:
    """A recalculation's pending difference (`pending:recalc:order:{id}`, negative under rules
    that give less) is found when its order's window ends, though the order holds no pending
    points of its own; the window runs from the order's first entry, or from the difference's
    when the order never earned."""
    A = SourceKind.ADJUSTMENT
    put(
        session,
        store,
        alice,
        (60, P, "order:5", "order:5#1", "2025-03-01T10:00"),  # available before pending was on
        (60, W, "pending:recalc:order:5", "pending:recalc:order:5#1", "2025-03-04T10:00"),
        (40, W, "pending:order:6", "pending:order:6#1", "2025-03-02T10:00"),
        (-20, W, "pending:recalc:order:6", "pending:recalc:order:6#1", "2025-03-05T10:00"),
        (10, A, "recalc:order:7", "recalc:order:7#1", "2025-02-20T10:00"),  # earned nothing itself
        (30, W, "pending:recalc:order:7", "pending:recalc:order:7#1", "2025-03-03T10:00"),
        (10, W, "pending:recalc:order:8", "pending:recalc:order:8#1", "2025-03-01T10:00"),
        (-10, W, "pending:recalc:order:8", "pending:recalc:order:8#2", "2025-03-02T10:00"),
    )

    assert first_earned(session, store.id, ["order:5", "order:6", "order:7"]) == {
        "order:5": at("2025-03-01T10:00"),
        "order:6": at("2025-03-02T10:00"),
        "order:7": at("2025-02-20T10:00"),
    }
    assert matured_orders(session, store.id, days=14, now=at("2025-03-06T10:00")) == [7]
    assert matured_orders(session, store.id, days=14, now=at("2025-03-15T10:00")) == [5, 7]
    assert matured_orders(session, store.id, days=14, now=at("2025-03-16T10:00")) == [5, 6, 7]
