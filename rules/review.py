"""Points for product reviews (`[rules.review]`): an approved review earns once per product per
customer; `verified_only` limits it to verified owners (rules.activity does the rest)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rules.activity import ActivityItem, ActivityRules, activity_points
from rules.types import Award

REVIEW_REASON = "review"


@dataclass(frozen=True)
class ReviewRules(ActivityRules):
    """`[rules.review]`: the activity rules (no daily cap by default) and `verified_only`."""

    points: int = 10
    verified_only: bool = False


@dataclass(frozen=True)
class Review:
    review_id: int
    product_id: int
    status: str
    created_at: datetime
    text: str
    verified: bool
    length: int | None = None  # the text's length without tags, when the text is not kept


def review_points(reviews: Iterable[Review], rules: ReviewRules) -> dict[int, Award]:
    """What each of one customer's reviews should carry now, by review id."""
    items = [
        ActivityItem(
            item_id=r.review_id,
            subject=r.product_id,
            status=r.status,
            created_at=r.created_at,
            text=r.text,
            eligible=r.verified or not rules.verified_only,
            length=r.length,
        )
        for r in reviews
    ]
    return activity_points(items, rules, reason=REVIEW_REASON)


__all__ = ["Review", "ReviewRules", "review_points"]
