"""The reviews source: product reviews (`wc/v3/products/reviews`) earn `[rules.review]` points.

An approved review earns once per product per customer (the earliest approved one by id), within
the daily cap; the owner is the account with the `reviewer_email`, else a guest held by it, as for
guest orders. Points are revoked when the review goes to hold, spam or trash or is deleted, and
come back if it is approved again. How changes are found: `sync.activity`.
"""

from __future__ import annotations

from ledger.kinds import SourceKind
from ledger.models import TrackedActivity
from rules.review import REVIEW_REASON, Review, ReviewRules, review_points
from sync.activity import ActivitySource, ActivitySpec, deciding, kept, schedule
from sync.activity_data import REVIEW_FIELDS, parse_review
from sync.context import SyncContext

NAME = "reviews"


def reviews_source(ctx: SyncContext) -> ActivitySource | None:
    """The registry's factory: on when `[rules.review] enabled`."""
    rules = ctx.settings.review
    if not rules.enabled:
        return None
    return ActivitySource.register(ctx, review_spec(rules), ctx.client, schedule(ctx.settings))


def review_spec(rules: ReviewRules) -> ActivitySpec:
    """The reviews source under these rules."""
    return ActivitySpec(
        name=NAME,
        reason=REVIEW_REASON,
        kind=SourceKind.REVIEW,
        endpoint="products/reviews",
        decide=deciding(review_points, rules, _as_review),
        parse=parse_review,
        params={"_fields": REVIEW_FIELDS},
        rules=rules,
    )


def _as_review(row: TrackedActivity) -> Review:
    """A tracked review as `rules.review` sees it (the sync keeps the text's length, not the text)."""
    return Review(review_id=row.item_id, product_id=row.subject, verified=row.verified, **kept(row))
