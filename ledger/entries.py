"""Appending point entries, the only way points move.

Used by the sync (reconciling each source object: target points minus `ref_holdings`), by admin
adjustments and, later, by redemptions and expiry. Appending is idempotent per
`(store_id, idempotency_key)` and moves the cached balances by exactly what was inserted, in the
caller's transaction.

Bounds: points per entry, and every balance and lifetime they add up to, stay within
±`POINTS_LIMIT` (10^12). An entry beyond it is refused before anything is written; a batch that
would carry a balance beyond it raises `PointsOutOfRange` inside the transaction, so the caller's
unit of work rolls back whole. Far above any real shop, far below what a 64-bit column holds.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, func, literal_column, select, update
from sqlalchemy.orm import Session

from ledger._dialect import dialect_insert, upsert_insert
from ledger.batches import IN_BATCH
from ledger.batches import chunks as _chunks
from ledger.bulk import BulkStatement, KeyedSelect
from ledger.errors import ConcurrentAppend, PointsOutOfRange
from ledger.kinds import SourceKind
from ledger.models import Balance, Base, Category, EntryLine, PointEntry, Product, Store
from ledger.rollups import LinePoints, move_rollups
from ledger.types import UTCDateTime
from rules import notes

POINTS_LIMIT = 10**12  # the most points one entry, balance or lifetime may hold, either sign
CHUNK = IN_BATCH  # rows per INSERT and refs per IN (...)
_BALANCES = Base.metadata.tables["balances"]


@dataclass(frozen=True)
class NewEntry:
    """An entry to append. `points` is signed and never zero; `occurred_at` is aware UTC."""

    customer_id: int
    points: int
    kind: SourceKind
    source_ref: str
    idempotency_key: str
    occurred_at: datetime
    rule_version: str | None = None
    note: str | None = None
    #: Per-product shares of `points` (purchase entries), adding up to it; () when not split.
    lines: tuple[LinePoints, ...] = ()


@dataclass(frozen=True)
class Holder:
    """What one customer holds of a reference: its source's points, and what expired of them."""

    customer_id: int
    points: int
    expired: int = 0


@dataclass(frozen=True)
class RefHolding:
    """What the ledger holds for one source reference: the net points its source decided, and
    how many entries carry the reference (expiry entries too, so positions never repeat).

    An expiry entry carries its lot's reference (`order:7`) but is not the source's decision:
    the points expired, the order still earned them. Counted as the source's own, an expired
    order looked as if it held nothing, and the next edit, refund or later order gave the
    points back (found by a review, 4 Dec)."""

    points: int
    entries: int
    #: Points its expiry entries took (>= 0): gone from whoever held them, still decided.
    expired: int = 0
    #: The same per customer who holds or held any of it, by ledger customer id: an order moved
    #: to another customer after its points expired keeps what expired on its first owner.
    holders: tuple[Holder, ...] = ()


def reconcile_key(source_ref: str, held: RefHolding | None) -> str:
    """The idempotency key of the next entry for `source_ref`: `{source_ref}#{n}`, n = held + 1.

    Two writers deciding on the same ledger state produce the same key, so only one lands.
    """
    return f"{source_ref}#{(held.entries if held else 0) + 1}"


