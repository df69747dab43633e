"""The life of points after they are earned, as steps of the sync (`sync.sources` lists them):
expiry at most once per store day, and points debt settled, before redemptions are answered and
balances written back. Both are no-ops when their settings turn them off.
"""

from __future__ import annotations

from sync.context import SyncContext
from sync.debt import settle_debts
from sync.expiry import expire_if_due


def expire_points(ctx: SyncContext) -> None:
    """Expire what is due on the store's day (its clock: `ctx.window_end()`), once per day."""
    rules = ctx.settings.expiry
    if not rules.enabled:
        return
    with ctx.tx.unit() as session:
        run = expire_if_due(
            session,
            ctx.store_id,
            rules,
            store_day=ctx.window_end().date(),
            now=ctx.now,
            dry_run=ctx.dry_run,
            progress=ctx.progress,
        )
    if run is None:
        return
    # a dry run appends nothing: it counts what it would append, as the sources do
    entries = run.planned if ctx.dry_run else run.appended
    counts = ctx.counts("expiry")
    counts.seen += run.customers_seen
    counts.entries += entries
    taken = run.planned_points if ctx.dry_run else run.appended_points
    counts.net_points -= taken
    ctx.summary.entries_appended += entries
    ctx.summary.net_points -= taken


def settle_points_debt(ctx: SyncContext) -> None:
    """Balances that went below zero, and recorded debt with points to pay it, per [points] debt."""
    with ctx.tx.unit() as session:
        settled = settle_debts(session, ctx.store_id, ctx.settings.debt, now=ctx.now)
    ctx.record(settled, "debt" if settled else None)  # counted under "debt" once it did something
