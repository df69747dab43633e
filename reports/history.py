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
the two short lists are merged in SQL (UNION ALL of the two, ordered, limited), and the page's
details read by primary key. The statements are built once and run with bound values. The cursor
is the last row's key, so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    Select,
    bindparam,
    case,
    func,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from ledger.kinds import SourceKind
from ledger.models import Customer, PointEntry, TierEvent
from ledger.types import MAX_BIGINT
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
    statement = page_statement(
        customer is not None,
        after[1] if after is not None else None,
        period.start is not None,
        period.end is not None,
    )
    values: dict[str, Any] = {
        "owner": customer.id if customer is not None else store_id,
        "n": min(limit + 1, MAX_BIGINT),  # a limit the CLI takes, up to the largest it binds
        "start_at": period.start_moment,
        "end_at": period.end_moment,
        "position": after[0] if after is not None else None,
        "row_id": after[2] if after is not None else None,
    }
    keys = session.execute(statement, values).all()
    entries, moves = (
        [k[2] for k in keys[:limit] if k[1] == 0],
        [k[2] for k in keys[:limit] if k[1] == 1],
    )
    found = {(0, row[0]): _entry_row(row) for row in _details(session, _ENTRY_DETAILS, entries)}
    found |= {(1, row[0]): _move_row(row) for row in _details(session, _MOVE_DETAILS, moves)}
    page = [found[(tie, row_id)] for _, tie, row_id in keys[:limit]]
    more = len(keys) > limit
    return HistoryPage(page, encode_cursor(page[-1]) if more and page else None)


def _details(session: Session, statement: Select[Any], ids: list[int]) -> list[Any]:
    return list(session.execute(statement, {"ids": ids})) if ids else []


@cache
def page_statement(
    by_customer: bool, after: int | None, from_start: bool, to_end: bool
) -> Select[Any]:
    """The page's statement for one shape of request (one customer or the store; after no row,
    an entry (0) or a move (1); a range closed at either end), built once, run with its values
    bound (`owner`, `n` = limit + 1, `start_at`, `end_at`, `position`, `row_id`): building it
    costs more than running it.

    The keys of the page's rows (and one more), newest first: each side seeks its index to the
    cursor and stops after `n` rows; the union of the two is ordered and cut. The page's details
    are then read by primary key (`_ENTRY_DETAILS`, `_MOVE_DETAILS`): joined into this statement,
    PostgreSQL hashed the whole of `tier_events` for them.
    (`bench/bench_reports.py --explain` prints PostgreSQL's plan of it.)"""
    entry, move = PointEntry, TierEvent
    # BIGINT: entry ids and limits go past 2^31 (bound as INTEGER, PostgreSQL refused them)
    n, position = bindparam("n", type_=BigInteger), bindparam("position", type_=BigInteger)
    row_id = bindparam("row_id", type_=BigInteger)
    entries = _within(
        select(
            entry.id.label("position"), literal(0, Integer).label("tie"), entry.id.label("row_id")
        ).where((entry.customer_id if by_customer else entry.store_id) == bindparam("owner")),
        entry.occurred_at,
        from_start,
        to_end,
    )
    moves = _within(
        select(
            move.entry_id.label("position"),
            literal(1, Integer).label("tie"),
            move.id.label("row_id"),
        ).where((move.customer_id if by_customer else move.store_id) == bindparam("owner")),
        move.at,
        from_start,
        to_end,
    )
    if after == 0:  # after an entry: older entries, and the moves of older entries
        entries = entries.where(entry.id < position)
        moves = moves.where(move.entry_id < position)
    elif after == 1:  # after a move: its entry and older ones, and the moves below it
        entries = entries.where(entry.id <= position)
        moves = moves.where(
            move.entry_id <= position, tuple_(move.entry_id, move.id) < tuple_(position, row_id)
        )
    entries_side = entries.order_by(entry.id.desc()).limit(n).cte("page_entries")
    # A full page of entries ends at its oldest entry: no move after an older one can rank above
    # it, so the moves are sought from there on only; their cost follows the page, whatever plan
    # the database picks (PostgreSQL scans a small tier_events whole rather than by its index).
    full = func.count() == n
    oldest = select(case((full, func.min(entries_side.c.position)), else_=0)).scalar_subquery()
    moves = moves.where(move.entry_id >= oldest)
    moves_side = moves.order_by(move.entry_id.desc(), move.id.desc()).limit(n).subquery()
    merged = union_all(select(entries_side), select(moves_side)).subquery()
    return (
        select(merged.c.position, merged.c.tie, merged.c.row_id)
        .order_by(merged.c.position.desc(), merged.c.tie.desc(), merged.c.row_id.desc())
        .limit(n)
    )


