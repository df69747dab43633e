"""The seam the sync grows by: a source of points, and a step that is not one.

A source is one unit: it fetches its items from the store (`sync/`), parses them at the edge
(quarantining what does not parse), decides what each should carry with a pure rule (`rules/`),
and brings the ledger there with the one reconcile (`ledger.reconcile`), moving its own cursor(s)
in the same unit of work. Its counts go into the run's summary under its name
(`ctx.counts(name)`, `ctx.record(entries, name)`).

`sync.service` calls the hooks below for every enabled source, in the order of `sync.sources`,
and knows nothing else about them. Each hook runs its listings through `ctx.guard(listing, ...)`,
so that a listing the store stalls stops that listing alone for the rest of the run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.orm import Session

from ledger.entries import NewEntry
from ledger.reconcile import Target
from sync.context import SyncContext


class Source(Protocol):
    """One source of points. Hooks that do not apply to a source return 0 or do nothing."""

    #: Its name in the summary and the registry ("orders", "reviews", ...).
    name: str

    def run(self, ctx: SyncContext) -> int:
        """The regular listing: from its cursor (minus the overlap; from the beginning on a full
        run) to `ctx.window_end()`. Returns how many items were new to the ledger."""
        ...

    def check(self, ctx: SyncContext) -> int:
        """The slower reconciliation by id, when due (`ctx.due(cursor, every_hours)`): finds
        what no listing shows (items deleted outright). Runs after every source's `run`."""
        ...

    def catch_up(self, ctx: SyncContext, lo: datetime, hi: datetime) -> int:
        """One converging pass over what changed from `lo` to `hi` (the store's time) while the
        run went on; returns how many items were new, 0 when it cannot tell or has nothing to do.
        The run repeats the passes while any source brings something new."""
        ...

    def resync_customer(self, ctx: SyncContext, wc_id: int) -> None:
        """Re-read and re-decide everything of one WooCommerce account; no cursor moves."""
        ...


@runtime_checkable
class AccountWatcher(Protocol):
    """A source that decides on accounts as the customers listing finds them (signups): it makes
    no request of its own. The service hands every such source's `on_accounts` to the context."""

    name: str

    def on_accounts(
        self, ctx: SyncContext, session: Session, accounts: list[dict[str, Any]]
    ) -> list[NewEntry]:
        """The entries a page of accounts (as listed) calls for, to append in the page's unit of
        work with the customers source's own; quarantines what it cannot read."""
        ...


@runtime_checkable
class StartsAhead(Protocol):
    """A source whose regular listings can start fetching before its turn (while the sources
    before it write the ledger), within the client's `concurrency`: the service starts them all
    before the first `run`, and closes what a failed run left. Its `run` takes the pages in the
    same order as ever; only the waiting for the store overlaps."""

    name: str

    def start_ahead(self, ctx: SyncContext) -> None:
        """Start fetching what `run` will take (a few pages ahead at most)."""
        ...

    def close_ahead(self) -> None:
        """Stop what was started and not taken. Idempotent."""
        ...


@runtime_checkable
class CatchesUpAhead(Protocol):
    """A source whose catch-up listings can start fetching before its turn in a catch-up pass
    (while the sources before it catch up), within the client's `concurrency`: the service starts
    them at the start of every pass, and closes what a failed pass left. Its `catch_up` takes those
    pages in the same order as ever; only the waiting for the store overlaps."""

    name: str

    def start_catch_up(self, ctx: SyncContext, lo: datetime, hi: datetime) -> None:
        """Start fetching what `catch_up(ctx, lo, hi)` will take (a few pages ahead at most)."""
        ...

    def close_ahead(self) -> None:
        """Stop what was started and not taken. Idempotent."""
        ...


@runtime_checkable
class Backfills(Protocol):
    """A source that can award what it missed before it was turned on (`loyalty resync`)."""

    name: str

    def backfill(self, ctx: SyncContext, since: datetime) -> None:
        """Decide again every item of the source since `since` (aware UTC); idempotent."""
        ...


@dataclass(frozen=True)
class RecalcScope:
    """What `loyalty resync --recalculate` decides again: items created (accounts registered) on
    or after `since`, of the ledger customer `owner` (its `--customer`), None: all."""

    since: date | None = None
    owner: int | None = None

    def covers(self, created: datetime) -> bool:
        return self.since is None or created.date() >= self.since


@dataclass
class RecalcBatch:
    """A batch decided again: the targets under the rules in force now (plain targets, as the
    sync would reconcile them; the recalculation marks them with its rule set), and how many
    items (orders, reviews, accounts...) were decided."""

    targets: list[Target] = field(default_factory=list)
    decided: int = 0


@runtime_checkable
class Recalculates(Protocol):
    """A source whose points `loyalty resync --recalculate` decides again under the rules in force
    now (`sync.recalculate` runs it; it names no source). It decides from what the ledger and its
    tracking tables know, asking the store only for what they do not keep."""

    name: str

    def recalculation_rules(self) -> str:
        """The rules its decisions depend on, as text: a killed recalculation resumes only under
        the same rules."""
        ...

    def recalculation_ids(self, ctx: SyncContext, scope: RecalcScope, after: int) -> list[int]:
        """What it decides again, as ascending ids above `after` (orders, owners...): the unit of
        the progress and of resuming."""
        ...

    def recalculate(
        self, ctx: SyncContext, session: Session, scope: RecalcScope, ids: list[int]
    ) -> RecalcBatch:
        """One batch of those ids decided under the rules in force now, in the batch's unit of
        work; it may keep its own tracking in step (the targets it returns will be reached)."""
        ...


def rules_text(*rules: object) -> str:
    """Rule objects (frozen dataclasses, mappings, sets, decimals...) as canonical text, the same
    in every process (sets sorted): what `Recalculates.recalculation_rules` returns."""
    return json.dumps([_canonical(r) for r in rules], sort_keys=True)


def _canonical(value: object) -> object:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _canonical(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(str(_canonical(v)) for v in value)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)  # Decimal, date, an enum's value


@dataclass(frozen=True)
class Backfill:
    """A resync of one source's items since a moment: `run_sync(..., backfill=...)`."""

    source: str
    since: datetime


#: A source as the registry lists it: built for one run (None when the settings turn it off).
SourceFactory = Callable[[SyncContext], Source | None]

#: A step that is not a source (redemptions, the balance write-back): runs once at its place.
Step = Callable[[SyncContext], None]
