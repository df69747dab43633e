"""What the sync needs from the configuration, and nothing more.

Built from the typed `Config` in one place (`loyalty.sync_settings.sync_settings`) and passed to
`sync.service.run_sync`, so that `sync/` never reads the whole configuration (nor imports
`loyalty/`). A source that needs a setting gets a field here; its default is written once, in the
config, so the fields here have none.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.comment import CommentRules
from rules.debt import DebtPolicy
from rules.expiry import ExpiryRules
from rules.pending import PendingRules
from rules.redemption import RedemptionRules
from rules.review import ReviewRules
from rules.tiers import TierRules
from rules.types import PurchaseRuleBook
from sync.client import ClientSettings
from sync.stamps import StampSettings


@dataclass(frozen=True)
class SyncSettings:
    """One store's sync: how to reach it, how to list it, and the rules the sources decide by."""

    #: The store's key in the ledger (`stores.key`) and in the sync lock.
    store_key: str
    client: ClientSettings
    database_url: str
    concurrency: int
    #: Listings start this long before their cursor (`[sync] overlap_minutes`).
    overlap_minutes: int
    #: How often a source's slower check by id runs (`[sync] reconcile_every_hours`; 0: every run).
    reconcile_every_hours: float
    #: Reviews and comments created this many days back are listed again each run (their status).
    rescan_days: int
    purchase: PurchaseRuleBook
    first_order_points: int
    review: ReviewRules
    comment: CommentRules
    #: How to reach WordPress's own API (`wp/v2`, Basic with `[wordpress]` username and
    #: Application Password); None when they are not both set.
    wordpress: ClientSettings | None
    #: `[rules.signup] points`: what a new account earns; 0 turns the signups source off.
    signup_points: int
    redemption: RedemptionRules
    balance_meta_key: str
    lifetime_meta_key: str
    #: Stamp cards (`[rewards]`): counted from the orders, rewarded, written to meta.
    stamps: StampSettings
    #: Expiry (`[expiry]`), run at most once per store day; the next expiry goes to this meta key.
    expiry: ExpiryRules
    expiring_meta_key: str
    #: What a balance below zero becomes (`[points] debt`).
    debt: DebtPolicy
    #: Pending purchase points (`[points] pending_days`), written to this meta key.
    pending: PendingRules
    pending_meta_key: str
    #: Customer tiers (`[[tiers]]`): their multipliers on purchase points; the tier's meta key.
    tiers: TierRules
    tier_meta_key: str
