"""UTCDateTime: aware UTC in Python on both databases, naive values refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert, select, text
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from ledger.models import Store
from ledger.session import session_scope

CEST = timezone(timedelta(hours=2))


def test_an_aware_datetime_round_trips_as_the_same_instant_in_utc(engine: Engine) -> None:
    written = datetime(2024, 3, 31, 3, 30, 15, 123456, tzinfo=CEST)
    with session_scope(engine) as session:
        session.add(Store(key="shop.example.com", created_at=written))

    with session_scope(engine) as session:
        read = session.execute(select(Store.created_at)).scalar_one()

    assert read == written
    assert read.tzinfo is UTC
    assert read == datetime(2024, 3, 31, 1, 30, 15, 123456, tzinfo=UTC)


def test_reading_is_utc_whatever_the_connection_time_zone(engine: Engine) -> None:
    written = datetime(2024, 1, 15, 23, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        session.add(Store(key="shop.example.com", created_at=written))

    with session_scope(engine) as session:
        if engine.dialect.name == "postgresql":
            session.execute(text("SET TIME ZONE 'America/New_York'"))
        read = session.execute(select(Store.created_at)).scalar_one()

    assert (read, read.tzinfo) == (written, UTC)


def test_comparisons_bind_aware_values_in_utc(session: Session) -> None:
    session.add(Store(key="shop.example.com", created_at=datetime(2024, 1, 1, 12, tzinfo=UTC)))
    session.flush()
    same_instant_elsewhere = datetime(2024, 1, 1, 14, tzinfo=CEST)

    found = session.execute(select(Store).where(Store.created_at == same_instant_elsewhere))

    assert found.scalar_one_or_none() is not None


def test_a_naive_datetime_is_refused_on_assignment_naming_the_attribute() -> None:
    with pytest.raises(ValueError, match=r"Store.created_at must be a timezone-aware datetime"):
        Store(key="shop.example.com", created_at=datetime(2024, 1, 1, 12))

    store = Store(key="shop.example.com")
    with pytest.raises(ValueError, match=r"Store.created_at"):
        store.created_at = datetime(2024, 1, 1, 12)


def test_a_naive_datetime_is_refused_by_the_column_type_in_core_statements(
    session: Session,
) -> None:
    statement = insert(Store).values(key="shop.example.com", created_at=datetime(2024, 1, 1, 12))

    with pytest.raises(StatementError, match=r"refuses the naive datetime 2024-01-01T12:00:00"):
        session.execute(statement)