def append_entries(
    session: Session, store_id: int, entries: Sequence[NewEntry], *, now: datetime
) -> list[NewEntry]:
    """Insert each entry unless its key exists; move the cached balances, and write each inserted
    entry's `balance_after`, for exactly the inserted ones. Returns them, in ascending key order.

    Entries with `lines` also record them; the rollups move with the inserted entries.

    Lock order (no deadlocks between concurrent writers on PostgreSQL):
    0. the store row, shared (`FOR KEY SHARE`), held to the commit: no entry gets an id while
       `settled_entry_id` holds it, and that waits for every writer holding it;
    1. the balance rows of the batch's customers, in ascending customer id order (created if
       missing, then `SELECT ... FOR UPDATE`): writers touching a customer queue here, so the keys
       already recorded are read, and the running balances computed, under the lock;
    2. the entries, in (occurred_at, key) order (INSERT ... ON CONFLICT DO NOTHING);
    3. the rollup rows, each table in ascending key order (`ledger.rollups.move_rollups`);
    4. the balance rows again (already held), moved by the inserted points.
    A writer that decides from what it reads locks its balance rows (step 1) before reading,
    through `lock_balances` (a redemption: its customer's) or `lock_store_balances` (expiry: all
    of them), so no other writer's entries land in between; the call then finds them held. It
    must lock nothing that another writer takes after step 1 (the customer row, which every
    entry's foreign key reads: locking it first deadlocked; a redemption's row, which a replayed
    request and a move of the customer's holdings take after the balance row: a writer that
    moves a redemption's points locks its holder first, `ledger.redemptions.lock_holder`). The
    guarantee holds for one call per transaction. A transaction making several calls, each
    holding its rows to its end, for customers in no order known beforehand (a dry run: one
    transaction, rolled back) first takes step 0 exclusively (`hold_store_writers`): every other
    writer waits there, before its first balance row, until it ends.
    """
    _require_aware(now, "now")
    batch = _validated_batch(entries)
    if not batch:
        return []
    session.flush()  # pending ORM objects (a new customer) must exist before we reference them
    held = lock_balances(session, store_id, sorted({e.customer_id for e in batch}), now)
    recorded = _recorded_keys(session, store_id, [e.idempotency_key for e in batch])
    fresh = [entry for entry in batch if entry.idempotency_key not in recorded]
    if not fresh:
        return []
    ordered = sorted(fresh, key=lambda e: (e.occurred_at, e.idempotency_key))
    rows, moved = _rows_with_balances(store_id, ordered, held, now)
    # In order, so ids follow the rows and each `balance_after` follows the one before it; a key
    # another writer recorded since `_recorded_keys` is skipped (DO NOTHING) and counted missing.
    inserted = _INSERT_ENTRIES.run(session.connection(), rows)
    if inserted != len(rows):
        raise ConcurrentAppend(
            f"{len(rows) - inserted} of {len(rows)} entries were recorded meanwhile by"
            " another writer for another customer; nothing was written, run it again"
        )
    move_rollups(session, store_id, fresh)
    _move_balances(session, moved, now)
    return fresh


def append_entry(session: Session, store_id: int, entry: NewEntry, *, now: datetime) -> bool:
    """Append one entry; True if it was inserted, False if its key already existed."""
    return bool(append_entries(session, store_id, [entry], now=now))


def refs_starting(prefix: str) -> ColumnElement[bool]:
    """Entries whose reference starts with `prefix`, as a range the `(store_id, source_ref)`
    index reads (a `LIKE` would not be, and `_` and `%` are in no reference's way)."""
    after = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # the least string past every such one
    return and_(PointEntry.source_ref >= prefix, PointEntry.source_ref < after)


def holds_refs(session: Session, store_id: int, prefix: str) -> bool:
    """Whether any reference of the store starting with `prefix` has entries (an index range
    read): a run that never needs to look at such references learns so once."""
    found = session.execute(
        select(PointEntry.id).where(PointEntry.store_id == store_id, refs_starting(prefix)).limit(1)
    ).first()
    return found is not None


def latest_rule_versions(
    session: Session, store_id: int, groups: Mapping[str, str]
) -> dict[str, str]:
    """The rule version of each group's latest decision: the latest entry that names one among
    the references of the group (`groups` maps each reference read to the group it answers for;
    expiry entries carry the reference of the lot they expire, and no version), for each group
    that has such an entry."""
    found: dict[str, tuple[int, str]] = {}
    for chunk in _chunks(sorted(groups), CHUNK):
        rows = session.execute(
            select(PointEntry.source_ref, PointEntry.id, PointEntry.rule_version).where(
                PointEntry.store_id == store_id,
                PointEntry.source_ref.in_(chunk),
                PointEntry.kind != SourceKind.EXPIRY,
                PointEntry.rule_version.is_not(None),
            )
        )
        for ref, entry_id, version in rows:
            group = groups[str(ref)]
            if group not in found or found[group][0] < entry_id:
                found[group] = (int(entry_id), str(version))
    return {group: version for group, (_, version) in found.items()}


