"""The date range every report takes, and the customer filter some take."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import LargeBinary, cast, func, or_, select
from sqlalchemy.orm import Session

from ledger.customers import email_search_key, normalise_email
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


class AmbiguousCustomer(UnknownCustomer):
    """Several customers' emails read as the one searched for once the characters that do not
    show are set aside (`email_search_key`): `matches` holds one customer an email, as
    `find_customer(..., exact=True)` finds each. None is picked: they are different people."""

    def __init__(self, text: str, matches: list[Customer]) -> None:
        self.matches = matches
        listed = "; ".join(f"{c.email!r} ({_who(c)})" for c in matches)  # repr shows U+200F
        super().__init__(f"several customers match {text!r}: {listed}")


def _who(customer: Customer) -> str:
    kind = "guest" if customer.is_guest else f"customer {customer.wc_id}"
    return f"{kind}, deleted in the store" if customer.deleted_at is not None else kind


def shown_email(email: str) -> str:
    """`email` with its format characters made visible (`<U+200F>`), for telling apart emails
    that read alike."""
    return "".join(f"<U+{ord(c):04X}>" if unicodedata.category(c) == "Cf" else c for c in email)


def find_customer(
    session: Session, store_id: int, who: str | int, *, exact: bool = False
) -> Customer:
    """A customer by WooCommerce id (a number) or by email: the live account with it, else the
    guest held by it, else an account deleted in the store (it keeps its email, and gave its
    points to the guest or to the account registered again: found first, it showed a history
    ending at 0 and hid the one holding the points). Text no email holds (a NUL, a control
    character) matches nobody.

    An email is found as the admin sees it (`email_search_key`): one the store sent with a
    right-to-left mark or a zero-width joiner in it was found by nobody, who types or pastes it
    without them. Should emails that differ only by such characters (or by case folding) match,
    AmbiguousCustomer lists them, one customer an email, unless `exact` (a link the dashboard
    made of a stored email) and one of them is the text itself, as stored."""
    text = str(who).strip()
    if text.isascii() and text.isdigit():
        if len(text) > len(str(MAX_BIGINT)) or int(text) > MAX_BIGINT:
            raise UnknownCustomer(f"no customer {text!r} in the ledger of this store")
        query = select(Customer).where(Customer.store_id == store_id, Customer.wc_id == int(text))
        customer = session.execute(query.limit(1)).scalar_one_or_none()
        if customer is None:
            raise UnknownCustomer(f"no customer {text!r} in the ledger of this store")
        return customer
    key = email_search_key(text)
    if not key or not key.isprintable() or len(key) > EMAIL_LENGTH:
        raise UnknownCustomer(f"no customer {text!r} in the ledger of this store")
    by_email: dict[str, list[Customer]] = {}
    for customer in _customers_by_key(session, store_id, key):
        by_email.setdefault(customer.email or "", []).append(customer)
    if exact and normalise_email(text) in by_email:
        by_email = {normalise_email(text): by_email[normalise_email(text)]}
    # one customer an email: the live account, else the guest, else the deleted account
    firsts = sorted(
        (
            min(group, key=lambda c: (c.deleted_at is not None, c.is_guest, c.id))
            for group in by_email.values()
        ),
        key=lambda c: c.id,
    )
    if not firsts:
        raise UnknownCustomer(f"no customer {text!r} in the ledger of this store")
    if len(firsts) > 1:
        raise AmbiguousCustomer(text, firsts)
    return firsts[0]


def _customers_by_key(session: Session, store_id: int, key: str) -> list[Customer]:
    """The customers whose email has `key` as its `email_search_key`. An email of ASCII only has
    it when it is the key itself (the index finds it); the others (a format character is never
    ASCII) are read and keyed here, few in any store. The store's customers are scanned for
    them, a length compared each: about 30 ms on SQLite, 55 on PostgreSQL, at 200,000."""
    if session.get_bind().dialect.name == "postgresql":
        octets = func.octet_length(Customer.email)
    else:
        octets = func.length(cast(Customer.email, LargeBinary))
    rows = session.execute(
        select(Customer.id, Customer.email).where(
            Customer.store_id == store_id,
            or_(Customer.email == key, octets > func.length(Customer.email)),
        )
    )
    ids = sorted(
        int(i) for i, email in rows if email is not None and email_search_key(email) == key
    )
    if not ids:
        return []
    return list(session.scalars(select(Customer).where(Customer.id.in_(ids))))
