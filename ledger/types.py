"""Column types shared by the models (and safe for migrations to import: they never change shape)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

#: The largest integer a BIGINT column holds: ids, quantities and other integers fit it.
MAX_BIGINT = 2**63 - 1
_LINE_BREAKS = frozenset("\t\n\r")


def storable_text(text: str, *, lines: bool = False) -> bool:
    """Whether a text column holds `text` as typed: no control character (NUL: PostgreSQL
    refuses it; `lines`: tabs and line breaks allowed) and no lone surrogate (no encoding takes
    it). Formatting characters (a right-to-left mark, an emoji's zero-width joiner) are text."""
    return not any(
        unicodedata.category(c) == "Cs"
        or (unicodedata.category(c) == "Cc" and not (lines and c in _LINE_BREAKS))
        for c in text
    )


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is timezone-aware UTC in Python on every database.

    PostgreSQL stores `timestamptz`; SQLite stores the naive UTC wall time (its only option).
    Reading always gives an aware UTC datetime. Writing a naive datetime is refused: a naive
    value is ambiguous, and guessing its zone is how ledgers drift by hours.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(DateTime(timezone=dialect.name == "postgresql"))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(
                f"UTCDateTime expects a datetime, got {type(value).__name__}: {value!r}"
            )
        if value.tzinfo is not UTC:  # already UTC (most values): nothing to convert
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(
                    f"UTCDateTime refuses the naive datetime {value.isoformat()}: "
                    "pass a timezone-aware value (e.g. datetime.now(UTC))"
                )
            value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