def ref_holdings(session: Session, store_id: int, refs: Collection[str]) -> dict[str, RefHolding]:
    """Net points (expiry entries left out), expired points and entry count per source
    reference, in all and per customer who holds or held any of it, for each of `refs` that has
    entries."""
    holders: dict[str, list[Holder]] = {}
    counts: dict[str, int] = {}
    session.flush()  # what the session holds unflushed counts too, as it did for a session query
    connection = session.connection()
    for chunk in _chunks(sorted(set(refs)), CHUNK):
        found = _REF_HOLDINGS.rows(
            connection, chunk, store_id=store_id, expiry=SourceKind.EXPIRY.value
        )
        for ref, customer_id, points, count, expired in found:
            holders.setdefault(ref, []).append(Holder(int(customer_id), int(points), int(expired)))
            counts[ref] = counts.get(ref, 0) + int(count)
    return {
        ref: RefHolding(
            points=sum(h.points for h in held),
            entries=counts[ref],
            expired=sum(h.expired for h in held),
            holders=tuple(held),
        )
        for ref, held in holders.items()
    }


_REF_HOLDINGS = KeyedSelect(
    lambda _: (
        select(
            PointEntry.source_ref,
            PointEntry.customer_id,
            func.sum(
                case(
                    (PointEntry.kind == bindparam("expiry"), literal_column("0")),
                    else_=PointEntry.points,
                )
            ),
            func.count(),
            -func.sum(
                case(
                    (PointEntry.kind == bindparam("expiry"), PointEntry.points),
                    else_=literal_column("0"),
                )
            ),
        )
        .where(
            PointEntry.store_id == bindparam("store_id"),
            PointEntry.source_ref.in_(bindparam("keys", expanding=True)),
        )
        .group_by(PointEntry.source_ref, PointEntry.customer_id)
        .order_by(PointEntry.source_ref, PointEntry.customer_id)
    )
)


def ref_entries(
    session: Session, store_id: int, refs: Collection[str]
) -> dict[str, list[tuple[int, int, int, bool]]]:
    """Each of `refs`' entries as (customer id, entry id, points, is an expiry), in id order:
    for a reference whose holders are counted by who holds each entry's points now
    (`ledger.reconcile`, `ledger.customers.heirs`)."""
    found: dict[str, list[tuple[int, int, int, bool]]] = {}
    session.flush()
    for chunk in _chunks(sorted(set(refs)), CHUNK):
        rows = session.execute(
            select(
                PointEntry.source_ref,
                PointEntry.customer_id,
                PointEntry.id,
                PointEntry.points,
                PointEntry.kind,
            )
            .where(PointEntry.store_id == store_id, PointEntry.source_ref.in_(chunk))
            .order_by(PointEntry.id)
        )
        for ref, customer_id, entry_id, points, kind in rows:
            found.setdefault(ref, []).append(
                (int(customer_id), int(entry_id), int(points), kind == SourceKind.EXPIRY)
            )
    return found


def ref_lines(
    session: Session, store_id: int, holdings: dict[str, RefHolding]
) -> dict[str, dict[tuple[int, int], int]]:
    """What each held reference's points are, per (product, category), from the entry lines.

    Points the lines do not cover (entries written without lines) show on (0, 0), so the shares
    always add up to what the reference holds.
    """
    shares: dict[str, dict[tuple[int, int], int]] = {ref: {} for ref in holdings}
    session.flush()
    connection = session.connection()
    for chunk in _chunks(sorted(holdings), CHUNK):
        for ref, product, category, points in _REF_LINES.rows(connection, chunk, store_id=store_id):
            if points:
                shares[ref][(int(product), int(category))] = int(points)
    for ref, held in holdings.items():
        uncovered = held.points - sum(shares[ref].values())
        if uncovered:
            shares[ref][(0, 0)] = shares[ref].get((0, 0), 0) + uncovered
    return shares


_REF_LINES = KeyedSelect(
    lambda _: (
        select(
            EntryLine.source_ref,
            EntryLine.product_id,
            EntryLine.category_id,
            func.sum(EntryLine.points),
        )
        .where(
            EntryLine.store_id == bindparam("store_id"),
            EntryLine.source_ref.in_(bindparam("keys", expanding=True)),
        )
        .group_by(EntryLine.source_ref, EntryLine.product_id, EntryLine.category_id)
    )
)


