"""`loyalty sync`: the registered sources in, ledger entries recorded, balances written back.

For the CLI, the worker and the dashboard (`run_sync`). This module is the sync's machinery and
knows no source by name: the sources, their sequence and the steps around them are the registry's
(`sync.sources`), and each source is one unit with its own listings, cursors and counts
(`sync.source.Source`). A run holds the store's sync lock, records itself in `sync_runs`, and:

- runs the `BEFORE` steps, then every enabled source's `run` (its listing up to the window's end)
  and every source's `check` (the slower checks by id, when due), then the `AFTER_SOURCES` steps;
- converges: a run that saw any change lists again, per source, what was modified since the
  window's end, and repeats while a pass brings something new (at most `MAX_CATCH_UP_PASSES`);
- runs the `AFTER_CATCH_UP` steps, the balance write-back last.

The window ends at the store's clock (the `Date` header of its first answer, see
`sync.store_clock` and `SyncContext.window_end`), so cursors are positions in the store's time.

Every page is parsed at the edge: an item that does not parse goes to quarantine and the rest of
the page and the run go on. A listing whose store makes no progress (`sync.paging.ListingStalled`)
stops that listing with its error (`SyncContext.guard`); the others go on, and the run ends failed
with everything up to the last good page kept.

Every step is safe to interrupt: the ledger only ever holds whole pages, cursors move in the same
transaction as the entries they cover, and reconciling is idempotent, so the next run finishes the
job without awarding anything twice. Every listing's pages are closed on every exit path.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Engine, update

from ledger.models import SyncRun
from ledger.session import (
    check_database_exists,
    check_schema_current,
    create_engine_for,
    database_errors,
)
from ledger.sync_lock import hold_sync_lock
from sync.allocator import give_back_freed_memory
from sync.client import StoreClient
from sync.collector import relaxed_collector
from sync.context import SyncContext, Transactions
from sync.errors import SourceUnavailable
from sync.progress import Progress, make_progress
from sync.redaction import redact_value, register_secret
from sync.settings import SyncSettings
from sync.source import (
    AccountWatcher,
    Backfill,
    Backfills,
    CatchesUpAhead,
    Source,
    StartsAhead,
    Step,
)
from sync.sources import AFTER_CATCH_UP, AFTER_RESYNC, AFTER_SOURCES, BEFORE, enabled_sources
from sync.summary import SyncSummary

log = logging.getLogger("sync")

__all__ = ["SyncSettings", "SyncSummary", "make_progress", "run_sync"]

#: Catch-up passes at the end of a run that saw changes (each repeats only if the last brought news).
MAX_CATCH_UP_PASSES = 3


def run_sync(
    settings: SyncSettings,
    *,
    full: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    engine: Engine | None = None,
    client: StoreClient | None = None,
    customer: int | None = None,
    backfill: Backfill | None = None,
) -> SyncSummary:
    """One sync of the store `settings` describe. Raises StoreError when the store cannot be read,
    SyncAlreadyRunning (having done nothing) while another sync of the same store runs, and
    DatabaseUnusable when the ledger database cannot be used.

    With `customer` (a WooCommerce account id) only that account is resynced: every source
    re-reads and re-decides what it has of it, its balance is written back; no cursor moves.
    With `backfill`, only that source's items since its moment are decided again (`loyalty
    resync`), then balances are written back. Raises SourceUnavailable when no enabled source of
    that name can backfill.
    """
    if engine is None:  # the run's own: its connections are closed when it ends
        with closing_engine(create_engine_for(settings.database_url)) as own:
            return run_sync(
                settings,
                full=full,
                dry_run=dry_run,
                progress=progress,
                engine=own,
                client=client,
                customer=customer,
                backfill=backfill,
            )
    # The collector is relaxed while the run lasts: its pages in flight are a big live heap; the
    # allocator hands their freed buffers back (sync.allocator).
    give_back_freed_memory()
    # The database down, damaged, read-only: one DatabaseUnusable line.
    with relaxed_collector(), database_errors(engine.url):
        check_database_exists(engine)
        check_schema_current(engine)
        with hold_sync_lock(engine, settings.store_key) as lock:
            _register_credentials(settings.client.consumer_key, settings.client.consumer_secret)
            own_client: StoreClient | None = None  # closed at the end, with the sources' own
            if client is None:
                client = own_client = StoreClient(settings.client)
            job: SyncJob | None = None
            try:
                with Transactions(engine, dry_run=dry_run, lock=lock) as tx:
                    job = SyncJob(
                        settings, tx, client, progress or Progress(), full=full, dry_run=dry_run
                    )
                    if backfill is not None:
                        return job.backfill(backfill)
                    return job.execute() if customer is None else job.resync_customer(customer)
            finally:
                mine = [own_client] if own_client is not None else []
                for opened in [*mine, *(job.ctx.clients if job is not None else [])]:
                    opened.close()  # their keep-alive connections


@contextmanager
def closing_engine(engine: Engine) -> Iterator[Engine]:
    """`engine`, disposed of at the end: its pooled connections closed then (a worker runs one
    sync after another; a command exits without collecting them), not whenever the collector
    finds them."""
    try:
        yield engine
    finally:
        engine.dispose()


def _register_credentials(key: str, secret: str) -> None:
    """Mask the store's key and secret, and their Basic form, wherever the store echoes them."""
    for value in (key, secret, base64.b64encode(f"{key}:{secret}".encode()).decode()):
        register_secret(value)


class SyncJob:
    """One sync run: its context, its enabled sources, and the run record."""

    def __init__(
        self,
        settings: SyncSettings,
        tx: Transactions,
        client: StoreClient,
        progress: Progress,
        *,
        full: bool,
        dry_run: bool,
    ) -> None:
        self.started = time.monotonic()
        self.client = client
        self.ctx = SyncContext.start(settings, tx, client, progress, full=full, dry_run=dry_run)
        self.sources: list[Source] = enabled_sources(self.ctx)
        self.ctx.account_hooks = {
            source.name: source.on_accounts
            for source in self.sources
            if isinstance(source, AccountWatcher)
        }

    @property
    def summary(self) -> SyncSummary:
        return self.ctx.summary

    def execute(self) -> SyncSummary:
        """The whole run, in the sequence the module's docstring gives."""
        ctx = self.ctx
        run_id = self._start_run()
        try:
            self._steps(BEFORE)
            self._run_sources()
            for source in self.sources:
                source.check(ctx)
            self._steps(AFTER_SOURCES)
            self.catch_up()
            self._steps(AFTER_CATCH_UP)
        except BaseException as error:
            self._finish_run(run_id, "failed", error)
            raise
        self._finish_done(run_id)
        return self.summary

    def _run_sources(self) -> None:
        """Every source's `run`, one after another; the listings of those that can start ahead are all
        fetching from the start (a later source's pages arrive while the first one writes)."""
        ahead: list[StartsAhead] = [s for s in self.sources if isinstance(s, StartsAhead)]
        try:
            for early in ahead:
                early.start_ahead(self.ctx)
            for source in self.sources:
                source.run(self.ctx)
        finally:
            for early in ahead:
                early.close_ahead()

    def resync_customer(self, wc_id: int) -> SyncSummary:
        """One account, through every source's `resync_customer`, then its balance written back.
        Cursors stay."""
        run_id = self._start_run(kind="resync-customer")
        try:
            for source in self.sources:
                source.resync_customer(self.ctx, wc_id)
            self._steps(AFTER_RESYNC)
        except BaseException as error:
            self._finish_run(run_id, "failed", error)
            raise
        self._finish_done(run_id)
        return self.summary

    def backfill(self, request: Backfill) -> SyncSummary:
        """One source's items since a moment decided again, then balances written back."""
        source = next((s for s in self.sources if s.name == request.source), None)
        if not isinstance(source, Backfills):
            raise SourceUnavailable(
                f"no enabled source {request.source!r} can be resynced since a date"
                " (is it turned on in the config?)"
            )
        run_id = self._start_run(kind=f"resync-{request.source}")
        try:
            source.backfill(self.ctx, request.since)
            self._steps(AFTER_RESYNC)
        except BaseException as error:
            self._finish_run(run_id, "failed", error)
            raise
        self._finish_done(run_id)
        return self.summary

    def catch_up(self) -> None:
        """A run that saw changes lists what was modified since the window's end, until quiet."""
        ctx = self.ctx
        lo = ctx.window_end()
        passes = 0
        while ctx.changes and passes < MAX_CATCH_UP_PASSES:
            passes += 1
            hi = max(lo, ctx.store_now())
            new = self._catch_up_pass(lo, hi)
            self.summary.catch_up_passes = passes
            log.debug("catch-up pass %d (%s..%s): %d new", passes, lo, hi, new)
            if not new:
                return
            lo = hi

    def _catch_up_pass(self, lo: datetime, hi: datetime) -> int:
        """Every source's `catch_up` from `lo` to `hi`, in the registry's sequence; the listings of
        those that can start ahead are all fetching from the start (one round trip for the pass,
        not one per source). Returns how many items were new."""
        ahead: list[CatchesUpAhead] = [s for s in self.sources if isinstance(s, CatchesUpAhead)]
        try:
            for early in ahead:
                early.start_catch_up(self.ctx, lo, hi)
            return sum(source.catch_up(self.ctx, lo, hi) for source in self.sources)
        finally:
            for early in ahead:
                early.close_ahead()

    def _steps(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            step(self.ctx)

    # -- the run record ------------------------------------------------------------------------

    def _start_run(self, kind: str | None = None) -> int:
        with self.ctx.tx.unit() as session:
            # This run holds the store's sync lock, so a run still marked running was killed.
            abandoned = (
                session.connection()
                .execute(
                    update(SyncRun)
                    .where(SyncRun.store_id == self.ctx.store_id, SyncRun.status == "running")
                    .values(status="abandoned")
                )
                .rowcount
            )
            if abandoned:
                log.warning("%d earlier sync run(s) never finished: marked abandoned", abandoned)
            run = SyncRun(
                store_id=self.ctx.store_id,
                kind=kind or ("sync-full" if self.ctx.full else "sync"),
                started_at=self.ctx.now,
                status="running",
                summary="{}",
            )
            session.add(run)
            session.flush()
            return run.id

    def _finish_done(self, run_id: int) -> None:
        """A run that went to its end: failed if a listing or step stopped on the way (a
        one-account resync whose guarded step stalled was recorded as succeeded until 4 Dec)."""
        self._finish_run(run_id, "failed" if self.ctx.stopped else "succeeded", None)

    def _finish_run(self, run_id: int, status: str, error: BaseException | None) -> None:
        self.summary.requests = sum(c.requests_made for c in (self.client, *self.ctx.clients))
        self.summary.seconds = time.monotonic() - self.started
        try:
            with self.ctx.tx.unit(locked=False) as session:  # recorded if the lock was lost too
                run = session.get(SyncRun, run_id)
                if run is None:
                    return
                run.status = status
                run.finished_at = datetime.now(UTC)
                details = self.summary.as_dict()
                if error is not None:
                    details["error"] = f"{type(error).__name__}: {error}"
                elif self.ctx.stopped:
                    details["error"] = next(iter(self.ctx.stopped.values()))
                # What the store said (errors, echoed requests) is stored without its secrets.
                run.summary = json.dumps(redact_value(details), default=str)
        except Exception:  # recording the run must never hide the real outcome
            log.warning("could not record the sync run", exc_info=True)
