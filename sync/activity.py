"""Reviews and blog comments: the machinery both activity sources share.

For `sync.reviews` and `sync.comments`, each an `ActivitySource` with its own `ActivitySpec`
(endpoint, statuses, parser, pure decision). Neither resource has a modified date, and a status
change (approved -> spam) moves no date, so changes are found this way:

- **The window, every run.** The live statuses (`status=all`: approved and held) created after
  `since` are listed, lowest id first, `since` being the earlier of the newest creation date seen
  minus `[sync] overlap_minutes` (new items) and the store's now minus `[sync] rescan_days`
  (status changes of recent items). What was known in the window with a live status and is not
  listed any more is asked for by id (`include=`, 100 a request) as spam, then as trash, then live
  again (a page shifted while the listing ran); what is nowhere was deleted.
- **The whole set, every `[sync] reconcile_every_hours`** (and on `--full`): the same with no
  `since`, which finds old status changes and deletions the window cannot see.

Every item an owner has is kept in `tracked_activity` (its status, subject, date, text length and
flags), because the rules decide over the owner's whole set (once per product or post, a daily cap
ordered by date then id): whenever an owner's items change, all of the owner's items are decided
again, and those whose target changed are reconciled (`ledger.reconcile`, refs `{reason}:{id}`),
in the unit of work that records the change. An item whose owner changed (an account registered
with a guest's email, a comment's author edited) takes its points along.

Items that do not parse (no email, an unparseable date) are quarantined and the page goes on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.batches import chunks
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import TrackedActivity
from ledger.reconcile import Target, reconcile
from rules import notes
from rules.types import Award
from sync.accounts import retire_unseen_accounts
from sync.activity_data import Activity
from sync.client import StoreClient
from sync.context import SyncContext
from sync.errors import StoreRejected
from sync.fields import stood_for
from sync.quarantine import parse_page
from sync.settings import SyncSettings
from sync.source import RecalcBatch, RecalcScope, rules_text

log = logging.getLogger("sync")

#: Statuses the `all` listing shows (WP_Comment_Query's `all`): a known item with one of these
#: that the listing no longer shows changed status or was deleted.
LIVE_STATUSES = frozenset({"approved", "hold"})
DELETED = "deleted"


@dataclass(frozen=True)
class ActivitySpec:
    """What makes one activity source: where its items are and how they are parsed and decided."""

    name: str  # the source's name: summary, cursors, quarantine ("reviews")
    reason: str  # tracked_activity.source and the refs' prefix ("review" -> "review:17")
    kind: SourceKind
    endpoint: str  # "products/reviews", "comments"
    #: Decides one owner's whole set of items (pure, `rules/`): the award of each, by item id.
    decide: Callable[[Sequence[TrackedActivity]], dict[int, Award]]
    parse: Callable[[Any], Activity]
    params: Mapping[str, Any] = field(default_factory=dict)  # e.g. type=comment, context=edit
    live: str = "all"
    others: tuple[str, ...] = ("spam", "trash")
    keep: Callable[[Activity], bool] = lambda _: True  # e.g. comments of type "comment" only
    #: The rules `decide` decides by (`[rules.review]`...), for a recalculation's digest.
    rules: object = None


Item = TypeVar("Item")
Rules = TypeVar("Rules")


def deciding(
    rule: Callable[[list[Item], Rules], dict[int, Award]],
    rules: Rules,
    item: Callable[[TrackedActivity], Item],
) -> Callable[[Sequence[TrackedActivity]], dict[int, Award]]:
    """A spec's `decide`: one owner's tracked rows, each as the source's rule sees an item
    (`item`), decided by its pure `rule` under `rules`."""
    return lambda rows: rule([item(row) for row in rows], rules)


def kept(row: TrackedActivity) -> dict[str, Any]:
    """What every tracked item keeps for its rule: status, date and the text's length (the text
    itself is not kept, so `text` is empty and `length` counts)."""
    return {
        "status": row.status,
        "created_at": row.created_at,
        "text": "",
        "length": row.text_length,
    }


@dataclass(frozen=True)
class Schedule:
    """How far back each run looks, and how often the whole set is reconciled."""

    overlap: timedelta
    rescan: timedelta
    reconcile_every_hours: float


def schedule(settings: SyncSettings) -> Schedule:
    """The `[sync]` settings an activity source lists by."""
    return Schedule(
        overlap=timedelta(minutes=settings.overlap_minutes),
        rescan=timedelta(days=settings.rescan_days),
        reconcile_every_hours=settings.reconcile_every_hours,
    )


class ActivitySource:
    """One activity source (reviews or comments), following `sync.source.Source`."""

    def __init__(self, spec: ActivitySpec, client: StoreClient, schedule: Schedule) -> None:
        self.spec = spec
        self.name = spec.name
        self.client = client
        self.schedule = schedule

    @classmethod
    def register(
        cls, ctx: SyncContext, spec: ActivitySpec, client: StoreClient, when: Schedule
    ) -> ActivitySource:
        """The source for this run, its owner-move hook registered with the run."""
        source = cls(spec, client, when)
        ctx.owner_hooks.append(lambda session, old, new: source.owner_moved(ctx, session, old, new))
        return source

    # -- the Source hooks ------------------------------------------------------------------------

    def run(self, ctx: SyncContext) -> int:
        """The window (or the whole set, when due). Returns 0: this source has no catch-up pass,
        so what it changed must not start one for the others (`ctx.changes`)."""
        try:
            ctx.guard(self.name, lambda: self._sync(ctx))
            return 0
        except StoreRejected as refused:
            if refused.status not in (401, 403):
                raise
            ctx.refused(self.name, refused)  # wrong credentials: said once, the others go on
            return 0

    def check(self, ctx: SyncContext) -> int:
        return 0  # the reconciliation by id is part of `run` when due

    def catch_up(self, ctx: SyncContext, lo: datetime, hi: datetime) -> int:
        return 0  # items created during the run are in the next run's window (its overlap)

    def resync_customer(self, ctx: SyncContext, wc_id: int) -> None:
        """The account's items decided again (no request: they are all tracked)."""
        with ctx.tx.unit() as session:
            owner = ctx.owners.account(session, wc_id)
            self._append(ctx, session, self.redecide(ctx, session, {owner}))

    def recalculation_rules(self) -> str:
        return rules_text(self.spec.rules)

    def recalculation_ids(self, ctx: SyncContext, scope: RecalcScope, after: int) -> list[int]:
        """The owners of tracked items (the rules decide over an owner's whole set)."""
        query = select(TrackedActivity.customer_id).where(
            TrackedActivity.store_id == ctx.store_id,
            TrackedActivity.source == self.spec.reason,
            TrackedActivity.customer_id > after,
        )
        if scope.owner is not None:
            query = query.where(TrackedActivity.customer_id == scope.owner)
        with ctx.tx.unit() as session:
            return sorted(set(session.execute(query.distinct()).scalars()))

    def recalculate(
        self, ctx: SyncContext, session: Session, scope: RecalcScope, ids: list[int]
    ) -> RecalcBatch:
        """Each owner's whole set decided under the rules in force now, from `tracked_activity`
        (no request); the targets of the items created in the scope, on their own references,
        as the sync would decide them on the owner's next change."""
        targets = self._targets(ctx, session, ids, {}, scope=scope)
        return RecalcBatch(targets=targets, decided=len(targets))

    def owner_moved(self, ctx: SyncContext, session: Session, old: int, new: int) -> list[NewEntry]:
        """What the old owner (a guest who registered, an account deleted) had is the new owner's:
        its items were moved with it (`sync.owners.move_holdings`, every source's), and the new
        owner's whole set is decided again (entries appended and counted here, under this
        source). The points themselves move with the balance (a transfer pair), so nothing is
        taken from the old owner here."""
        self._append(ctx, session, self.redecide(ctx, session, {new}))
        return []

    # -- one run ---------------------------------------------------------------------------------

    def _sync(self, ctx: SyncContext) -> None:
        checked = f"{self.name}_checked"
        whole = ctx.full or ctx.due(checked, self.schedule.reconcile_every_hours)
        newest = ctx.cursor_position(self.name)
        if newest is not None:  # a cursor a future-dated item set before it was capped
            newest = min(newest, ctx.window_end())
        since = None
        if not whole and newest is not None:
            since = newest - self.schedule.overlap
            if self.schedule.rescan:
                since = min(since, ctx.window_end() - self.schedule.rescan)
        ctx.progress.start(self.name)
        seen: set[int] = set()
        changed, newest = self._list(ctx, since, seen, newest)
        changed += self._settle(ctx, since, seen)
        with ctx.tx.unit() as session:
            ctx.save_cursor(session, self.name, newest, None)
            if whole:
                ctx.save_cursor(session, checked, ctx.now, None)
        ctx.progress.finish()
        log.debug("%s: %d item(s) changed", self.name, changed)

    def _list(
        self, ctx: SyncContext, since: datetime | None, seen: set[int], newest: datetime | None
    ) -> tuple[int, datetime | None]:
        params: dict[str, Any] = {
            **self.spec.params,
            "status": self.spec.live,
            "orderby": "id",
            "order": "asc",
        }
        if since is not None:
            # `after` is exclusive and compares site time; a zoned value is converted to it.
            params["after"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        changed = 0
        with closing(self.client.listing(self.spec.endpoint).numbered(params)) as pages:
            for page in pages:
                items, page_changed = self._page(ctx, page)
                changed += page_changed
                seen.update(_stood_for(page))  # a quarantined "17" is still item 17
                for item in items:  # never past the window: a plugin's item dated 2999 would
                    created = min(item.created_at, ctx.window_end())  # hide all the new ones
                    newest = created if newest is None else max(newest, created)
        return changed, newest

    def _page(self, ctx: SyncContext, page: list[Any]) -> tuple[list[Activity], int]:
        """One page parsed, quarantined, tracked and decided in one unit of work."""
        counts = ctx.counts(self.name)
        parsed, rejected = parse_page(self.name, page, self.spec.parse)
        items = [item for item, _ in parsed if self.spec.keep(item)]
        retire_unseen_accounts(ctx, {item.account for item in items if item.account})
        with ctx.tx.unit() as session:
            ctx.summary.quarantined += ctx.quarantine.add(session, rejected, now=ctx.now)
            ctx.quarantine.release(
                session, self.name, [str(item.item_id) for item, _ in parsed], now=ctx.now
            )
            changed, entries = self._track(ctx, session, items)
            self._append(ctx, session, entries)
        counts.seen += len(page)
        ctx.progress.advance(len(page))
        return items, changed

    def _settle(self, ctx: SyncContext, since: datetime | None, seen: set[int]) -> int:
        """Known live items of the window the listing did not show: asked for by id as spam, as
        trash, as live again; those found nowhere were deleted."""
        with ctx.tx.unit() as session:
            query = select(TrackedActivity.item_id).where(
                TrackedActivity.store_id == ctx.store_id,
                TrackedActivity.source == self.spec.reason,
                TrackedActivity.status.in_(sorted(LIVE_STATUSES)),
            )
            if since is not None:
                query = query.where(TrackedActivity.created_at > since)
            missing = set(session.execute(query).scalars()) - seen
        changed = 0
        nameless = 0  # answered items whose id stands for none: any missing id may be one
        for status in (*self.spec.others, self.spec.live):
            if not missing:
                return changed
            listing = self.client.listing(self.spec.endpoint)
            params = {**self.spec.params, "status": status, "orderby": "id"}
            with closing(listing.by_ids(missing, params, unusable_missing=True)) as pages:
                for page in pages:
                    changed += self._page(ctx, page)[1]
                    found = _stood_for(page)
                    nameless += len(page) - len(found)
                    missing -= found
        if missing and nameless:
            ctx.summary.warnings.append(
                f"{self.name}: {nameless} item(s) answered by id without a usable id; "
                f"{len(missing)} item(s) not found are not taken for deleted this run"
            )
        elif missing:
            changed += self._deleted(ctx, missing)
        return changed

    def _deleted(self, ctx: SyncContext, ids: Collection[int]) -> int:
        with ctx.tx.unit() as session:
            rows = self._rows(ctx, session, ids)
            owners = {row.customer_id for row in rows.values()}
            for row in rows.values():
                row.status = DELETED
                row.last_seen_at = ctx.now
            session.flush()
            self._append(ctx, session, self.redecide(ctx, session, owners))
        return len(ids)

    # -- tracking and deciding -------------------------------------------------------------------

    def _track(
        self, ctx: SyncContext, session: Session, items: Sequence[Activity]
    ) -> tuple[int, list[NewEntry]]:
        """Record what the items say now; decide again for every owner whose set changed."""
        rows = self._rows(ctx, session, [item.item_id for item in items])
        affected: set[int] = set()
        moved: dict[int, int] = {}
        changed = 0
        for item in items:
            owner = ctx.owners.owner_for(session, item.account, item.email)
            if owner is None:  # parsing guarantees an account or an email: not reached
                continue
            row = rows.get(item.item_id)
            facts = _facts(item)
            if row is None:
                row = TrackedActivity(
                    store_id=ctx.store_id,
                    source=self.spec.reason,
                    item_id=item.item_id,
                    customer_id=owner,
                    points=0,
                )
                session.add(row)
                rows[item.item_id] = row
            elif row.customer_id == owner and all(getattr(row, k) == v for k, v in facts.items()):
                row.last_seen_at = ctx.now
                continue
            elif row.customer_id != owner:
                moved[item.item_id] = row.customer_id
                affected.add(row.customer_id)
                row.customer_id = owner
            for key, value in facts.items():
                setattr(row, key, value)
            row.last_seen_at = ctx.now
            affected.add(owner)
            changed += 1
        session.flush()
        return changed, self.redecide(ctx, session, affected, moved)

    def redecide(
        self,
        ctx: SyncContext,
        session: Session,
        owners: Iterable[int],
        moved: Mapping[int, int] | None = None,
    ) -> list[NewEntry]:
        """Each owner's whole set decided again; the entries for the items whose target changed
        (or whose owner changed: `moved` maps item id -> previous owner)."""
        return reconcile(session, ctx.store_id, self._targets(ctx, session, owners, moved or {}))

    def _targets(
        self,
        ctx: SyncContext,
        session: Session,
        owners: Iterable[int],
        moved: Mapping[int, int],
        scope: RecalcScope | None = None,
    ) -> list[Target]:
        """The targets of each owner's items decided again: those whose target changed, or with
        a `scope` (a recalculation) every item created in it. Their tracked points follow."""
        wanted = sorted(set(owners))
        if not wanted:
            return []
        by_owner: dict[int, list[TrackedActivity]] = defaultdict(list)
        for row in self._tracked(ctx, session, TrackedActivity.customer_id, wanted):
            by_owner[row.customer_id].append(row)
        targets: list[Target] = []
        for owner in sorted(by_owner):
            awards = self.spec.decide(by_owner[owner])
            for row in sorted(by_owner[owner], key=lambda r: r.item_id):
                award = awards.get(row.item_id)
                points = award.points if award is not None else 0
                previous = moved.get(row.item_id)
                if scope is not None and not scope.covers(row.created_at):
                    continue
                if scope is None and points == row.points and previous is None:
                    continue
                row.points = points
                targets.append(
                    Target(
                        owner=owner,
                        source_ref=f"{self.spec.reason}:{row.item_id}",
                        kind=self.spec.kind,
                        points=points,
                        occurred_at=ctx.now,
                        note=award.explanation
                        if award is not None
                        else notes.ACTIVITY_STATUS(status=row.status),
                        rule_version=award.rule_version if award is not None else None,
                        previous_owner=previous,
                    )
                )
        session.flush()
        return targets

    def _rows(
        self, ctx: SyncContext, session: Session, ids: Iterable[int]
    ) -> dict[int, TrackedActivity]:
        wanted = sorted(set(ids))
        return {
            row.item_id: row for row in self._tracked(ctx, session, TrackedActivity.item_id, wanted)
        }

    def _tracked(
        self, ctx: SyncContext, session: Session, column: Any, values: list[int]
    ) -> Iterator[TrackedActivity]:
        """This source's tracked rows whose `column` is one of `values`, a batch at a time."""
        for chunk in chunks(values):
            yield from session.execute(
                select(TrackedActivity).where(
                    TrackedActivity.store_id == ctx.store_id,
                    TrackedActivity.source == self.spec.reason,
                    column.in_(chunk),
                )
            ).scalars()

    def _append(self, ctx: SyncContext, session: Session, entries: list[NewEntry]) -> None:
        ctx.record(append_entries(session, ctx.store_id, entries, now=ctx.now), self.name)


def _stood_for(page: Iterable[Any]) -> set[int]:
    """The ids a page's items stand for, usable or not (`sync.fields.stood_for`)."""
    found = (stood_for(item.get("id")) for item in page if isinstance(item, Mapping))
    return {i for i in found if i is not None}


def _facts(item: Activity) -> dict[str, Any]:
    return {
        "subject": item.subject,
        "status": item.status,
        "created_at": item.created_at,
        "text_length": item.text_length,
        "verified": item.verified,
        "parent": item.parent,
    }