def line_changes(
    target: dict[tuple[int, int], int], held: dict[tuple[int, int], int]
) -> tuple[LinePoints, ...]:
    """The lines that move `held` shares to `target` shares (both keyed by (product, category))."""
    changes = []
    for key in sorted(target.keys() | held.keys()):
        delta = target.get(key, 0) - held.get(key, 0)
        if delta:
            changes.append(LinePoints(product_id=key[0], category_id=key[1], points=delta))
    return tuple(changes)


def remember_products(session: Session, store_id: int, names: dict[int, str]) -> None:
    """Record (or rename) products as orders show them, for reports: one executemany upsert."""
    _remember_names(session, Product, "product_id", store_id, names)


def remember_categories(session: Session, store_id: int, names: dict[int, str]) -> None:
    """Record (or rename) product categories as the store's products show them, for reports."""
    _remember_names(session, Category, "category_id", store_id, names)


def _remember_names(
    session: Session, model: type[Base], key: str, store_id: int, names: dict[int, str]
) -> None:
    if not names:
        return
    table = model.__table__
    statement = upsert_insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=["store_id", key], set_={"name": statement.excluded.name}
    )
    session.connection().execute(
        statement, [{"store_id": store_id, key: pid, "name": names[pid]} for pid in sorted(names)]
    )


def _validated_batch(entries: Sequence[NewEntry]) -> list[NewEntry]:
    """The entries sorted by key, duplicates folded; refuses zero points, naive times, bad kinds."""
    by_key: dict[str, NewEntry] = {}
    for entry in entries:
        _validate(entry)
        seen = by_key.setdefault(entry.idempotency_key, entry)
        if seen != entry:
            raise ValueError(
                f"idempotency_key {entry.idempotency_key!r} appears twice in one batch "
                "with different entries"
            )
    return [by_key[key] for key in sorted(by_key)]


def _validate(entry: NewEntry) -> None:
    key = entry.idempotency_key
    if isinstance(entry.points, bool) or not isinstance(entry.points, int):
        raise TypeError(f"points of entry {key!r} must be an int, got {entry.points!r}")
    if entry.points == 0:
        raise ValueError(f"points of entry {key!r} is 0: a zero-point entry is never appended")
    if abs(entry.points) > POINTS_LIMIT:
        raise PointsOutOfRange(
            f"{entry.points} points for {entry.source_ref} is beyond what the ledger holds"
            f" (at most {POINTS_LIMIT:,} either way); nothing was written"
        )
    if not isinstance(entry.kind, SourceKind):
        raise ValueError(f"kind of entry {key!r} must be a SourceKind, got {entry.kind!r}")
    if entry.lines and sum(line.points for line in entry.lines) != entry.points:
        raise ValueError(f"the lines of entry {key!r} do not add up to its {entry.points} points")
    if not key or not key.strip():
        raise ValueError(f"idempotency_key of the entry for {entry.source_ref!r} is empty")
    if not entry.source_ref or not entry.source_ref.strip():
        raise ValueError(f"source_ref of entry {key!r} is empty")
    # The column widths, checked here so SQLite (which ignores them) refuses what PostgreSQL would.
    for field, value, limit in (
        ("idempotency_key", key, 255),
        ("source_ref", entry.source_ref, 255),
        ("rule_version", entry.rule_version or "", 64),
    ):
        if len(value) > limit:
            raise ValueError(f"{field} of entry {key[:40]!r}... is longer than {limit} characters")
    _require_aware(entry.occurred_at, f"occurred_at of entry {key!r}")


def _require_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")


