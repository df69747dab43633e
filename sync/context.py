"""What one sync run gives its sources and steps: the store, the ledger, the window, the summary.

For `sync.service` (which builds one per run) and every source and step (`sync.sources`): they
read the store through `client`, write the ledger in `tx.unit()` units of work, keep their cursors
with `cursor_position` / `cursor_state` / `save_cursor`, count what they appended with `record`,
and run each listing through `guard`, so a listing that stalls stops that listing alone.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ledger.customers import get_or_create_store
from ledger.entries import NewEntry, append_entries, hold_store_writers
from ledger.models import SyncCursor
from ledger.session import refresh_planner_statistics, session_scope
from ledger.sync_lock import SyncLock
from sync.allocator import hand_back_free_pages
from sync.client import StoreClient
from sync.owners import OwnerDirectory, OwnerMoved
from sync.paging import ListingStalled
from sync.progress import Progress
from sync.quarantine import Quarantine
from sync.redemption_lifecycle import CouponUses
from sync.settings import SyncSettings
from sync.summary import SourceCounts, SyncSummary

log = logging.getLogger("sync")

#: The store's clock may differ this much from the local one before the run warns about it.
SKEW_WARNING = timedelta(minutes=1)
#: How often a listing started ahead looks again whether the store has answered yet.
ANSWER_POLL_SECONDS = 0.05


def wall_clock() -> datetime:
    """This machine's clock now, in UTC, to the second (as the ledger records times)."""
    return datetime.now(UTC).replace(microsecond=0)


