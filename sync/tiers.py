"""Tier moves, as a sync step (`sync.sources`): the customers whose entries changed since the last
run (an entry-id cursor, `tiers`), and once per store day every customer holding a tier when a
tier counts a rolling window, get their moves up and down recorded (`ledger.tiers`), decided by
`rules.tiers.tier_moves` on the store's time. The orders source decides each order's tier itself
(`sync.order_points`): this step only keeps the record and the tier held, for the `loyalty_tier`
meta and the history.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.entries import settled_entry_id
from ledger.expiring import customers_with_entries_between
from ledger.models import TierEvent
from ledger.tiers import earnings, held_tiers, record_moves
from rules.tiers import Earning, TierRules, tier_at, tier_moves
from sync.context import SyncContext

CURSOR = "tiers"  # {"entry_id": N, "day": "YYYY-MM-DD"}


def move_tiers(ctx: SyncContext) -> None:
    """Record the tier moves of the customers that may have moved (see the module)."""
    rules = ctx.settings.tiers
    if not rules.enabled:
        return
    state = ctx.cursor_state(CURSOR)
    store_now = ctx.window_end()
    with ctx.tx.unit() as session:
        # Read once: the moves are decided up to it and the cursor moves there (read again after,
        # an entry committed meanwhile fell behind the cursor and its tier move was never made).
        through = settled_entry_id(session, ctx.store_id, lock=not ctx.dry_run)
        moved = update_tiers(
            session,
            ctx.store_id,
            rules,
            after_entry=int(state.get("entry_id", 0)),
            last_day=date.fromisoformat(state["day"]) if "day" in state else None,
            store_now=store_now,
            now=ctx.now,
            through=through,
        )
        ctx.save_cursor(
            session, CURSOR, None, {"entry_id": through, "day": store_now.date().isoformat()}
        )
    ctx.counts("tiers").seen += moved


def update_tiers(
    session: Session,
    store_id: int,
    rules: TierRules,
    *,
    after_entry: int,
    last_day: date | None,
    store_now: datetime,
    now: datetime,
    through: int | None = None,
) -> int:
    """Record the moves of the customers with entries after `after_entry` up to `through`
    (default: `settled_entry_id` now), and, on a new store day with a windowed tier, of everyone
    holding a tier; returns how many moves were recorded."""
    if through is None:
        through = settled_entry_id(session, store_id)
    candidates = set(customers_with_entries_between(session, store_id, after_entry, through))
    windowed = any(tier.window_days for tier in rules.tiers)
    if windowed and (last_day is None or last_day < store_now.date()):
        candidates |= set(
            session.execute(
                select(TierEvent.customer_id).where(TierEvent.store_id == store_id).distinct()
            ).scalars()
        )
    if not candidates:
        return 0
    history = earnings(session, candidates)
    held = held_tiers(session, candidates)
    moves: list[tuple[int, datetime, str | None, str | None]] = []
    for customer in sorted(candidates):
        earned = [Earning(at, points) for at, points in history[customer]]
        state, last_at = held.get(customer, (None, None))
        for move in tier_moves(earned, rules, until=store_now):
            if (last_at is None or move.at > last_at) and move.after != state:
                moves.append((customer, move.at, state, move.after))
                state, last_at = move.after, move.at
        current = tier_at(earned, store_now, rules)
        name = current.name if current else None
        if name != state:  # history the record had not seen (entries that arrived late)
            at = store_now if last_at is None or store_now > last_at else last_at
            moves.append((customer, at + timedelta(seconds=int(at == last_at)), state, name))
    record_moves(session, store_id, moves, now=now)
    return len(moves)
