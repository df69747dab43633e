"""`loyalty resync --recalculate`: what already happened, decided again under the rules now.

For the CLI. This module is machinery and knows no source by name (like `sync.service`): it runs
every enabled source that follows `sync.source.Recalculates`, in the registry's sequence
(`sync.sources`). Each source lists what it decides again (`recalculation_ids`: ascending ids,
of one customer with `--customer`) and decides it a hundred at a time (`recalculate`), returning
plain targets; this module marks them with the rule set in force now (`rule_version`, and a note
"recalculated under rule set v2: ..."), reconciles them with the one reconcile
(`ledger.reconcile`) and appends the entries. What each source's targets are (a difference held
beside an item that keeps its own rule set, or an item's own reference brought to the rules in
force now) is the source's: see the README's "Recalculating after a rule change".

Exact and safe to repeat: every target is reconciled (keys `{ref}#{n}`), so a second run, or a dry
run after a real one, finds nothing to change. A dry run decides and counts in one transaction it
rolls back. A real run commits each batch with a cursor (`recalculate`: the run's parameters, with
a digest of the sources' rules, each source's last id done, when it started); killed and run again
with the same parameters, it goes on after the last batch done and reports what the killed run(s)
and itself appended together (the marked entries of its rule set recorded since the first of them
started), so the totals are those of one whole run. A progress stage per source: a bar on a
terminal, log lines under cron.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from ledger.batches import chunks
from ledger.entries import NewEntry, append_entries
from ledger.models import Customer, PointEntry
from ledger.reconcile import Target, reconcile
from ledger.session import (
    check_database_exists,
    check_schema_current,
    create_engine_for,
    database_errors,
)
from ledger.sync_lock import hold_sync_lock
from rules import notes
from sync.client import StoreClient
from sync.context import SyncContext, Transactions
from sync.progress import Progress
from sync.recalc_report import CustomerChange, Recalculation
from sync.settings import SyncSettings
from sync.source import RecalcScope, Recalculates
from sync.sources import enabled_sources

__all__ = ["CustomerChange", "Recalculation", "run_recalculation"]

CURSOR = "recalculate"
BATCH = 100
#: How every entry a recalculation appends begins its note (then the version and ": ").
NOTE = notes.RECALCULATED.prefix()


def run_recalculation(
    settings: SyncSettings,
    *,
    point_value: Decimal,
    since: date | None = None,
    customer: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    engine: Engine | None = None,
    client: StoreClient | None = None,
) -> Recalculation:
    """Recalculate under the rules in force now, holding the store's sync lock (a sync and a
    recalculation never interleave). Raises as `run_sync` does."""
    engine = engine or create_engine_for(settings.database_url)
    with database_errors(engine.url):
        check_database_exists(engine)
        check_schema_current(engine)
        with (
            hold_sync_lock(engine, settings.store_key) as lock,
            Transactions(engine, dry_run=dry_run, lock=lock) as tx,
        ):
            ctx = SyncContext.start(
                settings,
                tx,
                client or StoreClient(settings.client),
                progress or Progress(),
                full=False,
                dry_run=dry_run,
            )
            run = Recalculation(
                version=current_version(settings, ctx.now),
                dry_run=dry_run,
                since=since,
                customer=customer,
                point_value=point_value,
            )
            sources = [s for s in enabled_sources(ctx) if isinstance(s, Recalculates)]
            _recalculate(ctx, sources, run)
            return run


def current_version(settings: SyncSettings, now: datetime) -> str:
    """The version of the rule set in force now: the latest whose `effective_from` has come."""
    return settings.purchase.in_force(now).version


def _recalculate(ctx: SyncContext, sources: Sequence[Recalculates], run: Recalculation) -> None:
    params = {
        "version": run.version,
        "rules": _digest(sources),
        "since": run.since.isoformat() if run.since else None,
        "customer": run.customer,
    }
    state = ctx.cursor_state(CURSOR)
    run.resumed = not run.dry_run and state.get("params") == params and not state.get("complete")
    after: dict[str, int] = dict(state.get("after", {})) if run.resumed else {}
    started = datetime.fromisoformat(state["started_at"]) if run.resumed else ctx.now
    scope = RecalcScope(since=run.since, owner=_owner(ctx, run.customer))
    if run.customer is not None and scope.owner is None:
        sources = []  # an account the ledger does not know holds nothing to recalculate
    for source in sources:
        run.decided[source.name] = 0
        ids = source.recalculation_ids(ctx, scope, after.get(source.name, 0))
        stage = f"recalculate {source.name}"
        ctx.progress.start(stage, len(ids))
        for batch in chunks(ids, BATCH):
            with ctx.tx.unit() as session:
                decided = source.recalculate(ctx, session, scope, batch)
                targets = _marked(decided.targets, run.version)
                entries = reconcile(session, ctx.store_id, targets)
                _count(run, append_entries(session, ctx.store_id, entries, now=ctx.now))
                run.decided[source.name] += decided.decided
                if not run.dry_run:
                    after[source.name] = batch[-1]
                    state = {**_state(params, started), "after": after, "complete": False}
                    ctx.save_cursor(session, CURSOR, None, state)
            ctx.progress.advance(len(batch), stage)
        ctx.progress.finish(stage)
    with ctx.tx.unit() as session:
        if run.resumed:  # this run and the killed one(s) it finishes, as one run
            run.points.clear()
            run.points.update(_appended_since(session, ctx, run.version, started))
        if not run.dry_run:
            ctx.save_cursor(session, CURSOR, None, {**_state(params, started), "complete": True})
        run.describe(session)


def _digest(sources: Sequence[Recalculates]) -> str:
    text = "\n".join(f"{s.name}: {s.recalculation_rules()}" for s in sources)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _state(params: dict[str, Any], started: datetime) -> dict[str, Any]:
    return {"params": params, "started_at": started.isoformat()}


def _owner(ctx: SyncContext, wc_id: int | None) -> int | None:
    """The ledger customer of the WooCommerce account `--customer` names (None: not known)."""
    if wc_id is None:
        return None
    with ctx.tx.unit() as session:
        found = session.execute(
            select(Customer.id).where(Customer.store_id == ctx.store_id, Customer.wc_id == wc_id)
        ).scalar_one_or_none()
    return int(found) if found is not None else None


def _marked(targets: Sequence[Target], version: str) -> list[Target]:
    """The targets as this recalculation appends them: its rule set's version, and a note
    saying so (which also finds them again when a killed run is finished)."""
    return [
        replace(
            t, rule_version=version, note=notes.RECALCULATED(version=version, note=t.note or t.kind)
        )
        for t in targets
    ]


def _count(run: Recalculation, entries: Sequence[NewEntry]) -> None:
    for entry in entries:
        run.points[entry.customer_id] += entry.points


def _appended_since(
    session: Session, ctx: SyncContext, version: str, started: datetime
) -> dict[int, int]:
    """What the recalculation started at `started` appended, over its runs (killed ones too)."""
    rows = session.execute(
        select(PointEntry.customer_id, func.sum(PointEntry.points))
        .where(
            PointEntry.store_id == ctx.store_id,
            PointEntry.rule_version == version,
            PointEntry.recorded_at >= started,
            PointEntry.note.startswith(notes.RECALCULATED.prefix(version=version), autoescape=True),
        )
        .group_by(PointEntry.customer_id)
    )
    return {int(customer): int(points) for customer, points in rows}
