"""The signups source: `[rules.signup] points` to each account registered since signups started.

It makes no request of its own: the customers source's listing (newest first, down to the highest
id known) finds every new account, and hands each page's accounts to this source
(`AccountWatcher.on_accounts`), which decides them (`rules.signup`) and reconciles them in that
page's unit of work, so an interrupted run never loses one.

Its cursor (`signups`: `{"enabled_at", "earns_from"}`) records when the sync first ran with signup
points on (the store's time); accounts registered before `earns_from` (that moment, or earlier
where `loyalty resync --signups --since DATE` moved it back) earn nothing. An account whose
`date_created_gmt` does not parse is quarantined under `signups`; it is still registered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ledger.entries import NewEntry
from ledger.kinds import SourceKind
from ledger.reconcile import Target, reconcile
from rules.signup import SignupRules, signup_points
from sync.context import SyncContext
from sync.customer_source import list_registered_since
from sync.order_data import parse_registration
from sync.quarantine import parse_page

NAME = "signups"


class SignupsSource:
    """Signup points, decided on the accounts the customers listing finds. One per run."""

    name = NAME

    def __init__(self, rules: SignupRules) -> None:
        self.rules = rules

    # -- the hooks ---------------------------------------------------------------------------

    def run(self, ctx: SyncContext) -> int:
        """Nothing to list: records when signups started, on the first run with points on."""
        with ctx.tx.unit() as session:
            self._earns_from(ctx, session)
        return 0

    def check(self, ctx: SyncContext) -> int:
        return 0

    def catch_up(self, ctx: SyncContext, lo: datetime, hi: datetime) -> int:
        return 0  # the customers source's catch-up lists new accounts and hands them over

    def resync_customer(self, ctx: SyncContext, wc_id: int) -> None:
        return None  # decided when the account is listed; `resync --signups` re-decides

    def on_accounts(
        self, ctx: SyncContext, session: Session, accounts: list[dict[str, Any]]
    ) -> list[NewEntry]:
        """The entries that give each account of a customers page its signup points (not yet
        appended: the customers source appends them with its own, in the same unit of work)."""
        earns_from = self._earns_from(ctx, session)
        parsed, rejected = parse_page(NAME, accounts, parse_registration)
        ctx.summary.quarantined += ctx.quarantine.add(session, rejected, now=ctx.now)
        ctx.quarantine.release(session, NAME, [str(wc_id) for (wc_id, _), _ in parsed], now=ctx.now)
        ctx.counts(NAME).seen += len(accounts)
        targets = []
        for (wc_id, registered_at), _ in parsed:
            owner = ctx.owners.account(session, wc_id)
            award = signup_points(
                self.rules, registered_at, earns_from=earns_from, owner_ref=f"customer:{owner}"
            )
            targets.append(
                Target(
                    owner=owner,
                    source_ref=award.key,
                    kind=SourceKind.SIGNUP,
                    points=award.points,
                    occurred_at=registered_at,
                    note=award.explanation,
                    rule_version=award.rule_version,
                )
            )
        return reconcile(session, ctx.store_id, targets)

    def backfill(self, ctx: SyncContext, since: datetime) -> None:
        """`loyalty resync --signups --since DATE`: accounts registered since `since` earn too.

        Moves `earns_from` back to `since` (never forward), then lists the accounts registered
        since then, newest first, through the customers source's page handling (which hands them
        here). Running it again appends nothing.
        """
        with ctx.tx.unit() as session:
            state = self._state(ctx, session)
            if since < datetime.fromisoformat(state["earns_from"]):
                state["earns_from"] = since.isoformat()
                ctx.save_cursor(session, NAME, None, state)
        list_registered_since(ctx, since)

    # -- the cursor --------------------------------------------------------------------------

    def _earns_from(self, ctx: SyncContext, session: Session) -> datetime:
        return datetime.fromisoformat(self._state(ctx, session)["earns_from"])

    def _state(self, ctx: SyncContext, session: Session) -> dict[str, Any]:
        """The cursor's state, created (signups start now, in the store's time) when missing."""
        state = ctx.cursor_state(NAME, session)
        if "earns_from" not in state:
            started = ctx.store_now().isoformat()
            state = {"enabled_at": started, "earns_from": started}
            ctx.save_cursor(session, NAME, None, state)
        return state


def signups_source(ctx: SyncContext) -> SignupsSource | None:
    """The registry's factory: on when `[rules.signup] points` is above 0."""
    points = ctx.settings.signup_points
    return SignupsSource(SignupRules(points=points)) if points > 0 else None
