"""What the rollup modules share: an entry as they see it, its lines, and its UTC day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import Date, cast, func, literal_column
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ledger.kinds import SourceKind


@dataclass(frozen=True)
class LinePoints:
    """The share of an entry's points carried by one product (0: no product) and category (0)."""

    product_id: int
    category_id: int
    points: int


class RolledEntry(Protocol):
    """An inserted entry, as the rollups read it (`ledger.entries.NewEntry`)."""

    @property
    def customer_id(self) -> int: ...
    @property
    def points(self) -> int: ...
    @property
    def kind(self) -> SourceKind: ...
    @property
    def source_ref(self) -> str: ...
    @property
    def idempotency_key(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def lines(self) -> tuple[LinePoints, ...]: ...


def utc_day(moment: datetime) -> date:
    """The UTC calendar day of an aware datetime: the day an entry is rolled up under."""
    return moment.astimezone(UTC).date()


def entry_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC day of a `UTCDateTime` column, in SQL, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(literal_column("'UTC'"), column), Date)
    return func.date(column)


def as_date(value: Any) -> date:
    """A day as either driver returns it (a date, or SQLite's ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