def lock_balances(
    session: Session,
    store_id: int,
    customers: list[int],
    now: datetime,
    *,
    existing: Collection[int] = (),
) -> dict[int, tuple[int, int, int]]:
    """Create the missing balance rows, then lock all of them in ascending customer order (step 1
    of the lock order, `append_entries`); returns each customer's (balance, lifetime, pending) as
    locked. SQLite holds its write lock from BEGIN.

    `existing`: customers whose rows are locked with them, in the same ascending pass, only where
    they exist (none is created): a writer that may append for them later in its transaction. A
    row missing now is created by that append; no writer waiting for this one holds it."""
    _share_store(session, store_id)
    _CREATE_BALANCES.run(
        session.connection(), [(customer, store_id, now) for customer in customers]
    )
    held: dict[int, tuple[int, int, int]] = {}
    for chunk in _chunks(sorted({*customers, *existing}) if existing else customers, CHUNK):
        rows = _LOCK_BALANCES.rows(session.connection(), chunk)
        held.update({int(c): (int(b), int(lt), int(p)) for c, b, lt, p in rows})
    return held


def lock_store_balances(session: Session, store_id: int) -> int:
    """Lock every balance row of the store, in ascending customer order (step 1 of the lock
    order), for a writer that decides over every customer from what it reads (expiry): a
    redemption or a sync of one customer cannot go between its reading and its appending.
    Returns how many rows it locked."""
    _share_store(session, store_id)
    query = (
        select(Balance.customer_id)
        .where(Balance.store_id == store_id)
        .order_by(Balance.customer_id)
        .with_for_update()
    )
    return len(session.execute(query).all())


def hold_store_writers(session: Session, store_id: int) -> None:
    """Hold every other writer of the store off until the transaction ends: the store row locked
    exclusively (`FOR UPDATE`, PostgreSQL), which step 0 of the lock order (`FOR KEY SHARE`,
    taken before any balance row) and `settled_entry_id` wait for. For a transaction that writes
    for many customers in an order it cannot know beforehand and holds what it wrote to its end
    (a dry run: one transaction, rolled back): its balance rows, locked in any order, cannot
    deadlock with a writer that follows the lock order, which waits before its first row. Take it
    first in the transaction. SQLite: the write lock taken at BEGIN already holds every writer
    of the database off, to the end."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Store.id).where(Store.id == store_id).with_for_update()).all()


def settled_entry_id(session: Session, store_id: int, *, lock: bool = True) -> int:
    """The highest entry id of the store, with every entry below it committed: where a cursor
    over entry ids (`sync.expiry`, `sync.tiers`) may move to and never miss one.

    On PostgreSQL ids come from a sequence, so an entry can commit after a higher one: read as
    `max(id)`, a writer's entry still in flight (a dashboard adjustment during a sync) fell below
    the cursor and was never looked at. Here the store row is locked (`FOR UPDATE`), which waits
    for every writer holding it shared (step 0 of `append_entries`' lock order, taken before an
    id), and `max(id)` is read; the lock is then let go at once (a savepoint rolled back releases
    the row locks taken in it), so no writer waits on the reader's work: an id taken after that
    is higher anyway. Call it before locking any balance row. SQLite has one writer at a time:
    `max(id)` is settled. `lock=False` (a dry run, which moves no cursor and holds the writers
    off from its start, `hold_store_writers`): the highest id as it reads."""
    highest = select(func.max(PointEntry.id)).where(PointEntry.store_id == store_id)
    if not lock or session.get_bind().dialect.name != "postgresql":
        return int(session.execute(highest).scalar_one() or 0)
    savepoint = session.begin_nested()
    try:
        session.execute(select(Store.id).where(Store.id == store_id).with_for_update()).all()
        top = session.execute(highest).scalar_one()
    finally:
        savepoint.rollback()
    return int(top or 0)


def _share_store(session: Session, store_id: int) -> None:
    """Step 0 of the lock order: the store row, shared (`FOR KEY SHARE`, PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            select(Store.id).where(Store.id == store_id).with_for_update(read=True, key_share=True)
        ).all()


_LOCK_BALANCES = KeyedSelect(
    lambda _: (
        select(
            _BALANCES.c.customer_id, _BALANCES.c.balance, _BALANCES.c.lifetime, _BALANCES.c.pending
        )
        .where(_BALANCES.c.customer_id.in_(bindparam("keys", expanding=True)))
        .order_by(_BALANCES.c.customer_id)
        .with_for_update()
    )
)


