"""The reviews source: product reviews (`wc/v3/products/reviews`) earn `[rules.review]` points.

An approved review earns once per product per customer (the earliest approved one by id), within
the daily cap; the owner is the account with the `reviewer_email`, else a guest held by it, as for
guest orders. Points are revoked when the review goes to hold, spam or trash or is deleted, and
come back if it is approved again. How changes are found: `sync.activity`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ledger.kinds import SourceKind
from ledger.models import TrackedActivity
from rules.review import REVIEW_REASON, Review, ReviewRules, review_points
from rules.types import Award
from sync.activity import ActivitySource, ActivitySpec, schedule
from sync.activity_data import parse_review
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
        decide=_decide(rules),
        parse=parse_review,
        rules=rules,
    )


def _decide(rules: ReviewRules) -> Callable[[Sequence[TrackedActivity]], dict[int, Award]]:
    def decide(rows: Sequence[TrackedActivity]) -> dict[int, Award]:
        return review_points(
            [
                Review(
                    review_id=row.item_id,
                    product_id=row.subject,
                    status=row.status,
                    created_at=row.created_at,
                    text="",
                    verified=row.verified,
                    length=row.text_length,
                )
                for row in rows
            ],
            rules,
        )

    return decide
