"""Points History: entries and tier moves, newest first, a keyset page at a time.

Entries are listed in the order the ledger recorded them (id order), each with the spendable
balance its customer had right after it, stored with the entry (`balance_after`).

Tier moves (`tier_events`) are events, not point entries: each is listed right after the entry it
follows (`TierEvent.entry_id`, the customer's last entry at the move's moment), with no points and
the balance of that entry, so the running balance does not change across it.

Both are one ordered stream, keyed (position, tie, id) and read newest first:
- an entry is (its id, 0, its id);
- a move is (its entry_id, 1, its own id): above the entry it follows.
Each side is read by its own index, `(store_id | customer_id, id)` for entries and
`(store_id | customer_id, entry_id, id)` for moves, from the cursor, `limit + 1` rows at most;
the two short lists are merged in SQL (UNION ALL of the two, ordered, limited). The cursor is the
last row's key, so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, literal, select, tuple_, union_all
from sqlalchemy.orm import Session, aliased

from ledger.kinds import SourceKind
from ledger.models import Customer, PointEntry, TierEvent
from reports.period import Period

ENTRY = "entry"
TIER_MOVE = "tier_move"


@dataclass(frozen=True)
class HistoryRow:
    entry_id: int | None  # None for a tier move
    occurred_at: datetime
    customer_id: int | None  # WooCommerce id; None for a guest
    email: str | None
    kind: str  # the entry's kind; "tier_move" for a move
    source: str  # the entry's source; "tier" for a move
    reference: str  # the source reference: order:1042, review:7, ...; tier_event:{id} for a move
    points: int  # 0 for a move
    note: str
    balance: int  # the customer's spendable balance right after this row
    type: str = ENTRY  # "entry" or "tier_move"
    event_id: int | None = None  # the move's id
    tier_from: str | None = None  # a move's tiers (None: no tier)
    tier_to: str | None = None
    position: int = 0  # the key's first part: the entry's id, or the entry a move follows

    @property
    def is_event(self) -> bool:
        return self.type != ENTRY


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    next_cursor: str | None  # None on the last page


class BadCursor(ValueError):
    """A history cursor that this report did not hand out."""


Key = tuple[int, int, int]  # (position, tie: 0 entry / 1 move, id)


def history(
    session: Session,
    store_id: int,
    period: Period,
    *,
    customer: Customer | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> HistoryPage:
    """One page of entries and tier moves, newest first, for one customer or for the store."""
    after = decode_cursor(cursor) if cursor is not None else None
    rows = session.execute(page_keys(store_id, period, customer, limit, after))
    keys = [(int(p), int(t), int(r)) for p, t, r in rows]
    entries = _entries(session, [row_id for _, tie, row_id in keys[:limit] if tie == 0])
    moves = _moves(session, [row_id for _, tie, row_id in keys[:limit] if tie == 1])
    page = [entries[row_id] if tie == 0 else moves[row_id] for _, tie, row_id in keys[:limit]]
    more = len(keys) > limit
    return HistoryPage(page, encode_cursor(page[-1]) if more and page else None)


def page_keys(
    store_id: int, period: Period, customer: Customer | None, limit: int, after: Key | None
) -> Select[Any]:
    """The keys of the page's rows (and one more), newest first: each side seeks its index to
    the cursor and stops after `limit + 1` rows; the union of the two is ordered and cut.
    (`bench/bench_reports.py --explain` prints PostgreSQL's plan of it.)"""
    entry, move = PointEntry, TierEvent
    entries = select(
        entry.id.label("position"), literal(0, Integer).label("tie"), entry.id.label("row_id")
    ).where(
        entry.customer_id == customer.id if customer is not None else entry.store_id == store_id,
        *period.moments(entry.occurred_at),
    )
    moves = select(
        move.entry_id.label("position"), literal(1, Integer).label("tie"), move.id.label("row_id")
    ).where(
        move.customer_id == customer.id if customer is not None else move.store_id == store_id,
        *period.moments(move.at),
    )
    if after is not None:
        position, tie, row_id = after
        if tie == 0:  # after an entry: older entries, and the moves of older entries
            entries = entries.where(entry.id < position)
            moves = moves.where(move.entry_id < position)
        else:  # after a move: its entry and older ones, and the moves below it
            entries = entries.where(entry.id <= position)
            moves = moves.where(
                move.entry_id <= position, tuple_(move.entry_id, move.id) < (position, row_id)
            )
    entries_side = entries.order_by(entry.id.desc()).limit(limit + 1).subquery()
    moves_side = moves.order_by(move.entry_id.desc(), move.id.desc()).limit(limit + 1).subquery()
    merged = union_all(select(entries_side), select(moves_side)).subquery()
    return (
        select(merged.c.position, merged.c.tie, merged.c.row_id)
        .order_by(merged.c.position.desc(), merged.c.tie.desc(), merged.c.row_id.desc())
        .limit(limit + 1)
    )


def _entries(session: Session, ids: list[int]) -> dict[int, HistoryRow]:
    if not ids:
        return {}
    rows = session.execute(
        select(PointEntry, Customer.wc_id, Customer.email)
        .join(Customer, Customer.id == PointEntry.customer_id)
        .where(PointEntry.id.in_(ids))
    )
    return {
        e.id: HistoryRow(
            entry_id=e.id,
            occurred_at=e.occurred_at,
            customer_id=wc_id,
            email=email,
            kind=e.kind,
            source=SourceKind(e.kind).source.value,
            reference=e.source_ref,
            points=e.points,
            note=e.note or "",
            balance=int(e.balance_after),
            position=e.id,
        )
        for e, wc_id, email in rows
    }


def _moves(session: Session, ids: list[int]) -> dict[int, HistoryRow]:
    if not ids:
        return {}
    follows = aliased(PointEntry)
    rows = session.execute(
        select(TierEvent, Customer.wc_id, Customer.email, follows.balance_after)
        .join(Customer, Customer.id == TierEvent.customer_id)
        .outerjoin(follows, follows.id == TierEvent.entry_id)
        .where(TierEvent.id.in_(ids))
    )
    return {
        m.id: HistoryRow(
            entry_id=None,
            occurred_at=m.at,
            customer_id=wc_id,
            email=email,
            kind=TIER_MOVE,
            source="tier",
            reference=f"tier_event:{m.id}",
            points=0,
            note=move_note(m.before, m.after),
            balance=int(balance or 0),
            type=TIER_MOVE,
            event_id=m.id,
            tier_from=m.before,
            tier_to=m.after,
            position=m.entry_id,
        )
        for m, wc_id, email, balance in rows
    }


def move_note(before: str | None, after: str | None) -> str:
    """A move as text: `silver → gold`, `(no tier)` for none."""
    return f"tier {before or '(no tier)'} → {after or '(no tier)'}"


_ENTRY_PREFIX = "entry:"
_MOVE_PREFIX = "tier:"


def encode_cursor(row: HistoryRow) -> str:
    """The cursor of the page after `row`: its key, opaque to the user."""
    move = f"{_MOVE_PREFIX}{row.position}:{row.event_id}"
    raw = move if row.is_event else f"{_ENTRY_PREFIX}{row.entry_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Key:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if raw.startswith(_ENTRY_PREFIX) and raw[len(_ENTRY_PREFIX) :].isdigit():
            entry_id = int(raw[len(_ENTRY_PREFIX) :])
            return (entry_id, 0, entry_id)
        parts = raw[len(_MOVE_PREFIX) :].split(":")
        if raw.startswith(_MOVE_PREFIX) and len(parts) == 2 and all(p.isdigit() for p in parts):
            return (int(parts[0]), 1, int(parts[1]))
        raise ValueError("not a history key")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadCursor(f"not a history cursor: {cursor!r}") from error
