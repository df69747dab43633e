"""The registry: which sources a sync runs, in which order, and the steps around them.

The order is fixed and matters:

1. `customers` first, so that every later source finds its owners: a guest's points land on the
   account registered with the same email.
2. `orders` (with their refunds): purchase points and first-order bonuses.
3. `reviews`, then `comments` (when turned on), then sources added later, in the order listed.
4. `signups` (when `[rules.signup] points` > 0) has no listing of its own: the customers listing
   hands it each page of accounts (`sync.source.AccountWatcher`), so it decides during step 1.

Adding a source is a module with a class following `sync.source.Source` and a factory
`(ctx) -> Source | None` (None when its settings turn it off), plus one line in `SOURCES`.
`sync.service` runs, per run: the `BEFORE` steps; every source's `run`, then every source's
`check`; the `AFTER_SOURCES` steps; the catch-up passes (every source's `catch_up`, repeated while
one brings something new); the `AFTER_CATCH_UP` steps, last of which is the balance write-back.
A one-account resync calls every source's `resync_customer`, then the `AFTER_RESYNC` steps; a
backfill (`loyalty resync --signups --since DATE`) calls the named source's `backfill`, then the
`AFTER_RESYNC` steps.
"""

from __future__ import annotations

from sync.accounts import write_back
from sync.comments import comments_source
from sync.context import SyncContext
from sync.customer_source import customers_source
from sync.order_source import orders_source
from sync.point_life import expire_points, settle_points_debt
from sync.redemption_steps import (
    answer_storefront,
    finish_redemptions,
    issue_stamp_rewards,
    list_coupons,
    track_coupons,
)
from sync.reviews import reviews_source
from sync.signup_source import signups_source
from sync.source import Source, SourceFactory, Step
from sync.tiers import move_tiers

SOURCES: tuple[SourceFactory, ...] = (
    customers_source,
    orders_source,
    reviews_source,
    comments_source,
    signups_source,
)

BEFORE: tuple[Step, ...] = (finish_redemptions,)
AFTER_SOURCES: tuple[Step, ...] = (track_coupons,)
#: Expiry, debt and tiers settle the balances before redemptions are answered and balances written.
AFTER_CATCH_UP: tuple[Step, ...] = (
    expire_points,
    settle_points_debt,
    move_tiers,
    answer_storefront,
    issue_stamp_rewards,
    list_coupons,
    write_back,
)
AFTER_RESYNC: tuple[Step, ...] = (
    settle_points_debt,
    move_tiers,
    issue_stamp_rewards,
    list_coupons,
    write_back,
)


def enabled_sources(ctx: SyncContext) -> list[Source]:
    """The sources this run's settings turn on, built for the run, in the registry's order."""
    return [source for factory in SOURCES if (source := factory(ctx)) is not None]