def _recorded_keys(session: Session, store_id: int, keys: list[str]) -> set[str]:
    recorded: set[str] = set()
    connection = session.connection()
    for chunk in _chunks(keys, CHUNK):
        recorded.update(k for (k,) in _RECORDED_KEYS.rows(connection, chunk, store_id=store_id))
    return recorded


_RECORDED_KEYS = KeyedSelect(
    lambda _: select(PointEntry.idempotency_key).where(
        PointEntry.store_id == bindparam("store_id"),
        PointEntry.idempotency_key.in_(bindparam("keys", expanding=True)),
    )
)


def _rows_with_balances(
    store_id: int, ordered: list[NewEntry], held: dict[int, tuple[int, int, int]], now: datetime
) -> tuple[list[tuple[Any, ...]], dict[int, tuple[int, int, int]]]:
    """The rows to insert, each with its customer's balance after it, and every customer's
    (balance, lifetime, pending) after the batch; refuses a batch that would carry one beyond the
    bound. Pending points move `pending`, outside the spendable balance."""
    running = dict(held)
    rows = []
    for entry in ordered:
        balance, lifetime, pending = running[entry.customer_id]
        if entry.kind.counts_toward_balance:
            balance += entry.points
        else:
            pending += entry.points
        if entry.kind.counts_toward_lifetime:
            lifetime += entry.points
        running[entry.customer_id] = (balance, lifetime, pending)
        rows.append(_row(store_id, entry, now, balance))
    moved = {c: running[c] for c in sorted(running) if running[c] != held[c]}
    for customer, values in moved.items():
        if max(map(abs, values)) > POINTS_LIMIT:
            raise _balance_out_of_range(customer)
    return rows, moved


_INSERT_ENTRIES = BulkStatement(
    lambda dialect: dialect_insert(dialect, PointEntry.__table__).on_conflict_do_nothing(
        index_elements=["store_id", "idempotency_key"]
    ),
    ("store_id", "customer_id", "points", "kind", "source_ref", "idempotency_key",
     "rule_version", "occurred_at", "recorded_at", "note", "balance_after"),
)  # fmt: skip


def _row(store_id: int, entry: NewEntry, now: datetime, balance_after: int) -> tuple[Any, ...]:
    return (
        store_id,
        entry.customer_id,
        entry.points,
        entry.kind.value,
        entry.source_ref,
        entry.idempotency_key,
        entry.rule_version,
        entry.occurred_at,
        now,
        entry.note,
        balance_after,
    )


def _move_balances(session: Session, moved: dict[int, tuple[int, int, int]], now: datetime) -> None:
    """Write the locked balance rows' new values, in ascending customer order."""
    if not moved:
        return
    _MOVE_BALANCES.run(
        session.connection(),
        [(balance, lifetime, pending, now, c) for c, (balance, lifetime, pending) in moved.items()],
    )
    _expire_cached_balances(session, set(moved))


def _balance_out_of_range(customer_id: int) -> PointsOutOfRange:
    return PointsOutOfRange(notes.BALANCE_BEYOND(customer=customer_id, limit=f"{POINTS_LIMIT:,}"))


# A missing balance row starts at zero (the columns' defaults); an existing one is left alone.
_CREATE_BALANCES = BulkStatement(
    lambda dialect: dialect_insert(dialect, _BALANCES).on_conflict_do_nothing(
        index_elements=["customer_id"]
    ),
    ("customer_id", "store_id", "updated_at"),
)
_MOVE_BALANCES = BulkStatement(
    lambda dialect: (
        update(_BALANCES)
        .where(_BALANCES.c.customer_id == bindparam("cid"))
        .values(
            balance=bindparam("new_balance"),
            lifetime=bindparam("new_lifetime"),
            pending=bindparam("new_pending"),
            updated_at=bindparam("now", type_=UTCDateTime()),
        )
    ),
    ("new_balance", "new_lifetime", "new_pending", "now", "cid"),
)


def _expire_cached_balances(session: Session, customer_ids: set[int]) -> None:
    # The balances moved in SQL; Balance objects already loaded in this session are now stale.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Balance) and obj.customer_id in customer_ids:
            session.expire(obj)
