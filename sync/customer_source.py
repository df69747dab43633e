"""The customers source: new registrations, so that every later source finds its owners.

Runs first (see `sync.sources`). The listing runs newest first down to the highest id known
(`sync.customers.fetch_new_customers`); each page's accounts are recorded in the ledger, and a
guest holding points under an account's email moves to the account (`sync.owners.merge_guest`).
Its cursor (`customers`: `{"max_id": ...}`) moves only once the listing is done: an interrupted
listing starts over from the top, and registering an account twice changes nothing.
"""

from __future__ import annotations

from contextlib import closing
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ledger.entries import NewEntry, append_entries
from sync.context import SyncContext
from sync.customers import fetch_new_customers
from sync.order_data import parse_customer
from sync.owners import merge_guest
from sync.quarantine import parse_page, valid_id

NAME = "customers"


class CustomersSource:
    """New accounts, newest first. One instance per run (it remembers the highest id seen)."""

    name = NAME

    def __init__(self) -> None:
        self.highest: int | None = None

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
        if self.highest is None:
            self.highest = 0 if ctx.full else int(ctx.cursor_state(NAME).get("max_id", 0))
        above = highest = self.highest
        ctx.progress.start(NAME)
        new = 0
        counts = ctx.counts(NAME)
        with closing(fetch_new_customers(ctx.client, above_id=above)) as pages:
            for page in pages:
                with ctx.tx.unit() as session:
                    entries = self._register(ctx, session, page)
                    ctx.record(append_entries(session, ctx.store_id, entries, now=ctx.now), NAME)
                highest = max([highest, *(i for i in map(valid_id, page) if i is not None)])
                ctx.summary.customers_seen += len(page)
                counts.seen += len(page)
                new += len(page)
                ctx.progress.advance(len(page))
        # Only now: the listing runs newest first, so an interrupted one must start over from the
        # top (registering a customer twice changes nothing).
        with ctx.tx.unit() as session:
            ctx.save_cursor(session, NAME, None, {"max_id": highest})
        self.highest = highest
        ctx.refresh_statistics()
        ctx.progress.finish()
        return new

    def _register(
        self, ctx: SyncContext, session: Session, page: list[dict[str, Any]]
    ) -> list[NewEntry]:
        parsed, rejected = parse_page(NAME, page, parse_customer)
        ctx.summary.quarantined += ctx.quarantine.add(session, rejected, now=ctx.now)
        accounts = [account for account, _ in parsed]
        ctx.quarantine.release(session, NAME, [str(i) for i, _ in accounts], now=ctx.now)
        entries: list[NewEntry] = []
        for account_id, guest in ctx.owners.register_accounts(session, accounts):
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
        return entries


def customers_source(ctx: SyncContext) -> CustomersSource:
    """The registry's factory: always on (owners must resolve for every other source)."""
    return CustomersSource()
