"""The redemption steps of a sync run (none in a dry run): registered in `sync.sources`.

- `finish_redemptions`, before the sources: coupons of redemptions that a crash or an unreachable
  store left pending (`sync.redemptions.Redeemer.finish_pending`).
- `track_coupons`, after the sources' listings: issued coupons used, expired, deleted or refunded
  after use (`sync.redemption_lifecycle`), from the coupon codes the sources saw.
- `answer_storefront`, after the catch-up: redemption requests in customer meta, then the
  auto-issue tier (`sync.storefront`); its scan rotates with the `redeem_requests` cursor.
- `issue_stamp_rewards`, after the catch-up (and after a one-account resync): one coupon per full
  stamp card not rewarded yet (`sync.stamps.StampRewards`).
- `list_coupons`, after those: every coupon of a storefront request, the auto-issue tier or a stamp
  card that is not in its customer's `loyalty_coupons` yet, whichever run finished it
  (`sync.coupon_lists`).
"""

from __future__ import annotations

from sync.context import SyncContext, wall_clock
from sync.coupon_lists import list_coupons as list_missing_coupons
from sync.redemption_lifecycle import LifecycleCounts, track_redemptions
from sync.redemptions import Redeemer, RedemptionSettings, claim_seconds
from sync.stamps import StampRewards
from sync.storefront import Storefront

REQUESTS_CURSOR = "redeem_requests"


def redeemer(ctx: SyncContext) -> Redeemer:
    """The run's redeemer: claims last longer than one attempt's whole retry budget, and are
    timed on the clock as it runs. On the run's start (`ctx.now`), a redemption opened after a
    long catch-up was claimed until a moment already past: an admin's cancel took it while the
    sync was creating its coupon, and the customer had both the coupon and the points (found by
    a review, 4 Dec)."""
    client = ctx.settings.client
    claim = claim_seconds(client.timeout, client.max_retry_seconds)
    settings = RedemptionSettings(
        ctx.settings.redemption, claim_seconds=claim, expiry=ctx.settings.expiry
    )
    return Redeemer(ctx.client, ctx.tx.unit, ctx.store_id, settings, now=wall_clock)


def finish_redemptions(ctx: SyncContext) -> None:
    """Coupons of redemptions a crash or an unreachable store left pending: before anything."""
    if ctx.dry_run:
        return
    counts = redeemer(ctx).finish_pending()
    for name, value in vars(counts).items():
        ctx.summary.redemptions[name] = ctx.summary.redemptions.get(name, 0) + value


def track_coupons(ctx: SyncContext) -> None:
    """Issued coupons used, expired, deleted or refunded after use (sync.redemption_lifecycle);
    a stalled read stops this step alone (it ended the run, before the write-back)."""
    ctx.guard("coupons", lambda: _track_coupons(ctx))


def _track_coupons(ctx: SyncContext) -> None:
    if ctx.dry_run:
        return
    counts = LifecycleCounts()
    try:
        track_redemptions(
            ctx.client,
            ctx.tx.unit,
            ctx.store_id,
            ctx.coupon_uses,
            return_points=ctx.settings.redemption.return_points_on_expiry,
            now=ctx.now,
            store_now=ctx.store_now(),
            counts=counts,
        )
    finally:  # what committed before a stalled read is counted too
        for name, value in vars(counts).items():
            ctx.summary.redemptions[name] = value


def answer_storefront(ctx: SyncContext) -> None:
    """Redemption requests, then the auto-issue tier; a stalled listing stops this step alone."""
    ctx.guard("storefront", lambda: _answer_storefront(ctx))


def _answer_storefront(ctx: SyncContext) -> None:
    rules = ctx.settings.redemption
    if ctx.dry_run or not rules.enabled:
        return
    storefront = Storefront(
        ctx.client, ctx.tx.unit, ctx.store_id, redeemer(ctx), now=lambda: ctx.now
    )
    state = ctx.cursor_state(REQUESTS_CURSOR)
    ctx.progress.start("redemption requests")
    rotation_end = storefront.answer_requests(int(state.get("after", 0)), rules.request_scan)
    if rules.auto_issue_tier is not None:
        storefront.auto_issue(rules.auto_issue_tier)
    with ctx.tx.unit() as session:
        ctx.save_cursor(session, REQUESTS_CURSOR, None, {"after": rotation_end})
    counts = storefront.counts
    for name in ("requests", "issued", "refused", "pending"):
        ctx.summary.redemptions[f"storefront_{name}"] = getattr(counts, name)
    ctx.summary.redemptions["auto_issued"] = counts.auto_issued
    ctx.summary.errors.extend(counts.errors[:20])
    ctx.progress.finish()


def issue_stamp_rewards(ctx: SyncContext) -> None:
    """The coupons of full stamp cards, through the redeemer (listed by `list_coupons`)."""
    stamps = ctx.settings.stamps
    if ctx.dry_run or not stamps.cards:
        return
    counts = StampRewards(redeemer(ctx), ctx.tx.unit, ctx.store_id, stamps).issue_due()
    for name in ("issued", "pending", "refused"):
        ctx.summary.redemptions[f"stamp_rewards_{name}"] = getattr(counts, name)


def list_coupons(ctx: SyncContext) -> None:
    """Coupons not in their customer's `loyalty_coupons` yet, whichever run finished them; a
    stalled read stops this step alone."""
    ctx.guard("coupon lists", lambda: _list_coupons(ctx))


def _list_coupons(ctx: SyncContext) -> None:
    if ctx.dry_run:
        return
    counts = list_missing_coupons(ctx.client, ctx.tx.unit, ctx.store_id, now=ctx.now)
    if counts.listed:
        ctx.summary.redemptions["coupons_listed"] = counts.listed
    ctx.summary.errors.extend(counts.errors[:20])
