"""The orders source: purchase points (and first-order bonuses) from the store's orders.

Its listings, each with its own cursor and each guarded on its own (a stalled one stops alone):
refund details created in the window (`refunds`, a hundred a request, so that deciding an order
never needs a request of its own), then orders modified in the window, live (`orders`) and
trashed (`orders_trash`), each page decided (`sync.order_points`) and committed with its cursor in
one transaction. Its check (`orders_checked`, at most once per `reconcile_every_hours`, always on
a full run) asks for every known order no listing showed, to find orders deleted outright; then
the accounts whose orders came back as guest orders are asked for, and those gone are retired.
With pending points on, the check also asks for the orders whose pending points' window has ended
(found in the ledger: `ledger.pending.matured_orders`) and decides them again, on the store's
time, so that what they still carry becomes available.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.batches import rows_in
from ledger.entries import remember_categories
from ledger.models import Customer, TrackedOrder
from ledger.pending import matured_orders
from sync.accounts import retire_suspects
from sync.ahead import Prefetched
from sync.client import ranked
from sync.context import SyncContext
from sync.id_set import IdSet
from sync.order_points import OrderPoints, Outcome
from sync.order_recalc import known_order_ids, recalculate_orders
from sync.orders import LIVE, TRASH, fetch_customer_orders, fetch_known_orders, fetch_orders_window
from sync.products import ProductCategories
from sync.quarantine import valid_id
from sync.refunds import fetch_refunds_by_ids, fetch_refunds_created
from sync.source import RecalcBatch, RecalcScope, rules_text
from sync.stamps import StampCounter
from sync.window import WindowPage

NAME = "orders"
BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)  # before any WooCommerce store existed
#: While the ledger grows during a big sync, PostgreSQL's statistics are refreshed this often.
ANALYZE_AFTER_PAGES = frozenset(4**n for n in range(1, 8))  # 4, 16, 64, ... 16,384
ONE_SECOND = timedelta(seconds=1)
#: The order listings of one pass, each with its cursor's name.
ORDER_LISTINGS = ((LIVE, "orders"), (TRASH, "orders_trash"))
REFUNDS = "refunds"
CHECKED = "orders_checked"
#: Known orders read at a time by the check of deleted orders.
KNOWN_ORDERS_CHUNK = 5_000
#: Pages a listing's thread reads ahead of the ledger (besides those its requests have in flight).
PREFETCH_PAGES = 2
#: The most orders (or refunds) decided and committed as one unit of work: the page that is ready
#: and every page after it fetched already (never waited for), with the cursor after the last.
#: Fewer, larger transactions; a slow store gives groups of one page. The listings read this many
#: ahead (`_depth`), so it bounds memory too: each page read ahead holds ~2.5 MB at its peak
#: (measured: 1,000 instead of 500 saved no CPU measurably and cost 13 MB more at 10,000 orders).
GROUP_ITEMS = 500
#: How many times that the refunds read ahead. Every refund is taken before any order, while the
#: customers are written first: a deeper read-ahead lets the store answer all of a 10,000-order
#: shop's refunds in that time, not the last few one round at a time after it. A page of refunds
#: decodes to about a third of a page of orders (0.4 MB against 1.1 MB).
REFUNDS_AHEAD = 2
_P = TypeVar("_P")


@dataclass
class _SlicePrefix:
    """Where the cursor may safely go: the end of the longest run of fully committed slices from
    the window's start (slices are contiguous: each starts the second after the one before it
    ends; a slice split while it ran ends earlier, and the later half is a slice of its own)."""

    start: datetime | None = None
    #: slice start -> (its end, delivered through, done), as its latest committed page says
    slices: dict[datetime, tuple[datetime, datetime | None, bool]] = field(default_factory=dict)

    def record(self, page: WindowPage) -> None:
        if self.start is None:  # the window's first page comes first
            self.start = page.slice_start
        self.slices[page.slice_start] = (
            page.slice_end,
            page.delivered_through,
            page.last_of_slice,
        )

    def safe_position(self) -> datetime | None:
        safe: datetime | None = None
        at = self.start
        while at is not None and at in self.slices:
            end, through, done = self.slices[at]
            safe = through or safe
            if not done or end < at:  # an empty first page (all at `lo`): what follows is next
                break
            at = end + ONE_SECOND
        return safe


class OrdersSource:
    """Orders and their refunds. One instance per run: it remembers the orders it has seen."""

    name = NAME

    def __init__(self, ctx: SyncContext) -> None:
        settings = ctx.settings
        cards = settings.stamps.cards
        needs_categories = any(v.category_overrides for v in settings.purchase.versions) or any(
            card.category_ids for card in cards
        )
        self.categories = ProductCategories(ctx.client) if needs_categories else None
        self.named: dict[int, str] = {}  # category names already written this run
        self.points = OrderPoints(
            ctx.store_id,
            settings.purchase,
            first_order_bonus=settings.first_order_points,
            owners=ctx.owners,
            fetch_refunds=lambda wanted: fetch_refunds_by_ids(ctx.client, wanted),
            categories=self.categories,
            quarantine=ctx.quarantine,
            followers=[StampCounter(ctx.store_id, cards)] if cards else [],
            pending=settings.pending,
            store_now=ctx.window_end,
            tiers=settings.tiers,
            store_clock=ctx.store_now,
        )
        self.seen = IdSet()  # every order id listed in this run, as bits (sync.id_set)
        #: The listings `start_ahead` or `start_catch_up` started (the latter for `_ahead_span`).
        self._ahead: dict[str, _Opened] | None = None
        self._ahead_span: tuple[datetime, datetime] | None = None
        self._cancelled = threading.Event()

    # -- the hooks ---------------------------------------------------------------------------

    def start_ahead(self, ctx: SyncContext) -> None:
        """Start fetching the regular listings now, while the sources before this one write the
        ledger; their pages wait (a few at most) for `run`. The window's end is fixed by the
        store's first answer, which the fetching threads wait for."""
        if self._ahead is None:
            self._ahead = self._open_window(ctx, lo=None, hi=None)

    def close_ahead(self) -> None:
        """Stop the listings started ahead that `run` did not take (a failed run)."""
        opened, self._ahead = self._ahead, None
        self._cancelled.set()
        for listing in (opened or {}).values():
            listing.pages.close()

    def run(self, ctx: SyncContext) -> int:
        opened, self._ahead = self._ahead, None
        hi = ctx.window_end()
        return self._take_window(ctx, opened or self._open_window(ctx, lo=None, hi=hi), hi)

    def start_catch_up(self, ctx: SyncContext, lo: datetime, hi: datetime) -> None:
        """Start fetching the catch-up pass's listings while the customers catch up."""
        if self._ahead is None:
            self._ahead, self._ahead_span = self._open_window(ctx, lo=lo, hi=hi), (lo, hi)

    def catch_up(self, ctx: SyncContext, lo: datetime, hi: datetime) -> int:
        opened, self._ahead = self._ahead, None
        if opened is not None and self._ahead_span == (lo, hi):
            return self._take_window(ctx, opened, hi, catching_up=True)
        for listing in (opened or {}).values():  # started for another pass: not this one's
            listing.pages.close()
        return self._list_window(ctx, lo=lo, hi=hi)

    def check(self, ctx: SyncContext) -> int:
        """Orders deleted outright (when due), then the accounts their guest orders suspect."""
        ctx.guard("known orders", lambda: self._check_known_orders(ctx))
        ctx.guard("pending orders", lambda: self._mature_pending(ctx))
        suspects = set(self.points.suspects)
        self.points.suspects.clear()
        retire_suspects(ctx, suspects)
        return 0

    def resync_customer(self, ctx: SyncContext, wc_id: int) -> None:
        """The account's orders (live and trashed) re-read and re-decided, the orders the ledger
        gives it checked by id (deleted ones found). Cursors stay."""
        with ctx.tx.unit() as session:
            rows = session.execute(
                select(TrackedOrder.order_id, TrackedOrder.status)
                .join(Customer, Customer.id == TrackedOrder.customer_id)
                .where(
                    TrackedOrder.store_id == ctx.store_id,
                    TrackedOrder.deleted.is_(False),
                    Customer.wc_id == wc_id,
                )
            ).all()
            known = {int(oid): str(status) for oid, status in rows}
        for status in (LIVE, TRASH):
            for items in fetch_customer_orders(ctx.client, wc_id, status=status):
                with ctx.tx.unit() as session:
                    self._apply(ctx, self._process(ctx, session, items))
                self.seen.update(i for i in map(valid_id, items) if i is not None)
        unseen = {oid: s for oid, s in known.items() if oid not in self.seen}
        for found, gone in fetch_known_orders(ctx.client, unseen):
            with ctx.tx.unit() as session:
                self._apply(ctx, self._process(ctx, session, found))
                self._apply(ctx, self.points.mark_deleted(session, gone, now=ctx.now))

    def recalculation_rules(self) -> str:
        return rules_text(self.points.rules, self.points.first_order_bonus, self.points.tiers)

    def recalculation_ids(self, ctx: SyncContext, scope: RecalcScope, after: int) -> list[int]:
        return known_order_ids(ctx, scope, after)

    def recalculate(
        self, ctx: SyncContext, session: Session, scope: RecalcScope, ids: list[int]
    ) -> RecalcBatch:
        """Orders under the rule set in force now (`sync.order_recalc`)."""
        return recalculate_orders(ctx, session, self.points, scope, ids)

    # -- listings ----------------------------------------------------------------------------

    def _list_window(self, ctx: SyncContext, *, lo: datetime | None, hi: datetime) -> int:
        """Refunds and orders from `lo` (None: from each cursor) to `hi`; how many were new."""
        return self._take_window(ctx, self._open_window(ctx, lo=lo, hi=hi), hi, lo is not None)

    def _open_window(
        self, ctx: SyncContext, *, lo: datetime | None, hi: datetime | None
    ) -> dict[str, _Opened]:
        """The window's three listings, started: each fetched by a thread of its own (within the
        client's `concurrency`). `hi` None: the window's end, once the store has answered."""
        catching_up = lo is not None
        window: Callable[[], datetime | None] = (
            (lambda: hi)
            if hi is not None
            else partial(ctx.window_end_once_answered, self._cancelled)
        )
        opened: dict[str, _Opened] = {}
        try:
            if REFUNDS not in ctx.stopped:
                opened[REFUNDS] = self._open_refunds(ctx, lo=lo, hi=window)
            before: Prefetched[Any] | None = None  # trashed orders are fetched after live ones
            for status, cursor in ORDER_LISTINGS:
                if cursor not in ctx.stopped:
                    listing = self._open_orders(ctx, status, lo, window, catching_up, before)
                    opened[cursor], before = listing, listing.pages
            # The store answers first what the ledger takes first: the refunds, then live orders,
            # then trashed ones (the customers, taken before them all, have the default rank 0).
            for rank, listing in enumerate(opened.values(), start=1):
                with ranked(rank):
                    listing.pages.start()
        except BaseException:
            for listing in opened.values():
                listing.pages.close()
                ctx.progress.finish(listing.stage)
            raise
        return opened

    def _take_window(
        self, ctx: SyncContext, opened: dict[str, _Opened], hi: datetime, catching_up: bool = False
    ) -> int:
        """The window's pages taken in the same order as ever: every refund before any order is
        decided, live orders before trashed ones, each page with its cursor in one unit of work.
        Only the waiting for the store overlaps the ledger's writes. Returns how many were new."""
        try:
            new = 0
            if REFUNDS in opened:
                new += ctx.guard(REFUNDS, partial(self._list_refunds, ctx, opened[REFUNDS], hi))
                opened[REFUNDS].pages.close()  # done, or given up after an error: release it
            for _, cursor in ORDER_LISTINGS:
                if cursor in opened:
                    listing = opened[cursor]
                    list_orders = partial(self._list_orders, ctx, listing, cursor, hi)
                    found = ctx.guard(cursor, list_orders)
                    listing.pages.close()
                    new += found
                    if catching_up:
                        ctx.summary.orders_caught_up += found
        finally:
            for listing in opened.values():
                listing.pages.close()
                ctx.progress.finish(listing.stage)
        return new

    def _open_refunds(
        self, ctx: SyncContext, *, lo: datetime | None, hi: Callable[[], datetime | None]
    ) -> _Opened:
        """Refund details created from `lo` (None: the cursor; all on a full sync) to `hi()`."""
        if lo is None:
            cursor = ctx.cursor_position(REFUNDS)
            after = None if ctx.full or cursor is None else cursor - ctx.overlap
        else:
            after = lo - ONE_SECOND  # `after` is exclusive: the second of `lo` is listed too
        stage = "refunds"
        ctx.progress.start(stage)

        def pages() -> Iterator[list[dict[str, Any]]]:
            end = hi()
            if end is not None:
                yield from fetch_refunds_created(ctx.client, after=after, before=end + ONE_SECOND)

        depth = _depth(ctx.client.per_page) * REFUNDS_AHEAD
        return _Opened(stage, Prefetched(_counted(pages, ctx, stage, len), depth=depth))

    def _list_refunds(self, ctx: SyncContext, listing: _Opened, hi: datetime) -> int:
        """The refunds' pages into the ledger's cache, the pages ready together in one unit of
        work (`GROUP_ITEMS`); the cursor at `hi` once all are in. Returns how many were new."""
        new = 0
        for group in listing.pages.groups(len, GROUP_ITEMS):
            refunds = [refund for page in group for refund in page]
            with ctx.tx.unit() as session:
                new += self.points.store_refunds(session, refunds, now=ctx.now)
            ctx.summary.refunds_fetched += len(refunds)
            ctx.progress.advance(len(refunds), listing.stage)
        with ctx.tx.unit() as session:
            ctx.save_cursor(session, REFUNDS, hi, None)
        return new

    def _open_orders(
        self,
        ctx: SyncContext,
        status: str,
        lo: datetime | None,
        hi: Callable[[], datetime | None],
        catching_up: bool,
        after: Prefetched[Any] | None,
    ) -> _Opened:
        """Orders with `status` modified from `lo` (None: the cursor) to `hi()`, fetched once
        `after` (the listing taken before) has fetched its pages."""
        cursor = dict(ORDER_LISTINGS)[status]
        if lo is None:
            position = ctx.cursor_position(cursor)
            lo = BEGINNING if ctx.full or position is None else position - ctx.overlap
        stage = "orders" if status == LIVE else "trashed orders"
        stage = f"{stage} (catch-up)" if catching_up else stage
        ctx.progress.start(stage)
        start = lo
        per_page = ctx.client.per_page

        def total(count: int) -> None:
            ctx.progress.total(count, stage=stage)
            if count <= 2 * per_page:  # one page after the first: fetched at once (a small trash)
                prefetched.go_ahead()

        def pages() -> Iterator[WindowPage]:
            end = hi()
            if end is not None:
                yield from fetch_orders_window(
                    ctx.client,
                    status=status,
                    lo=start,
                    hi=end,
                    per_page=per_page,
                    concurrency=ctx.settings.concurrency,
                    on_total=total,
                )

        counted = _counted(pages, ctx, stage, lambda page: len(page.items))
        prefetched = Prefetched(counted, depth=_depth(per_page), after=after)
        return _Opened(stage, prefetched)

    def _list_orders(self, ctx: SyncContext, listing: _Opened, cursor: str, hi: datetime) -> int:
        """The listing's pages decided in groups (the page ready and those fetched already, up to
        `GROUP_ITEMS` orders), each group committed with its cursor in one transaction (the
        cursor only as far as every slice before it is committed). Returns how many orders were
        new to the ledger (in that state)."""
        prefix = _SlicePrefix()
        new = pages_done = 0
        with ctx.tx.unit() as session:
            bound = GROUP_ITEMS if self.points.decides_pages_together(session) else 1
        for group in listing.pages.groups(lambda page: len(page.items), bound):
            items = [item for page in group for item in page.items]
            with ctx.tx.unit() as session:
                outcome = self._process(ctx, session, items)
                self._apply(ctx, outcome)
                for page in group:
                    prefix.record(page)
                safe = prefix.safe_position()
                if safe is not None:
                    ctx.save_cursor(session, cursor, min(safe, hi), None)
            new += outcome.changed
            self.seen.update(i for i in map(valid_id, items) if i is not None)
            ctx.coupon_uses.see(items)
            ctx.progress.advance(len(items), listing.stage)
            before, pages_done = pages_done, pages_done + len(group)
            if any(before < n <= pages_done for n in ANALYZE_AFTER_PAGES):
                ctx.refresh_statistics()
        return new

    def _check_known_orders(self, ctx: SyncContext) -> int:
        """Find orders deleted outright: asked for by id, they are in neither listing.

        After a full listing only the orders it did not see are asked for; otherwise every known
        order, at most once per `reconcile_every_hours`. Returns 0: a check, not a listing.
        """
        if not ctx.due(CHECKED, ctx.settings.reconcile_every_hours):
            return 0
        with ctx.tx.unit() as session:
            # Read in chunks, never all at once: after a full listing nearly every one was seen.
            rows = session.execute(
                select(TrackedOrder.order_id, TrackedOrder.status)
                .where(TrackedOrder.store_id == ctx.store_id, TrackedOrder.deleted.is_(False))
                .execution_options(yield_per=KNOWN_ORDERS_CHUNK)
            )
            candidates = {oid: status for oid, status in rows if oid not in self.seen}
        self._decide_known(ctx, "known orders", candidates)
        with ctx.tx.unit() as session:
            ctx.save_cursor(session, CHECKED, ctx.now, None)
        return 0

    def _decide_known(self, ctx: SyncContext, stage: str, candidates: Mapping[int, str]) -> None:
        """Known orders read again by id (`fetch_known_orders`), each batch decided in its own
        transaction and the ones the store no longer has marked deleted, with progress."""
        ctx.progress.start(stage, len(candidates))
        with closing(fetch_known_orders(ctx.client, candidates)) as batches:
            for found, gone in batches:
                with ctx.tx.unit() as session:
                    self._apply(ctx, self._process(ctx, session, found))
                    self._apply(ctx, self.points.mark_deleted(session, gone, now=ctx.now))
                ctx.coupon_uses.see(found)
                ctx.progress.advance(len(found) + len(gone))
        ctx.progress.finish()

    def _process(self, ctx: SyncContext, session: Session, items: list[dict[str, Any]]) -> Outcome:
        """A page of orders decided and recorded, with the category names its products showed
        (for the reports), in the page's transaction."""
        outcome = self.points.process(session, items, now=ctx.now)
        if self.categories is not None:
            fresh = {c: n for c, n in self.categories.names.items() if self.named.get(c) != n}
            remember_categories(session, ctx.store_id, fresh)
            self.named.update(fresh)
        return outcome

    def _mature_pending(self, ctx: SyncContext) -> int:
        """Orders holding pending points whose window has ended (on the store's clock), read by id
        and decided again: what they still carry becomes available. Returns 0: a check."""
        days = ctx.settings.pending.days
        if not days:
            return 0
        with ctx.tx.unit() as session:
            due = matured_orders(session, ctx.store_id, days=days, now=ctx.window_end())
            rows = rows_in(
                session,
                due,
                lambda chunk: select(TrackedOrder.order_id, TrackedOrder.status).where(
                    TrackedOrder.store_id == ctx.store_id, TrackedOrder.order_id.in_(chunk)
                ),
            )
        # an order listed in this run was decided on the store's time already
        candidates = {oid: status for oid, status in rows if oid not in self.seen}
        if not candidates:
            return 0
        self._decide_known(ctx, "pending orders", candidates)
        # every candidate was read (found) or marked deleted (gone): none needs reading again
        self.seen.update(candidates)
        return 0

    def _apply(self, ctx: SyncContext, outcome: Outcome) -> None:
        summary = ctx.summary
        summary.orders_seen += outcome.orders_seen
        summary.quarantined += outcome.quarantined
        summary.orders_deleted += outcome.deleted
        summary.refunds_fetched += outcome.refunds_fetched
        ctx.counts(NAME).seen += outcome.orders_seen
        ctx.record(outcome.entries, NAME)


@dataclass(frozen=True)
class _Opened:
    """A listing started ahead of its turn: its progress stage and its pages."""

    stage: str
    pages: Prefetched[Any]


def _depth(per_page: int) -> int:
    """How many pages a listing reads ahead: enough to fill a group (`GROUP_ITEMS`)."""
    return max(PREFETCH_PAGES, -(-GROUP_ITEMS // max(1, per_page)))


def _counted(
    pages: Callable[[], Iterator[_P]], ctx: SyncContext, stage: str, size: Callable[[_P], int]
) -> Callable[[], Iterator[_P]]:
    """`pages`, each counted as read in `stage` of the progress (from the fetching thread)."""

    def counting() -> Iterator[_P]:
        with closing(pages()) as listing:  # type: ignore[type-var]
            for page in listing:
                ctx.progress.fetched(size(page), stage)
                yield page

    return counting


def orders_source(ctx: SyncContext) -> OrdersSource:
    """The registry's factory: always on."""
    return OrdersSource(ctx)
