"""`loyalty sync`: customers, refunds and orders in; ledger entries recorded; balances written back.

The order of the steps matters. Customers first, so that guest orders billed to a registered email
land on the account directly. Refund details next, a hundred a request, so that deciding an order
never needs a request of its own. Then the orders modified since the cursor (live, then trashed),
each page decided and committed with the cursor in one transaction. Then, when due, the check of
every known order id that catches orders deleted outright. Then accounts the store may have deleted
(their orders came back as guest orders) are asked for, and those gone give their points back to
their email. Last, the write-back of changed balances (a customer it finds deleted is retired too).

Every page is parsed at the edge: an item that does not parse goes to quarantine and the rest of
the page and the run go on.

The window ends at the store's clock (the `Date` header of the run's first answer, see
`sync.store_clock`), so cursors are positions in the store's time. A run that saw any change ends
converged: it lists again, per source, what was modified since the window's end, and repeats while a
pass brings something new (at most `MAX_CATCH_UP_PASSES`). A run that saw nothing does not.

A listing whose store makes no progress (`sync.paging.ListingStalled`) stops that source with its
error; the other sources go on, and the run ends failed with everything up to the last good page
kept.

Every step is safe to interrupt: the ledger only ever holds whole pages, cursors move in the same
transaction as the entries they cover, and reconciling is idempotent, so the next run finishes the
job without awarding anything twice. Every listing's pages are closed on every exit path.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from ledger.customers import get_or_create_store
from ledger.entries import NewEntry, append_entries
from ledger.models import Customer, SyncCursor, SyncRun, TrackedOrder
from ledger.session import (
    check_database_exists,
    check_schema_current,
    create_engine_for,
    database_errors,
    refresh_planner_statistics,
    session_scope,
)
from ledger.sync_lock import hold_sync_lock
from loyalty.config import Config, StoreConfig
from sync.client import ClientSettings, StoreClient
from sync.customer_meta import WriteBackResult, push_balances
from sync.customers import fetch_existing_customer_ids, fetch_new_customers
from sync.order_data import parse_customer
from sync.order_points import OrderPoints, Outcome, store_refunds
from sync.orders import (
    LIVE,
    TRASH,
    fetch_customer_orders,
    fetch_known_orders,
    fetch_orders_window,
)
from sync.owners import OwnerDirectory, merge_guest, retire_account
from sync.paging import ListingStalled
from sync.products import ProductCategories
from sync.progress import Progress, make_progress
from sync.quarantine import Quarantine, parse_page, valid_id
from sync.redaction import redact_value, register_secret
from sync.redemption_lifecycle import CouponUses, track_redemptions
from sync.redemptions import Redeemer, RedemptionSettings, claim_seconds
from sync.refunds import fetch_refunds_by_ids, fetch_refunds_created
from sync.storefront import Storefront
from sync.summary import SyncSummary
from sync.window import WindowPage

log = logging.getLogger("sync")

__all__ = ["SyncSummary", "make_progress", "run_sync"]

BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)  # before any WooCommerce store existed
#: While the ledger grows during a big sync, PostgreSQL's statistics are refreshed this often.
ANALYZE_AFTER_PAGES = frozenset(4**n for n in range(1, 8))  # 4, 16, 64, ... 16,384
ONE_SECOND = timedelta(seconds=1)
#: Catch-up passes at the end of a run that saw changes (each repeats only if the last brought news).
MAX_CATCH_UP_PASSES = 3
#: The store's clock may differ this much from the local one before the run warns about it.
SKEW_WARNING = timedelta(minutes=1)
#: The listings of one pass, each with its cursor's name.
ORDER_LISTINGS = ((LIVE, "orders"), (TRASH, "orders_trash"))


def run_sync(
    config: Config,
    *,
    full: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    engine: Engine | None = None,
    client: StoreClient | None = None,
    customer: int | None = None,
) -> SyncSummary:
    """One sync of the configured store. Raises StoreError when the store cannot be read,
    SyncAlreadyRunning (having done nothing) while another sync of the same store runs, and
    DatabaseUnusable when the ledger database cannot be used.

    With `customer` (a WooCommerce account id) only that account is resynced: its orders re-read
    and re-decided, its balance written back; no cursor moves.
    """
    store = config.require_store()
    engine = engine or create_engine_for(config.database.url)
    with database_errors(engine.url):  # down, damaged, read-only: one DatabaseUnusable line
        check_database_exists(engine)
        check_schema_current(engine)
        with hold_sync_lock(engine, store.key):
            client = client or make_client(store)
            return _run_locked(config, engine, client, full, dry_run, progress, customer)


def _run_locked(
    config: Config,
    engine: Engine,
    client: StoreClient,
    full: bool,
    dry_run: bool,
    progress: Progress | None,
    customer: int | None = None,
) -> SyncSummary:
    store = config.require_store()
    _register_credentials(store.consumer_key.reveal(), store.consumer_secret.reveal())
    with Transactions(engine, dry_run=dry_run) as tx:
        run = SyncJob(config, tx, client, progress or Progress(), full=full, dry_run=dry_run)
        return run.execute() if customer is None else run.resync_customer(customer)


def make_client(store: StoreConfig) -> StoreClient:
    """The client for the configured store (the sync's, the CLI's redemptions')."""
    return StoreClient(
        ClientSettings(
            url=store.url,
            consumer_key=store.consumer_key.reveal(),
            consumer_secret=store.consumer_secret.reveal(),
            timeout=store.timeout,
            max_requests_per_second=store.max_requests_per_second,
            max_retry_seconds=store.max_retry_seconds,
            verify_tls=store.verify_tls,
            max_response_bytes=store.max_response_mb * 2**20,
        )
    )


def _register_credentials(key: str, secret: str) -> None:
    """Mask the store's key and secret, and their Basic form, wherever the store echoes them."""
    for value in (key, secret, base64.b64encode(f"{key}:{secret}".encode()).decode()):
        register_secret(value)


class Transactions:
    """Units of work for one run. A dry run shares one transaction and rolls it all back."""

    def __init__(self, engine: Engine, *, dry_run: bool) -> None:
        self.engine = engine
        self.dry_run = dry_run
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
    def unit(self) -> Iterator[Session]:
        if self._dry_session is None:
            with session_scope(self.engine) as session:
                yield session
            return
        yield self._dry_session
        self._dry_session.flush()


@dataclass
class _SlicePrefix:
    """Where the cursor may safely go: the end of the longest run of fully committed slices."""

    through: dict[int, datetime | None] = field(default_factory=dict)
    done: dict[int, bool] = field(default_factory=dict)

    def record(self, page: WindowPage) -> None:
        self.through[page.slice_index] = page.delivered_through
        # The first page stands alone: the slice after it continues from where it stopped.
        self.done[page.slice_index] = page.last_of_slice or page.slice_index == 0

    def safe_position(self) -> datetime | None:
        safe: datetime | None = None
        index = 0
        while index in self.through:
            safe = self.through[index] or safe
            if not self.done[index]:
                break
            index += 1
        return safe


class SyncJob:
    """The steps of one sync run, sharing the store id, client, caches and summary."""

    def __init__(
        self,
        config: Config,
        tx: Transactions,
        client: StoreClient,
        progress: Progress,
        *,
        full: bool,
        dry_run: bool,
    ) -> None:
        self.config = config
        self.store_config = config.require_store()
        self.tx = tx
        self.client = client
        self.progress = progress
        self.full = full
        self.dry_run = dry_run
        self.started = time.monotonic()
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.overlap = timedelta(minutes=config.sync.overlap_minutes)
        # Fixed upper bound in the store's time (set once the store first answered, see
        # _fix_window_end): anything modified after it belongs to the catch-up or the next run.
        # Items modified later within this very second are safe too: the next run re-reads from
        # the cursor's second.
        self.until = self.now
        self.summary = SyncSummary(dry_run=dry_run, full=full)
        self.seen_orders: set[int] = set()
        self.coupon_uses = CouponUses()  # redemption codes in the orders read, for track_coupons
        self.changes = 0  # items new to the ledger: a run that saw none needs no catch-up
        self.highest_customer: int | None = None
        self.stopped: dict[str, str] = {}  # source -> why its listing stopped
        with tx.unit() as session:
            self.store_id = get_or_create_store(session, self.store_config.key).id
        self.owners = OwnerDirectory(self.store_id)
        self.quarantine = Quarantine(self.store_id)
        rules = config.rules.purchase
        needs_categories = any(v.category_overrides for v in rules.versions)
        self.orders = OrderPoints(
            self.store_id,
            rules,
            first_order_bonus=config.rules.first_order_points,
            owners=self.owners,
            fetch_refunds=lambda wanted: fetch_refunds_by_ids(self.client, wanted),
            categories=ProductCategories(client) if needs_categories else None,
            quarantine=self.quarantine,
        )

    def execute(self) -> SyncSummary:
        run_id = self._start_run()
        try:
            self.finish_redemptions()
            self._source("customers", self.sync_customers)
            self._fix_window_end()
            self._list_window(lo=None, hi=self.until)
            self._source("known orders", self.check_known_orders)
            self.check_deleted_accounts()
            self.track_coupons()
            self.catch_up()
            self._source("storefront", self.answer_storefront)
            self.write_back()
        except BaseException as error:
            self._finish_run(run_id, "failed", error)
            raise
        self._finish_run(run_id, "failed" if self.stopped else "succeeded", None)
        return self.summary

    def resync_customer(self, wc_id: int) -> SyncSummary:
        """One account: its orders (live and trashed) re-read and re-decided, the orders the ledger
        gives it checked by id (deleted ones found), its balance written back. Cursors stay."""
        run_id = self._start_run(kind="resync-customer")
        try:
            with self.tx.unit() as session:
                rows = session.execute(
                    select(TrackedOrder.order_id, TrackedOrder.status)
                    .join(Customer, Customer.id == TrackedOrder.customer_id)
                    .where(
                        TrackedOrder.store_id == self.store_id,
                        TrackedOrder.deleted.is_(False),
                        Customer.wc_id == wc_id,
                    )
                ).all()
                known = {int(oid): str(status) for oid, status in rows}
            for status in (LIVE, TRASH):
                per_page = self.store_config.per_page
                for items in fetch_customer_orders(
                    self.client, wc_id, status=status, per_page=per_page
                ):
                    with self.tx.unit() as session:
                        self._apply(self.orders.process(session, items, now=self.now))
                    self.seen_orders.update(int(o["id"]) for o in items if "id" in o)
            unseen = {oid: s for oid, s in known.items() if oid not in self.seen_orders}
            for found, gone in fetch_known_orders(self.client, unseen):
                with self.tx.unit() as session:
                    self._apply(self.orders.process(session, found, now=self.now))
                    self._apply(self.orders.mark_deleted(session, gone, now=self.now))
            self.write_back()
        except BaseException as error:
            self._finish_run(run_id, "failed", error)
            raise
        self._finish_run(run_id, "succeeded", None)
        return self.summary

    def _list_window(self, *, lo: datetime | None, hi: datetime) -> int:
        """Refunds and orders from `lo` (None: from each cursor) to `hi`; how many were new."""
        new = self._source("refunds", partial(self.sync_refunds, lo=lo, hi=hi))
        for status, resource in ORDER_LISTINGS:
            new += self._source(resource, partial(self.sync_orders, status, resource, lo, hi))
        return new

    def catch_up(self) -> None:
        """A run that saw changes lists what was modified since the window's end, until quiet."""
        lo = self.until
        passes = 0
        while self.changes and passes < MAX_CATCH_UP_PASSES:
            passes += 1
            hi = max(lo, self._store_now())
            new = self._source("customers", self.sync_customers)
            new += self._list_window(lo=lo, hi=hi)
            self.summary.catch_up_passes = passes
            log.debug("catch-up pass %d (%s..%s): %d new", passes, lo, hi, new)
            if not new:
                return
            lo = hi

    def _source(self, name: str, step: Callable[[], int | None]) -> int:
        """Run one source's step; a stalled listing stops that source (recorded), not the run.

        Returns how many items the step found new (None counts as none).
        """
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

    def _fix_window_end(self) -> None:
        """The window ends at the store's time: the Date of its first answer (or local - overlap)."""
        clock = self.client.store_clock
        store_now, skew = clock.now(), clock.skew
        if store_now is None or skew is None:
            local = datetime.now(UTC).replace(microsecond=0)
            self.until = local - self.overlap
            self._warn(
                f"the store's clock is unknown ({clock.problem}): the window ends at this "
                f"machine's clock minus the overlap ({self.overlap})"
            )
            return
        self.until = store_now
        self.summary.store_clock_skew_seconds = round(skew.total_seconds())
        if abs(skew) > SKEW_WARNING:
            side = "ahead of" if skew > timedelta(0) else "behind"
            self._warn(
                f"the store's clock is {_duration(abs(skew))} {side} this machine's; "
                "the sync follows the store's clock"
            )

    def _store_now(self) -> datetime:
        """The store's time now (for catch-up windows), on the same clock as the window's end."""
        store_now = self.client.store_clock.now()
        if store_now is None:
            return datetime.now(UTC).replace(microsecond=0) - self.overlap
        return store_now

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.summary.warnings.append(message)

    # -- steps ---------------------------------------------------------------------------------

    def finish_redemptions(self) -> None:
        """Coupons of redemptions a crash or an unreachable store left pending: before anything."""
        if self.dry_run:
            return
        counts = self.redeemer().finish_pending()
        for name, value in vars(counts).items():
            self.summary.redemptions[name] = self.summary.redemptions.get(name, 0) + value

    def track_coupons(self) -> None:
        """Issued coupons used, expired, deleted or refunded after use (sync.redemption_lifecycle)."""
        if self.dry_run:
            return
        counts = track_redemptions(
            self.client,
            self.tx.unit,
            self.store_id,
            self.coupon_uses,
            return_points=self.config.redemption.return_points_on_expiry,
            now=self.now,
        )
        for name, value in vars(counts).items():
            self.summary.redemptions[name] = value

    def answer_storefront(self) -> None:
        """Redemption requests in customer meta, then the auto-issue tier (sync.storefront)."""
        rules = self.config.redemption
        if self.dry_run or not rules.enabled:
            return
        storefront = Storefront(
            self.client, self.tx.unit, self.store_id, self.redeemer(), now=lambda: self.now
        )
        state = self._cursor_state("redeem_requests")
        self.progress.start("redemption requests")
        rotation_end = storefront.answer_requests(int(state.get("after", 0)), rules.request_scan)
        if rules.auto_issue_tier is not None:
            storefront.auto_issue(rules.auto_issue_tier)
        with self.tx.unit() as session:
            self._save_cursor(session, "redeem_requests", None, {"after": rotation_end})
        counts = storefront.counts
        for name in ("requests", "issued", "refused", "pending"):
            self.summary.redemptions[f"storefront_{name}"] = getattr(counts, name)
        self.summary.redemptions["auto_issued"] = counts.auto_issued
        self.summary.errors.extend(counts.errors[:20])
        self.progress.finish()

    def redeemer(self) -> Redeemer:
        store = self.store_config
        claim = claim_seconds(store.timeout, store.max_retry_seconds)
        settings = RedemptionSettings(self.config.redemption, claim_seconds=claim)
        return Redeemer(self.client, self.tx.unit, self.store_id, settings, now=lambda: self.now)

    def sync_customers(self) -> int:
        """New registrations; a guest with the same email moves to the account. Returns how many."""
        if self.highest_customer is None:
            state = self._cursor_state("customers")
            self.highest_customer = 0 if self.full else int(state.get("max_id", 0))
        above = highest = self.highest_customer
        self.progress.start("customers")
        new = 0
        with closing(fetch_new_customers(self.client, above_id=above)) as pages:
            for page in pages:
                with self.tx.unit() as session:
                    entries = self._register(session, page)
                    self._record(append_entries(session, self.store_id, entries, now=self.now))
                highest = max([highest, *(i for i in map(valid_id, page) if i is not None)])
                self.summary.customers_seen += len(page)
                new += len(page)
                self.progress.advance(len(page))
        # Only now: the listing runs newest first, so an interrupted one must start over from the
        # top (registering a customer twice changes nothing).
        with self.tx.unit() as session:
            self._save_cursor(session, "customers", None, {"max_id": highest})
        self.highest_customer = highest
        self._refresh_statistics()
        self.progress.finish()
        return new

    def _register(self, session: Session, page: list[dict[str, Any]]) -> list[NewEntry]:
        parsed, rejected = parse_page("customers", page, parse_customer)
        self.summary.quarantined += self.quarantine.add(session, rejected, now=self.now)
        accounts = [account for account, _ in parsed]
        self.quarantine.release(session, "customers", [str(i) for i, _ in accounts], now=self.now)
        entries: list[NewEntry] = []
        for account_id, guest in self.owners.register_accounts(session, accounts):
            moved = merge_guest(
                session,
                self.store_id,
                guest,
                account_id,
                bonus=self.config.rules.first_order_points,
                now=self.now,
            )
            self.summary.transfers += any(e.kind == "transfer" for e in moved)
            entries += moved
        return entries

    def sync_refunds(self, *, lo: datetime | None, hi: datetime) -> int:
        """Refund details created from `lo` (None: the cursor) to `hi`; returns how many were new.

        All of them on a full sync.
        """
        if lo is None:
            cursor = self._cursor_position("refunds")
            after = None if self.full or cursor is None else cursor - self.overlap
        else:
            after = lo - ONE_SECOND  # `after` is exclusive: the second of `lo` is listed too
        self.progress.start("refunds")
        new = 0
        with closing(
            fetch_refunds_created(self.client, after=after, before=hi + ONE_SECOND)
        ) as pages:
            for page in pages:
                with self.tx.unit() as session:
                    new += store_refunds(session, self.store_id, page, now=self.now)
                self.summary.refunds_fetched += len(page)
                self.progress.advance(len(page))
        with self.tx.unit() as session:
            self._save_cursor(session, "refunds", hi, None)
        self.progress.finish()
        return new

    def sync_orders(self, status: str, resource: str, lo: datetime | None, hi: datetime) -> int:
        """Orders with `status` modified from `lo` (None: the cursor) to `hi`, page by page, cursor
        with the entries. Returns how many orders were new to the ledger (in that state)."""
        catching_up = lo is not None
        if lo is None:
            cursor = self._cursor_position(resource)
            lo = BEGINNING if self.full or cursor is None else cursor - self.overlap
        prefix = _SlicePrefix()
        stage = "orders" if status == LIVE else "trashed orders"
        self.progress.start(f"{stage} (catch-up)" if catching_up else stage)
        pages = fetch_orders_window(
            self.client,
            status=status,
            lo=lo,
            hi=hi,
            per_page=self.store_config.per_page,
            concurrency=self.store_config.concurrency,
            on_total=self.progress.total,
        )
        new = 0
        with closing(pages):
            for pages_done, page in enumerate(pages, start=1):
                with self.tx.unit() as session:
                    outcome = self.orders.process(session, page.items, now=self.now)
                    self._apply(outcome)
                    prefix.record(page)
                    safe = prefix.safe_position()
                    if safe is not None:
                        self._save_cursor(session, resource, min(safe, hi), None)
                new += outcome.changed
                self.seen_orders.update(i for i in map(valid_id, page.items) if i is not None)
                self.coupon_uses.see(page.items)
                self.progress.advance(len(page.items))
                if pages_done in ANALYZE_AFTER_PAGES:
                    self._refresh_statistics()
        if catching_up:
            self.summary.orders_caught_up += new
        self.progress.finish()
        return new

    def check_known_orders(self) -> int:
        """Find orders deleted outright: asked for by id, they are in neither listing.

        After a full listing only the orders it did not see are asked for; otherwise every known
        order, at most once per `reconcile_every_hours`. Returns 0: a check, not a listing.
        """
        last = self._cursor_position("orders_checked")
        due = last is None or self.now - last >= timedelta(
            hours=self.config.sync.reconcile_every_hours
        )
        if not (self.full or due):
            return 0
        with self.tx.unit() as session:
            rows = session.execute(
                select(TrackedOrder.order_id, TrackedOrder.status).where(
                    TrackedOrder.store_id == self.store_id, TrackedOrder.deleted.is_(False)
                )
            ).all()
        candidates = {oid: status for oid, status in rows if oid not in self.seen_orders}
        self.progress.start("known orders", len(candidates))
        with closing(fetch_known_orders(self.client, candidates)) as batches:
            for found, gone in batches:
                with self.tx.unit() as session:
                    self._apply(self.orders.process(session, found, now=self.now))
                    self._apply(self.orders.mark_deleted(session, gone, now=self.now))
                self.coupon_uses.see(found)
                self.progress.advance(len(found) + len(gone))
        with self.tx.unit() as session:
            self._save_cursor(session, "orders_checked", self.now, None)
        self.progress.finish()
        return 0

    def check_deleted_accounts(self) -> None:
        """Ask for the accounts whose orders came back as guest orders; retire those gone."""
        if not self.orders.suspects:
            return
        with self.tx.unit() as session:
            rows = session.execute(
                select(Customer.id, Customer.wc_id).where(
                    Customer.store_id == self.store_id,
                    Customer.wc_id.in_(sorted(self.orders.suspects)),
                    Customer.deleted_at.is_(None),
                )
            ).all()
        self.orders.suspects.clear()
        suspects = {wc_id: customer_id for customer_id, wc_id in rows if wc_id is not None}
        if not suspects:
            return
        gone = set(suspects) - fetch_existing_customer_ids(self.client, suspects)
        if gone:
            with self.tx.unit() as session:
                self._retire(session, [suspects[wc_id] for wc_id in sorted(gone)])

    def _retire(self, session: Session, customer_ids: Sequence[int]) -> None:
        """Accounts the store no longer has: marked deleted, their points back to their email."""
        entries: list[NewEntry] = []
        for customer_id in sorted(set(customer_ids)):
            account = session.get(Customer, customer_id)
            if account is None or account.is_guest or account.deleted_at is not None:
                continue
            moved = retire_account(
                session,
                self.store_id,
                account,
                bonus=self.config.rules.first_order_points,
                now=self.now,
            )
            self.owners.forget(account)
            self.summary.accounts_deleted += 1
            entries += moved
        self._record(append_entries(session, self.store_id, entries, now=self.now))

    def write_back(self) -> None:
        self.progress.start("write-back")
        result: WriteBackResult = push_balances(
            self.client,
            self.tx.unit,
            self.store_id,
            balance_key=self.config.points.balance_meta_key,
            lifetime_key=self.config.points.lifetime_meta_key,
            now=lambda: self.now,
            dry_run=self.dry_run,
            on_gone=self._retire,
        )
        self.summary.customers_written += result.written
        self.summary.write_failures += result.failed
        self.summary.write_gave_up += result.gave_up
        self.summary.pending_writes = result.pending if self.dry_run else result.failed
        self.summary.errors.extend(result.errors[:20])
        self.progress.advance(result.written)
        self.progress.finish()

    # -- bookkeeping ---------------------------------------------------------------------------

    def _apply(self, outcome: Outcome) -> None:
        self.summary.orders_seen += outcome.orders_seen
        self.summary.quarantined += outcome.quarantined
        self.summary.orders_deleted += outcome.deleted
        self.summary.refunds_fetched += outcome.refunds_fetched
        self._record(outcome.entries)

    def _record(self, entries: list[NewEntry]) -> None:
        self.summary.entries_appended += len(entries)
        self.summary.net_points += sum(e.points for e in entries)
        if self.dry_run:
            self.summary.changes.extend(entries[: max(0, 200 - len(self.summary.changes))])

    def _refresh_statistics(self) -> None:
        if not self.dry_run:  # ANALYZE inside the dry run's one transaction would hold it up
            with self.tx.unit() as session:
                refresh_planner_statistics(session)

    def _cursor_row(self, session: Session, resource: str) -> SyncCursor | None:
        return session.get(SyncCursor, (self.store_id, resource))

    def _cursor_position(self, resource: str) -> datetime | None:
        with self.tx.unit() as session:
            row = self._cursor_row(session, resource)
            return row.position if row else None

    def _cursor_state(self, resource: str) -> dict[str, Any]:
        with self.tx.unit() as session:
            row = self._cursor_row(session, resource)
            return dict(json.loads(row.state)) if row else {}

    def _save_cursor(
        self,
        session: Session,
        resource: str,
        position: datetime | None,
        state: dict[str, Any] | None,
    ) -> None:
        row = self._cursor_row(session, resource)
        if row is None:
            row = SyncCursor(store_id=self.store_id, resource=resource, state="{}")
            session.add(row)
        if position is not None:
            row.position = position
        if state is not None:
            row.state = json.dumps(state, sort_keys=True)
        row.updated_at = self.now

    def _start_run(self, kind: str | None = None) -> int:
        with self.tx.unit() as session:
            # This run holds the store's sync lock, so a run still marked running was killed.
            abandoned = (
                session.connection()
                .execute(
                    update(SyncRun)
                    .where(SyncRun.store_id == self.store_id, SyncRun.status == "running")
                    .values(status="abandoned")
                )
                .rowcount
            )
            if abandoned:
                log.warning("%d earlier sync run(s) never finished: marked abandoned", abandoned)
            run = SyncRun(
                store_id=self.store_id,
                kind=kind or ("sync-full" if self.full else "sync"),
                started_at=self.now,
                status="running",
                summary="{}",
            )
            session.add(run)
            session.flush()
            return run.id

    def _finish_run(self, run_id: int, status: str, error: BaseException | None) -> None:
        self.summary.requests = self.client.requests_made
        self.summary.seconds = time.monotonic() - self.started
        try:
            with self.tx.unit() as session:
                run = session.get(SyncRun, run_id)
                if run is None:
                    return
                run.status = status
                run.finished_at = datetime.now(UTC)
                details = self.summary.as_dict()
                if error is not None:
                    details["error"] = f"{type(error).__name__}: {error}"
                elif self.stopped:
                    details["error"] = next(iter(self.stopped.values()))
                # What the store said (errors, echoed requests) is stored without its secrets.
                run.summary = json.dumps(redact_value(details), default=str)
        except Exception:  # recording the run must never hide the real outcome
            log.warning("could not record the sync run", exc_info=True)


def _duration(delta: timedelta) -> str:
    """`15 min`, `2 h 5 min`, `40 s`: a clock difference for a warning (minutes when over one)."""
    seconds = round(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return " ".join([f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes or not hours))
