"""The date range every report takes, and the customer filter some take."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.models import Customer
from ledger.types import MAX_BIGINT

#: The longest email the ledger holds (`customers.email`): a longer search matches nobody.
EMAIL_LENGTH: int = getattr(Customer.__table__.c.email.type, "length", 320)

#: The days a report can take: its arithmetic (the day after the end, the next month or year of a
#: status period) stays within Python's calendar (9999-12-31 made `--to` an internal error).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9998, 12, 31)


def within_reach(day: date) -> bool:
    """Whether a report can take `day` (`FIRST_DAY` to `LAST_DAY`)."""
    return FIRST_DAY <= day <= LAST_DAY


@dataclass(frozen=True)
class Period:
    """Inclusive UTC days; None leaves that end open."""

    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        for day in (self.start, self.end):
            if day is not None and not within_reach(day):
                raise ValueError(f"{day} is not a day a report covers ({FIRST_DAY} to {LAST_DAY})")
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"the range starts ({self.start}) after it ends ({self.end})")

    def days(self, column: Any) -> list[Any]:
        """Conditions on a `Date` column (a rollup's day)."""
        conditions = []
        if self.start is not None:
            conditions.append(column >= self.start)
        if self.end is not None:
            conditions.append(column <= self.end)
        return conditions

    @property
    def start_moment(self) -> datetime | None:
        """The start day's midnight (UTC), the first moment of the range."""
        return datetime.combine(self.start, time(), UTC) if self.start is not None else None

    @property
    def end_moment(self) -> datetime | None:
        """The midnight after the end day (UTC), the first moment after the range."""
        if self.end is None:
            return None
        return datetime.combine(self.end + timedelta(days=1), time(), UTC)

    def moments(self, column: Any) -> list[Any]:
        """Conditions on a timestamp column: from the start day's midnight to the end day's."""
        conditions = []
        if self.start_moment is not None:
            conditions.append(column >= self.start_moment)
        if self.end_moment is not None:
            conditions.append(column < self.end_moment)
        return conditions


class UnknownCustomer(LookupError):
    """The customer named in a report filter is not in the ledger."""


def find_customer(session: Session, store_id: int, who: str | int) -> Customer:
    """A customer by WooCommerce id (a number) or by email: the live account with it, else the
    guest held by it, else an account deleted in the store (it keeps its email, and gave its
    points to the guest or to the account registered again: found first, it showed a history
    ending at 0 and hid the one holding the points). Text no email holds (a NUL, a control
    character) matches nobody."""
    text = str(who).strip()
    query = select(Customer).where(Customer.store_id == store_id)
    if text.isascii() and text.isdigit():
        if len(text) > len(str(MAX_BIGINT)) or int(text) > MAX_BIGINT:
            raise UnknownCustomer(f"no customer {text!r} in the ledger of this store")
        query = query.where(Customer.wc_id == int(text))
    elif not text.isprintable() or len(text) > EMAIL_LENGTH:
        raise UnknownCustomer(f"no customer {text!r} in the ledger of this store")
    else:
        query = query.where(Customer.email == text.lower()).order_by(
            Customer.deleted_at.is_not(None), Customer.is_guest, Customer.id
        )
    customer = session.execute(query.limit(1)).scalar_one_or_none()
    if customer is None:
        raise UnknownCustomer(f"no customer {text!r} in the ledger of this store")
    return customer
