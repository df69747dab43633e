"""The customers source: new registrations, so that every later source finds its owners.

Runs first (see `sync.sources`). The listing runs newest first down to the highest id known
(`sync.customers.fetch_new_customers`); each page's accounts are recorded in the ledger, a guest
holding points under an account's email moves to the account (`sync.owners.merge_guest`), and the
sources that watch accounts (signups) decide on them in the same unit of work.
Its cursor (`customers`: `{"max_id": ...}`) moves only once the listing is done: an interrupted
listing starts over from the top, and registering an account twice changes nothing.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from typing import Any

from ledger.entries import NewEntry, lock_balances
from sync.context import SyncContext
from sync.customers import (
    fetch_customers_by_ids,
    fetch_customers_by_registration,
    fetch_new_customers,
)
from sync.order_data import parse_customer, parse_registration
from sync.owners import merge_guest
from sync.quarantine import parse_page, valid_id

NAME = "customers"
#: When every account was last listed (`[sync] reconcile_every_hours`): an account's changed email
#: is seen then (WooCommerce lists customers by no date), and its guest's points move to it.
CHECKED = "customers_checked"
#: Quarantined accounts read again per run, at most (the oldest ids first).
RETRY_LIMIT = 1_000


class CustomersSource:
    """New accounts, newest first. One instance per run (it remembers the highest id seen)."""

    name = NAME

    def __init__(self) -> None:
        self.highest: int | None = None
        self.retried = False  # the quarantined accounts are read again once a run

    def run(self, ctx: SyncContext) -> int:
        return ctx.guard(NAME, lambda: self._list(ctx))

    def catch_up(self, ctx: SyncContext, lo: datetime, hi: datetime) -> int:
        """Accounts registered since the run's listing (ids above the highest seen)."""
        return self.run(ctx)

    def check(self, ctx: SyncContext) -> int:
        return 0

    def resync_customer(self, ctx: SyncContext, wc_id: int) -> None:
        return None

    def _list(self, ctx: SyncContext) -> int:
        """New registrations; a guest with the same email moves to the account. Returns how many."""
        whole = False
        if self.highest is None:  # the run's first listing: every account, when the check is due
            known = int(ctx.cursor_state(NAME).get("max_id", 0))
            whole = not known or ctx.due(CHECKED, ctx.settings.reconcile_every_hours)
            self.highest = 0 if whole else known
        above = highest = self.highest
        ctx.progress.start(NAME)
        new = 0
        if not self.retried:  # before the listing: what it quarantines waits for the next run
            self.retried = True
            new += self._retry_quarantined(ctx) if above else 0  # from the top: all are listed
        with closing(fetch_new_customers(ctx.client, above_id=above)) as pages:
            for page in pages:
                take_page(ctx, page)
                highest = max([highest, *(i for i in map(valid_id, page) if i is not None)])
                new += len(page)
        # Only now: the listing runs newest first, so an interrupted one must start over from the
        # top (registering a customer twice changes nothing).
        with ctx.tx.unit() as session:
            ctx.save_cursor(session, NAME, None, {"max_id": highest})
            if whole:
                ctx.save_cursor(session, CHECKED, ctx.now, None)
        self.highest = highest
        ctx.refresh_statistics()
        ctx.progress.finish()
        return new

    def _retry_quarantined(self, ctx: SyncContext) -> int:
        """The accounts quarantined here or by a source watching accounts (signups), read again
        by id (`include=`, a hundred a request; the oldest `RETRY_LIMIT` a run): the listing
        brings only ids above the highest seen, so an account served malformed once never came
        back, and its signup points were lost to regular syncs. One that reads now is taken as
        new ones are, and its quarantine entries are resolved; one the store no longer has
        stays listed (`loyalty quarantine`). Returns how many were asked for."""
        with ctx.tx.unit() as session:
            refs = set().union(
                *(ctx.quarantine.open_refs(session, name) for name in (NAME, *ctx.account_hooks))
            )
        ids = sorted(int(ref) for ref in refs if ref.isascii() and ref.isdigit())[:RETRY_LIMIT]
        if not ids:
            return 0
        with closing(fetch_customers_by_ids(ctx.client, ids)) as pages:
            for page in pages:
                take_page(ctx, page)
        return len(ids)


def take_page(ctx: SyncContext, page: list[dict[str, Any]]) -> None:
    """One page of accounts, in one unit of work: registered in the ledger (a guest holding
    points under an account's email moves to it), then handed to every source that watches
    accounts (`ctx.account_hooks`); all their entries appended together and counted."""
    with ctx.tx.unit() as session:
        parsed, rejected = parse_page(NAME, page, parse_customer)
        ctx.summary.quarantined += ctx.quarantine.add(session, rejected, now=ctx.now)
        accounts = [account for account, _ in parsed]
        ctx.quarantine.release(session, NAME, [str(i) for i, _ in accounts], now=ctx.now)
        entries: list[NewEntry] = []
        merges = ctx.owners.register_accounts(session, accounts)
        # every balance the merges move, locked at once in ascending order before the first is
        # read (`sync.owners.move_holdings` locks its pair: one pair after another, out of order);
        # with them, the page's accounts' rows that exist, which the account hooks (signups)
        # append for after the merges: taken then, a lower one came after the merges' rows
        moving = {customer for account_id, guest in merges for customer in (account_id, guest.id)}
        if moving:
            hooked = {ctx.owners.account(session, i) for i, _ in accounts}
            hooked = hooked - moving if ctx.account_hooks else set()
            lock_balances(session, ctx.store_id, sorted(moving), ctx.now, existing=hooked)
        for account_id, guest in merges:
            moved = merge_guest(
                session,
                ctx.store_id,
                guest,
                account_id,
                bonus=ctx.settings.first_order_points,
                now=ctx.now,
                moved=ctx.owner_moved,
            )
            ctx.summary.transfers += any(e.kind == "transfer" for e in moved)
            entries += moved
        listed = [raw for _, raw in parsed]
        by_source = {NAME: entries}
        for name, on_accounts in ctx.account_hooks.items():
            by_source[name] = on_accounts(ctx, session, listed)
        ctx.append(session, by_source)
    ctx.summary.customers_seen += len(page)
    ctx.counts(NAME).seen += len(page)
    ctx.progress.advance(len(page))


def list_registered_since(ctx: SyncContext, since: datetime) -> int:
    """Every account registered at or after `since`, newest registration first, through
    `take_page`; stops after the page that reaches an older account. Moves no cursor (the
    newest-first listing by id stays where it was). Returns how many accounts it listed."""
    ctx.progress.start(f"{NAME} registered since {since:%Y-%m-%d %H:%M:%S}")
    listed = 0
    with closing(fetch_customers_by_registration(ctx.client)) as pages:
        for page in pages:
            take_page(ctx, page)
            listed += len(page)
            registered, _ = parse_page(NAME, page, parse_registration)
            if any(at < since for (_, at), _ in registered):
                break
    ctx.progress.finish()
    return listed


def customers_source(ctx: SyncContext) -> CustomersSource:
    """The registry's factory: always on (owners must resolve for every other source)."""
    return CustomersSource()
