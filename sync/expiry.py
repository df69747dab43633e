"""Running expiry over the ledger (`loyalty expire`, the worker's daily task, the sync once a day).

Reads every entry of the store once, customer by customer in time order (`sync.expiry_movements`:
a transfer in carries the lots it took where it came from), lets `rules.expiry` decide, and
appends one `expiry` entry per customer, lot and expiry date (key `expiry:{customer}:{lot}:
{date}`; the lot `inactive` for a whole balance gone inactive), so running it again on the same
day, or replaying an older day, appends nothing. With `dry_run` it
only reports. The next expiry of each customer (for `loyalty_points_expiring`) and the customers
within `warn_days` of it come back too, and a real run stores every customer's next expiry
(`ledger.expiring`).

Between runs, `refresh_next_expiries` recomputes the next expiry of just the customers with
entries newer than the last computation (an entry-id cursor, `sync_cursors` row `expiring`), so
the write-back sends `loyalty_points_expiring` for exactly the customers whose value changed.
`expire_if_due` is the sync's step: at most once per store day (cursor `expiry`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.entries import (
    NewEntry,
    append_entries,
    lock_balances,
    lock_store_balances,
    settled_entry_id,
)
from ledger.expiring import customers_with_entries_between, save_next_expiries
from ledger.kinds import SourceKind
from ledger.models import PointEntry, SyncCursor
from rules import notes
from rules.expiry import (
    Expiry,
    ExpiryRules,
    Movement,
    expiries_due,
    is_warned,
    next_expiry,
)
from sync.expiry_movements import Who, customers_by_id, earned_days, movements_by_customer
from sync.progress import Progress

BATCH = 2000  # expiry entries per append
EXPIRING_CURSOR = "expiring"  # {"entry_id": N}: next expiries are current up to this entry
EXPIRY_CURSOR = "expiry"  # {"day": "YYYY-MM-DD"}: the store day the sync last ran expiry


@dataclass(frozen=True)
class CustomerExpiry:
    """What expired for one customer in this run, and what expires next."""

    customer_id: int
    wc_id: int | None
    email: str | None
    expired: int
    entries: int
    next_points: int | None
    next_date: date | None
    warned: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "customer_id": self.wc_id,
            "email": self.email,
            "expired": self.expired,
            "entries": self.entries,
            "expiring": (
                {"points": self.next_points, "date": self.next_date.isoformat()}
                if self.next_date is not None
                else None
            ),
            "warned": self.warned,
        }


@dataclass
class ExpiryRun:
    """The result of one run: per customer that expired or is warned, and the totals."""

    as_of: date
    dry_run: bool
    customers: list[CustomerExpiry] = field(default_factory=list)
    expired_points: int = 0
    appended: int = 0  # entries actually inserted (0 under a replay or a dry run)
    appended_points: int = 0  # the points those entries took (corrections giving back: less)
    planned: int = 0  # the entries this run decided to append (a dry run's figure)
    planned_points: int = 0  # and the points they take
    customers_seen: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "customers": [c.as_dict() for c in self.customers if c.expired],
            "warned": [c.as_dict() for c in self.customers if c.warned],
            "total": self.totals(),
        }

    def totals(self) -> dict[str, int]:
        return {
            "expired_points": self.expired_points,
            "customers": sum(1 for c in self.customers if c.expired),
            "entries_appended": self.appended,
            "customers_seen": self.customers_seen,
        }


def run_expiry(
    session: Session,
    store_id: int,
    rules: ExpiryRules,
    *,
    as_of: date,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
    customer_ids: Sequence[int] | None = None,
    through: int | None = None,
) -> ExpiryRun:
    """Expire what `rules` say is due on or before `as_of`, counting customers on `progress`
    (every customer with entries, or `customer_ids`).

    Each lot's expiry on each date is reconciled with what the ledger holds for it (`_reconciled`):
    a replay appends nothing; an entry dated before an expiry that arrived after it (a refund
    synced after the day's expiry ran) changes what expired, and a correction is appended. What
    this run counts as expired is what it decided, appended now or before (a replay of a day
    reports that day's figures again, with `appended` = 0). `through`: where the entries end, if
    the caller read it already (`expire_if_due`).
    """
    run = ExpiryRun(as_of=as_of, dry_run=dry_run)
    if not rules.enabled:
        return run
    if through is None:  # where the entries end, before any balance row (`settled_entry_id`)
        through = settled_entry_id(session, store_id, lock=not dry_run)
    if not dry_run and customer_ids is None:  # what expires is decided from the entries:
        lock_store_balances(session, store_id)  # none may land meanwhile
    elif not dry_run:
        lock_balances(session, store_id, sorted(customer_ids or ()), now)
    upcoming_of: dict[int, tuple[int, date] | None] = {}
    progress = progress or Progress()
    total = len(customer_ids) if customer_ids is not None else None
    progress.start("expire", total or _customers_with_entries(session, store_id))
    counted = 0
    pending: list[NewEntry] = []
    earned = earned_days(session, store_id, rules, customer_ids)
    for customer, movements in movements_by_customer(
        session, store_id, rules, earned, customer_ids
    ):
        run.customers_seen += 1
        due = expiries_due(movements, rules, as_of, earned)
        upcoming = next_expiry(movements, rules, as_of, earned)
        upcoming_of[customer.id] = upcoming
        warned = is_warned(upcoming, rules, as_of)
        expired = sum(item.points for item in due)
        if due or warned:
            run.customers.append(
                CustomerExpiry(
                    customer_id=customer.id,
                    wc_id=customer.wc_id,
                    email=customer.email,
                    expired=expired,
                    entries=len(due),
                    next_points=upcoming[0] if upcoming else None,
                    next_date=upcoming[1] if upcoming else None,
                    warned=warned,
                )
            )
        run.expired_points += expired
        origins = _origins(session, due)
        pending.extend(_reconciled(customer.id, due, movements, as_of, origins))
        if len(pending) >= BATCH:
            _flush(run, session, store_id, pending, now=now, dry_run=dry_run)
            progress.advance(run.customers_seen - counted)
            counted = run.customers_seen
    _flush(run, session, store_id, pending, now=now, dry_run=dry_run)
    if not dry_run and customer_ids is None:  # else the write-back's refresh does theirs
        save_next_expiries(session, store_id, upcoming_of)
        _save_state(session, store_id, EXPIRING_CURSOR, {"entry_id": through}, now)
    progress.advance(run.customers_seen - counted)
    progress.finish()
    return run


def unrecorded_expiry(
    session: Session, store_id: int, rules: ExpiryRules, customer_id: int, *, as_of: date
) -> int:
    """The points of one customer that expired on or before `as_of` and no expiry entry took yet
    (the day's run has not come): what a redemption must not spend. A lot expiring at 00:00
    went before a redemption of that day, and the run, coming after, expired it as well: the
    customer paid twice and owed the points (found by a review, 4 Dec). Reads only."""
    if not rules.enabled:
        return 0
    earned = earned_days(session, store_id, rules, [customer_id])
    for customer, movements in movements_by_customer(
        session, store_id, rules, earned, [customer_id]
    ):
        due = expiries_due(movements, rules, as_of, earned)
        return max(
            0, -sum(entry.points for entry in _reconciled(customer.id, due, movements, as_of))
        )
    return 0


def refresh_next_expiries(
    session: Session,
    store_id: int,
    rules: ExpiryRules,
    *,
    as_of: date,
    now: datetime,
    dry_run: bool = False,
) -> int:
    """Recompute the next expiry of the customers with entries newer than the `expiring` cursor
    (all of them the first time), store it, move the cursor. Returns how many were recomputed.
    A dry run's transaction is rolled back: it holds no writer back (`settled_entry_id`)."""
    if not rules.enabled:
        return 0
    after = int(_state(session, store_id, EXPIRING_CURSOR).get("entry_id", 0))
    through = settled_entry_id(session, store_id, lock=not dry_run)
    if through <= after:
        return 0
    changed = customers_with_entries_between(session, store_id, after, through)
    found: dict[int, tuple[int, date] | None] = dict.fromkeys(changed)
    earned = earned_days(session, store_id, rules, changed)
    for customer, movements in movements_by_customer(session, store_id, rules, earned, changed):
        found[customer.id] = next_expiry(movements, rules, as_of, earned)
    save_next_expiries(session, store_id, found)
    _save_state(session, store_id, EXPIRING_CURSOR, {"entry_id": through}, now)
    return len(changed)


def expire_if_due(
    session: Session,
    store_id: int,
    rules: ExpiryRules,
    *,
    store_day: date,
    now: datetime,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ExpiryRun | None:
    """The sync's expiry: run it as of `store_day` (the store's date) unless it already ran on
    that day or later; None when there was nothing to do. The cursor moves with the entries.

    Once it ran on a day, the customers with entries since (`entry_id` in the cursor) are
    reconciled as of that day again: an entry dated before an expiry (a refund synced after the
    day's expiry ran, from the worker's daily task or `loyalty expire`) changes what expired, and
    the correction lands before the debt step reads the balances."""
    if not rules.enabled:
        return None
    state = _state(session, store_id, EXPIRY_CURSOR)
    last = date.fromisoformat(str(state["day"])) if "day" in state else None
    # Where the entries end, read before any balance row is locked (`settled_entry_id`); the
    # cursor moves there. Read again under the run's balance locks it deadlocked with a writer,
    # and read plainly after a run over some customers, an entry another writer committed
    # meanwhile fell behind the cursor (both found by a review).
    through = settled_entry_id(session, store_id, lock=not dry_run)
    changed: list[int] | None = None
    if last is not None and last >= store_day:
        after = state.get("entry_id")
        if after is None:  # a cursor from before it kept one: from now on (the day's full
            if not dry_run:  # run reconciled everything up to its own entries)
                _save_state(session, store_id, EXPIRY_CURSOR, {**state, "entry_id": through}, now)
            return None
        changed = customers_with_entries_between(session, store_id, int(after), through)
        if not changed:
            return None
    day = last if changed is not None and last is not None else store_day
    run = run_expiry(
        session,
        store_id,
        rules,
        as_of=day,
        now=now,
        dry_run=dry_run,
        progress=progress,
        customer_ids=changed,
        through=through,
    )
    if not dry_run:
        if changed is None:  # every balance row is held: no writer is in flight, none can start,
            through = settled_entry_id(session, store_id, lock=False)  # so its own are passed
        # (after a run over some customers, its own entries are read once more: they change
        # nothing)
        _save_state(
            session, store_id, EXPIRY_CURSOR, {"day": day.isoformat(), "entry_id": through}, now
        )
    return run


def _state(session: Session, store_id: int, resource: str) -> dict[str, Any]:
    row = session.get(SyncCursor, (store_id, resource))
    return dict(json.loads(row.state)) if row is not None else {}


def _save_state(
    session: Session, store_id: int, resource: str, state: dict[str, Any], now: datetime
) -> None:
    row = session.get(SyncCursor, (store_id, resource))
    if row is None:
        row = SyncCursor(store_id=store_id, resource=resource, state="{}")
        session.add(row)
    row.state = json.dumps(state, sort_keys=True)
    row.updated_at = now
    session.flush()


def _reconciled(
    customer_id: int,
    due: Sequence[Expiry],
    movements: Sequence[Movement],
    as_of: date,
    origins: Mapping[str, Who] | None = None,
) -> list[NewEntry]:
    """The entries that bring each expiry key of the customer to what `due` says: the expiry
    itself the first time (key `expiry:{lot}:{date}`), a correction (`#2`, `#3`...) when what
    the ledger holds for the key differs (more, or less, or an expiry that should not have
    happened: a refund dated before it, synced after it ran; or points that an expiry took too
    many on the customer whose balance moved here, given back here, the note naming that
    customer from `origins`: `_origins`)."""
    held: dict[str, tuple[int, int, Movement]] = {}  # base key: (points expired, entries, one)
    for move in movements:
        if move.is_expiry and move.key is not None and move.at.date() <= as_of:
            base = _base_key(move.key, customer_id)
            points, count, _ = held.get(base, (0, 0, move))
            held[base] = (points - move.points, count + 1, move)
    wanted = {item.entry_key(customer_id): item for item in due}
    out: list[NewEntry] = []
    for base in sorted(wanted.keys() | held.keys()):
        item = wanted.get(base)
        have, count, seen = held.get(base, (0, 0, None))
        want = item.points if item is not None else 0
        if want == have:
            continue
        if count == 0 and item is not None and item.points > 0:
            out.append(_entry(customer_id, item))
            continue
        if item is not None:
            at, ref = item.at, item.lot_ref
        else:
            assert seen is not None  # a key nothing wants is one the ledger holds
            at, ref = seen.at, seen.source_ref
        day = at.date().isoformat()
        out.append(
            NewEntry(
                customer_id=customer_id,
                points=have - want,
                kind=SourceKind.EXPIRY,
                source_ref=ref,
                idempotency_key=f"{base}#{count + 1}",
                occurred_at=at,
                note=_correction_note(item, day, want, have, origins or {}),
            )
        )
    return out


def _correction_note(
    item: Expiry | None, day: str, want: int, have: int, origins: Mapping[str, Who]
) -> str:
    """What a correction says: points given back here (an expiry on the customer whose balance
    moved here took them in excess: `want` < 0), naming that customer when one transfer brought
    them; how much is given back, corrected; or what expired, corrected."""
    if want < 0 and have == 0:
        came_from = item.came_from if item is not None else ()
        source = origins.get(came_from[0]) if len(came_from) == 1 else None
        if source is not None and came_from[0].startswith(_GUEST_MOVED) and source.email:
            return notes.EXPIRY_GIVEN_BACK_GUEST(points=-want, day=day, email=source.email)
        if source is not None and came_from[0].startswith(_ACCOUNT_MOVED) and source.wc_id:
            return notes.EXPIRY_GIVEN_BACK_ACCOUNT(points=-want, day=day, account=source.wc_id)
        return notes.EXPIRY_GIVEN_BACK(points=-want, day=day)
    if want <= 0 and have < 0:
        return notes.EXPIRY_GIVEN_BACK_CORRECTED(day=day, given=-want, recorded=-have)
    return notes.EXPIRY_CORRECTED(day=day, expired=want, recorded=have)


#: The references of the transfers that move a balance (`sync.owners`), naming the customer it
#: moved from by its ledger id.
_GUEST_MOVED = "transfer:guest:"
_ACCOUNT_MOVED = "transfer:deleted:"


def _origins(session: Session, due: Sequence[Expiry]) -> dict[str, Who]:
    """The customers named by the transfers that brought points given back in `due`, by the
    transfer's reference: for the note of the correction giving them back (none read when
    nothing is given back)."""
    refs = {ref for item in due if item.points < 0 for ref in item.came_from}
    ids = {ref: ref.rpartition(":")[2] for ref in refs}
    named = {ref: int(tail) for ref, tail in ids.items() if tail.isdigit()}
    if not named:
        return {}
    found = customers_by_id(session, sorted(set(named.values())))
    return {ref: found[cid] for ref, cid in named.items() if cid in found}


def _base_key(key: str, customer_id: int) -> str:
    """An expiry entry's key without its correction's `#n`, in today's form: a key written
    before keys named the customer (`expiry:{lot}:{date}`, `expiry:inactive:{date}`) is that
    customer's. Lot references begin with a word (`order:7`), customer ids with a digit."""
    base = key.split("#", 1)[0]
    rest = base.removeprefix("expiry:")
    if rest.split(":", 1)[0].isdigit():
        return base
    lot, _, day = rest.rpartition(":")
    head, _, owner = lot.partition(":")
    if head == "inactive" and owner.isdigit():  # `expiry:inactive:{customer}:{date}`, briefly
        return f"expiry:{owner}:inactive:{day}"
    return f"expiry:{customer_id}:{rest}"


def _entry(customer_id: int, item: Expiry) -> NewEntry:
    return NewEntry(
        customer_id=customer_id,
        points=-item.points,
        kind=SourceKind.EXPIRY,
        source_ref=item.lot_ref,
        idempotency_key=item.entry_key(customer_id),
        occurred_at=item.at,
        note=notes.EXPIRED(day=item.on.isoformat()),
    )


def _flush(
    run: ExpiryRun,
    session: Session,
    store_id: int,
    pending: list[NewEntry],
    *,
    now: datetime,
    dry_run: bool,
) -> None:
    batch, pending[:] = list(pending), []
    run.planned += len(batch)
    run.planned_points -= sum(entry.points for entry in batch)
    if dry_run or not batch:
        return
    inserted = append_entries(session, store_id, batch, now=now)
    run.appended += len(inserted)
    run.appended_points -= sum(entry.points for entry in inserted)


def _customers_with_entries(session: Session, store_id: int) -> int:
    query = select(func.count(func.distinct(PointEntry.customer_id))).where(
        PointEntry.store_id == store_id
    )
    return int(session.execute(query).scalar_one())