class Transactions:
    """Units of work for one run. A dry run shares one transaction and rolls it all back; it
    holds the store's other writers off from its start (`SyncContext.start`,
    `ledger.entries.hold_store_writers`): every row it writes stays locked to its end, in no set
    order."""

    def __init__(self, engine: Engine, *, dry_run: bool, lock: SyncLock | None = None) -> None:
        self.engine = engine
        self.dry_run = dry_run
        #: The store's sync lock the run holds: a unit of work commits only while it is held.
        self.lock = lock
        self._dry_session: Session | None = None

    def __enter__(self) -> Transactions:
        if self.dry_run:
            self._dry_session = Session(bind=self.engine, expire_on_commit=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._dry_session is not None:
            self._dry_session.rollback()
            self._dry_session.close()

    @contextmanager
    def unit(self, *, locked: bool = True) -> Iterator[Session]:
        """One unit of work (committed at its end; flushed only, in a dry run). Afterwards the
        allocator hands back the pages its freed buffers leave free (`sync.allocator`).

        `locked=False`: committed whether the lock is held or not, for the run's own record (its
        row in `sync_runs`, which no other run writes): checked, a run that lost its lock left
        it `running`, how it ended and what it did lost."""
        lock = self.lock if locked else None
        if lock is not None:
            lock.check(ping=False)
        if self._dry_session is None:
            with session_scope(self.engine) as session:
                yield session
                if lock is not None:  # lost meanwhile (another sync may run): rolled back
                    lock.check()
        else:
            yield self._dry_session
            self._dry_session.flush()
        hand_back_free_pages()


#: A source's `on_accounts` (see `sync.source.AccountWatcher`).
AccountHook = Callable[["SyncContext", Session, list[dict[str, Any]]], list[NewEntry]]


@dataclass
class SyncContext:
    """One run's shared state. `now` is this machine's clock at the start (entries' recorded
    time, schedules); `window_end()` is the store's (where listings stop, cursors' positions)."""

    settings: SyncSettings
    tx: Transactions
    client: StoreClient
    progress: Progress
    store_id: int
    full: bool
    dry_run: bool
    now: datetime
    summary: SyncSummary
    owners: OwnerDirectory
    quarantine: Quarantine
    #: Redemption coupon codes in the items read, for the redemption steps after the sources.
    coupon_uses: CouponUses = field(default_factory=CouponUses)
    #: Items new to the ledger: a run that saw none needs no catch-up.
    changes: int = 0
    #: Listing -> why it stopped (it is skipped for the rest of the run).
    stopped: dict[str, str] = field(default_factory=dict)
    #: What sources do when an owner's holdings move to another (`sync.owners.OwnerMoved`): a
    #: source that tracks items per owner registers one when it is built.
    owner_hooks: list[OwnerMoved] = field(default_factory=list)
    #: Clients a source talks through besides `client` (WordPress's `wp/v2`), counted in the
    #: run's requests.
    clients: list[StoreClient] = field(default_factory=list)
    #: Source name -> its `on_accounts`, for the customers listing to hand each page of accounts.
    account_hooks: dict[str, AccountHook] = field(default_factory=dict)
    _until: datetime | None = None
    _until_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def start(
        cls,
        settings: SyncSettings,
        tx: Transactions,
        client: StoreClient,
        progress: Progress,
        *,
        full: bool,
        dry_run: bool,
    ) -> SyncContext:
        """The context of a run starting now: the store's ledger id (created on its first run),
        an empty summary, the run's owner directory and quarantine."""
        with tx.unit() as session:
            store_id = get_or_create_store(session, settings.store_key).id
            if tx.dry_run:  # one transaction to the end, locking customers in no set order
                hold_store_writers(session, store_id)
        return cls(
            settings=settings,
            tx=tx,
            client=client,
            progress=progress,
            store_id=store_id,
            full=full,
            dry_run=dry_run,
            now=wall_clock(),
            summary=SyncSummary(dry_run=dry_run, full=full),
            owners=OwnerDirectory(store_id),
            quarantine=Quarantine(store_id),
        )

    @property
    def overlap(self) -> timedelta:
        return timedelta(minutes=self.settings.overlap_minutes)

    # -- the window --------------------------------------------------------------------------

    def window_end(self) -> datetime:
        """Where this run's listings stop, in the store's time: fixed on first use (after the
        store first answered, so its `Date` is known) from the store's clock, or this machine's
        minus the overlap when the store's is unknown. Anything modified later belongs to the
        catch-up or to the next run."""
        with self._until_lock:  # listings started ahead read it from their threads
            if self._until is None:
                self._until = self._fix_window_end()
            return self._until

    def window_end_once_answered(self, cancelled: threading.Event) -> datetime | None:
        """`window_end()` as soon as the store has answered (or the window was fixed otherwise),
        for a listing started ahead of its turn, from its thread; None if `cancelled` first."""
        while not self.client.store_clock.wait_answered(ANSWER_POLL_SECONDS):
            if cancelled.is_set():
                return None
            with self._until_lock:
                if self._until is not None:
                    break
        return None if cancelled.is_set() else self.window_end()

    def store_now(self) -> datetime:
        """The store's time now (for catch-up windows), on the same clock as the window's end."""
        store_now = self.client.store_clock.now()
        if store_now is None:
            return wall_clock() - self.overlap
        return store_now

    def _fix_window_end(self) -> datetime:
        clock = self.client.store_clock
        store_now, skew = clock.now(), clock.skew
        if store_now is None or skew is None:
            self.warn(
                f"the store's clock is unknown ({clock.problem}): the window ends at this "
                f"machine's clock minus the overlap ({self.overlap})"
            )
            return wall_clock() - self.overlap
        self.summary.store_clock_skew_seconds = round(skew.total_seconds())
        if abs(skew) > SKEW_WARNING:
            side = "ahead of" if skew > timedelta(0) else "behind"
            self.warn(
                f"the store's clock is {_duration(abs(skew))} {side} this machine's; "
                "the sync follows the store's clock"
            )
        return store_now

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        self.summary.warnings.append(message)

    # -- listings and counts -----------------------------------------------------------------

    def guard(self, name: str, step: Callable[[], int | None]) -> int:
        """Run one listing; a stalled one is recorded and skipped for the rest of the run, while
        the other listings go on. Returns how many items it found new (None counts as none)."""
        if name in self.stopped:
            return 0
        try:
            new = step() or 0
        except ListingStalled as stalled:
            self.progress.finish()
            self.stopped[name] = str(stalled)
            self.summary.sources_stopped.append(name)
            self.summary.errors.append(str(stalled))
            log.error("%s", stalled)
            return 0
        self.changes += new
        return new

    def owner_moved(self, session: Session, old: int, new: int) -> list[NewEntry]:
        """Every source's part of moving one owner's holdings to another (`owner_hooks`)."""
        return [entry for hook in self.owner_hooks for entry in hook(session, old, new)]

    def refused(self, name: str, error: Exception) -> None:
        """A source the store refused (its credentials): said once, skipped for the rest of the
        run, the run ends failed; the other sources go on."""
        self.progress.finish()
        message = f"{name} skipped: {error}"
        self.stopped[name] = message
        self.summary.sources_stopped.append(name)
        self.summary.errors.append(message)
        log.error("%s", message)

    def counts(self, source: str) -> SourceCounts:
        """The per-source counts of the summary (created at 0 on first use)."""
        return self.summary.sources.setdefault(source, SourceCounts())

    def record(self, entries: list[NewEntry], source: str | None = None) -> None:
        """Count appended entries in the summary, and under `source` when they are a source's."""
        self.summary.entries_appended += len(entries)
        self.summary.net_points += sum(e.points for e in entries)
        if source is not None:
            counts = self.counts(source)
            counts.entries += len(entries)
            counts.net_points += sum(e.points for e in entries)
        if self.dry_run:
            self.summary.changes.extend(entries[: max(0, 200 - len(self.summary.changes))])

    def append(self, session: Session, by_source: Mapping[str, list[NewEntry]]) -> None:
        """Append several sources' entries in one call (one lock order per unit of work) and
        count what was inserted under each source."""
        entries = [entry for batch in by_source.values() for entry in batch]
        inserted = {
            e.idempotency_key for e in append_entries(session, self.store_id, entries, now=self.now)
        }
        for source, batch in by_source.items():
            self.record([e for e in batch if e.idempotency_key in inserted], source)

    def refresh_statistics(self) -> None:
        """Refresh PostgreSQL's planner statistics while the ledger grows (not in a dry run)."""
        if not self.dry_run:  # ANALYZE inside the dry run's one transaction would hold it up
            with self.tx.unit() as session:
                refresh_planner_statistics(session)

    # -- cursors -----------------------------------------------------------------------------

    def cursor_position(self, name: str) -> datetime | None:
        with self.tx.unit() as session:
            row = session.get(SyncCursor, (self.store_id, name))
            return row.position if row else None

    def cursor_state(self, name: str, session: Session | None = None) -> dict[str, Any]:
        """A cursor's state, read in `session` (a unit of its own when None); {} when new."""
        if session is None:
            with self.tx.unit() as own:
                return self.cursor_state(name, own)
        row = session.get(SyncCursor, (self.store_id, name))
        return dict(json.loads(row.state)) if row else {}

    def save_cursor(
        self,
        session: Session,
        name: str,
        position: datetime | None,
        state: dict[str, Any] | None,
    ) -> None:
        """Move a cursor in the caller's unit of work (with the entries it covers)."""
        row = session.get(SyncCursor, (self.store_id, name))
        if row is None:
            row = SyncCursor(store_id=self.store_id, resource=name, state="{}")
            session.add(row)
        if position is not None:
            row.position = position
        if state is not None:
            row.state = json.dumps(state, sort_keys=True)
        row.updated_at = self.now

    def due(self, name: str, every_hours: float) -> bool:
        """Whether a check last done at cursor `name` is due again (always on a full run)."""
        last = self.cursor_position(name)
        return self.full or last is None or self.now - last >= timedelta(hours=every_hours)


def _duration(delta: timedelta) -> str:
    """`15 min`, `2 h 5 min`, `40 s`: a clock difference for a warning (minutes when over one)."""
    seconds = round(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return " ".join([f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes or not hours))