# Each page's details, by primary key: built once, run with the page's ids.
_IDS: Any = bindparam("ids", expanding=True)
_ENTRY_DETAILS = (
    select(PointEntry.id, PointEntry.occurred_at, PointEntry.kind, PointEntry.source_ref)
    .add_columns(PointEntry.points, PointEntry.note, PointEntry.balance_after)
    .add_columns(Customer.wc_id, Customer.email)
    .join(Customer, Customer.id == PointEntry.customer_id)
    .where(PointEntry.id.in_(_IDS))
)
_FOLLOWS = aliased(PointEntry, name="follows")
_MOVE_DETAILS = (
    select(TierEvent.id, TierEvent.entry_id, TierEvent.at, TierEvent.before, TierEvent.after)
    .add_columns(_FOLLOWS.balance_after, Customer.wc_id, Customer.email)
    .join(Customer, Customer.id == TierEvent.customer_id)
    .outerjoin(_FOLLOWS, _FOLLOWS.id == TierEvent.entry_id)
    .where(TierEvent.id.in_(_IDS))
)


def _within(query: Any, moment: Any, from_start: bool, to_end: bool) -> Any:
    """`query` limited to the range's moments (bound as `start_at`, `end_at`)."""
    if from_start:
        query = query.where(moment >= bindparam("start_at", type_=moment.type))
    if to_end:
        query = query.where(moment < bindparam("end_at", type_=moment.type))
    return query


def _entry_row(row: Sequence[Any]) -> HistoryRow:
    entry_id, at, kind, ref, points, note, balance, wc_id, email = tuple(row)
    return HistoryRow(
        entry_id=entry_id,
        occurred_at=at,
        customer_id=wc_id,
        email=email,
        kind=kind,
        source=SourceKind(kind).source.value,
        reference=ref,
        points=points,
        note=note or "",
        balance=int(balance),
        position=entry_id,
    )


def _move_row(row: Sequence[Any]) -> HistoryRow:
    event_id, position, at, before, after, balance, wc_id, email = tuple(row)
    return HistoryRow(
        entry_id=None,
        occurred_at=at,
        customer_id=wc_id,
        email=email,
        kind=TIER_MOVE,
        source="tier",
        reference=f"tier_event:{event_id}",
        points=0,
        note=move_note(before, after),
        balance=int(balance or 0),
        type=TIER_MOVE,
        event_id=event_id,
        tier_from=before,
        tier_to=after,
        position=position,
    )


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


def _is_key(text: str) -> bool:
    """Digits of an id the ledger can hold (a larger one would fail the query, not find nothing)."""
    return text.isascii() and text.isdigit() and int(text) <= MAX_BIGINT


def decode_cursor(cursor: str) -> Key:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if raw.startswith(_ENTRY_PREFIX) and _is_key(raw[len(_ENTRY_PREFIX) :]):
            entry_id = int(raw[len(_ENTRY_PREFIX) :])
            return (entry_id, 0, entry_id)
        parts = raw[len(_MOVE_PREFIX) :].split(":")
        if raw.startswith(_MOVE_PREFIX) and len(parts) == 2 and all(map(_is_key, parts)):
            return (int(parts[0]), 1, int(parts[1]))
        raise ValueError("not a history key")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadCursor(f"not a history cursor: {cursor!r}") from error
