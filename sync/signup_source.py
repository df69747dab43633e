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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.customers import mark_signups, signup_carried
from ledger.entries import NewEntry, refs_starting
from ledger.kinds import SourceKind
from ledger.models import Customer, PointEntry
from ledger.reconcile import reconcile
from rules.signup import SIGNUP_REASON, SignupRules, signup_points
from sync.context import SyncContext
from sync.customer_source import list_registered_since
from sync.order_data import parse_registration
from sync.owners import award_target
from sync.quarantine import parse_page
from sync.source import RecalcBatch, RecalcScope, rules_text

NAME = "signups"
#: An account's signup reference is `signup:customer:{ledger id}` (`rules.signup`); `;` follows `:`.
REF_PREFIX = f"{SIGNUP_REASON}:customer:"


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
        owners = [(ctx.owners.account(session, wc_id), at) for (wc_id, at), _ in parsed]
        carried = signup_carried(session, [owner for owner, _ in owners])
        targets = []
        for owner, registered_at in owners:
            award = signup_points(
                self.rules,
                registered_at,
                earns_from=earns_from,
                owner_ref=f"customer:{owner}",
                earned_before=carried.get(owner),
            )
            targets.append(award_target(owner, award, SourceKind.SIGNUP, registered_at))
        mark_signups(session, [t.owner for t in targets if t.points > 0])
        return reconcile(session, ctx.store_id, targets)

    def owner_moved(self, ctx: SyncContext, session: Session, old: int, new: int) -> list[NewEntry]:
        """Another customer's balance came to `new` with the signup it carries (an account deleted
        in the store, through the email `new` has now: `ledger.customers.carry_signup`, done
        before this hook): `new`'s own signup, if it earned one, is decided again and taken back.
        An account not decided yet is decided when it is listed (`on_accounts`). Appended and
        counted here, under this source."""
        carried = signup_carried(session, [new])
        if new not in carried:
            return []
        registered_at = session.execute(
            select(func.min(PointEntry.occurred_at)).where(
                PointEntry.store_id == ctx.store_id,
                PointEntry.source_ref == f"{REF_PREFIX}{new}",
                PointEntry.kind == SourceKind.SIGNUP,
            )
        ).scalar_one_or_none()
        if registered_at is None:
            return []
        award = signup_points(
            self.rules,
            registered_at,
            earns_from=self._earns_from(ctx, session),
            owner_ref=f"customer:{new}",
            earned_before=carried[new],
        )
        target = award_target(new, award, SourceKind.SIGNUP, ctx.now)
        ctx.append(session, {NAME: reconcile(session, ctx.store_id, [target])})
        return []

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

    # -- recalculation -----------------------------------------------------------------------

    def recalculation_rules(self) -> str:
        return rules_text(self.rules)

    def recalculation_ids(self, ctx: SyncContext, scope: RecalcScope, after: int) -> list[int]:
        """The live accounts holding a signup award (its entries are on the account)."""
        query = (
            select(PointEntry.customer_id)
            .join(Customer, Customer.id == PointEntry.customer_id)
            .where(
                PointEntry.store_id == ctx.store_id,
                refs_starting(REF_PREFIX),
                PointEntry.kind == SourceKind.SIGNUP,
                PointEntry.customer_id > after,
                Customer.deleted_at.is_(None),
            )
        )
        if scope.owner is not None:
            query = query.where(PointEntry.customer_id == scope.owner)
        with ctx.tx.unit() as session:
            return sorted(set(session.execute(query.distinct()).scalars()))

    def recalculate(
        self, ctx: SyncContext, session: Session, scope: RecalcScope, ids: list[int]
    ) -> RecalcBatch:
        """Each account's signup decided under the points in force now, from the ledger alone:
        its registration time is its signup entries' date (the sync dates them so)."""
        refs = {f"{REF_PREFIX}{owner}": owner for owner in ids}
        registered = session.execute(
            select(PointEntry.source_ref, func.min(PointEntry.occurred_at))
            .where(
                PointEntry.store_id == ctx.store_id,
                PointEntry.source_ref.in_(sorted(refs)),
                PointEntry.kind == SourceKind.SIGNUP,
            )
            .group_by(PointEntry.source_ref)
        ).all()
        state = ctx.cursor_state(NAME, session)
        carried = signup_carried(session, ids)
        batch = RecalcBatch()
        for ref, registered_at in sorted((str(r), at) for r, at in registered):
            if not scope.covers(registered_at):
                continue
            earns_from = state.get("earns_from")
            award = signup_points(
                self.rules,
                registered_at,
                earns_from=datetime.fromisoformat(earns_from) if earns_from else registered_at,
                owner_ref=f"customer:{refs[ref]}",
                earned_before=carried.get(refs[ref]),
            )
            batch.targets.append(award_target(refs[ref], award, SourceKind.SIGNUP, ctx.now))
        batch.decided = len(batch.targets)
        return batch

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
    if points <= 0:
        return None
    source = SignupsSource(SignupRules(points=points))
    ctx.owner_hooks.append(lambda session, old, new: source.owner_moved(ctx, session, old, new))
    return source
