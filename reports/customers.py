"""Top Earning Customers and Points History.

Top: ranked by points earned in the range (the lifetime kinds: purchases and other earnings, net
of their revocations, and points moved from the customer's own guest profile), not by balance.
Over all time that is the cached lifetime, read through its index; over a range, see
`reports.earners`.

History: entries newest first in the order the ledger recorded them (id order), each with the
spendable balance its customer had right after it, stored with the entry (`balance_after`). Pages
are keyset pages: the cursor is the last row's id, so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.kinds import SourceKind
from ledger.models import Balance, Customer, PointEntry, TrackedOrder
from reports.earners import ranked_in_range
from reports.period import Period


@dataclass(frozen=True)
class TopCustomer:
    rank: int
    customer_id: int | None  # the WooCommerce id; None for a guest
    email: str | None
    earned: int  # in the range
    earning_orders: int  # orders carrying points for the customer now (all time)
    balance: int
    lifetime: int


def top_customers(
    session: Session, store_id: int, period: Period, *, limit: int = 10
) -> list[TopCustomer]:
    """The `limit` customers who earned most in `period` (ties: lower ledger id first)."""
    if period.start is None and period.end is None:
        ranked = [
            (cid, int(lifetime))
            for cid, lifetime in session.execute(
                select(Balance.customer_id, Balance.lifetime)
                .where(Balance.store_id == store_id, Balance.lifetime > 0)
                .order_by(Balance.lifetime.desc(), Balance.customer_id)
                .limit(limit)
            )
        ]
    else:
        ranked = ranked_in_range(session, store_id, period, limit)
    ids = [cid for cid, _ in ranked]
    people = {
        c.id: (c, b)
        for c, b in session.execute(
            select(Customer, Balance)
            .outerjoin(Balance, Balance.customer_id == Customer.id)
            .where(Customer.id.in_(ids))
        )
    }
    orders = _earning_orders(session, ids)
    top = []
    for rank, (cid, points) in enumerate(ranked, 1):
        customer, balance = people[cid]
        top.append(
            TopCustomer(
                rank=rank,
                customer_id=customer.wc_id,
                email=customer.email,
                earned=points,
                earning_orders=orders.get(cid, 0),
                balance=balance.balance if balance else 0,
                lifetime=balance.lifetime if balance else 0,
            )
        )
    return top


def _earning_orders(session: Session, customer_ids: list[int]) -> dict[int, int]:
    """Orders that carry points for each customer now (a registered guest's orders included)."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(TrackedOrder.customer_id, func.count())
        .where(
            TrackedOrder.customer_id.in_(customer_ids),
            TrackedOrder.points > 0,
            TrackedOrder.deleted.is_(False),
        )
        .group_by(TrackedOrder.customer_id)
    )
    return {int(cid): int(n) for cid, n in rows if cid is not None}


# --- history ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    entry_id: int
    occurred_at: datetime
    customer_id: int | None  # WooCommerce id; None for a guest
    email: str | None
    kind: str
    source: str
    reference: str  # the source reference: order:1042, review:7, adjustment:..., ...
    points: int
    note: str
    balance: int  # the customer's spendable balance right after this entry


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    next_cursor: str | None  # None on the last page


class BadCursor(ValueError):
    """A history cursor that this report did not hand out."""


def history(
    session: Session,
    store_id: int,
    period: Period,
    *,
    customer: Customer | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> HistoryPage:
    """One page of entries, newest first, for one customer or for the whole store."""
    entry = PointEntry
    # Filter and order on the entries alone (the index on (customer_id, id) or (store_id, id)
    # seeks to the cursor), then join the page's customers.
    query = select(entry.id)
    if customer is not None:
        query = query.where(entry.customer_id == customer.id)
    else:
        query = query.where(entry.store_id == store_id)
    query = query.where(*period.moments(entry.occurred_at))
    if cursor is not None:
        query = query.where(entry.id < decode_cursor(cursor))
    page_ids = query.order_by(entry.id.desc()).limit(limit + 1).subquery()
    rows = session.execute(
        select(entry, Customer.wc_id, Customer.email, entry.balance_after)
        .join(page_ids, page_ids.c.id == entry.id)
        .join(Customer, Customer.id == entry.customer_id)
        .order_by(entry.id.desc())
    ).all()
    page = [
        HistoryRow(
            entry_id=e.id,
            occurred_at=e.occurred_at,
            customer_id=wc_id,
            email=email,
            kind=e.kind,
            source=SourceKind(e.kind).source.value,
            reference=e.source_ref,
            points=e.points,
            note=e.note or "",
            balance=int(balance),
        )
        for e, wc_id, email, balance in rows[:limit]
    ]
    more = len(rows) > limit
    return HistoryPage(page, encode_cursor(page[-1]) if more and page else None)


_CURSOR_PREFIX = "entry:"


def encode_cursor(row: HistoryRow) -> str:
    """The cursor of the page after `row`: its entry id, opaque to the user."""
    raw = f"{_CURSOR_PREFIX}{row.entry_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(_CURSOR_PREFIX) or not raw[len(_CURSOR_PREFIX) :].isdigit():
            raise ValueError("not an entry id")
        return int(raw[len(_CURSOR_PREFIX) :])
    except (ValueError, UnicodeDecodeError) as error:
        raise BadCursor(f"not a history cursor: {cursor!r}") from error
