"""Points for blog comments (`[rules.comment]`): an approved comment of type `comment` earns once
per post per customer; `replies = false` leaves replies out. Review comments (type `review`) are
reviews, decided by rules.review, never counted twice (rules.activity does the rest)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rules.activity import ActivityItem, ActivityRules, activity_points
from rules.types import Award

COMMENT_REASON = "comment"


@dataclass(frozen=True)
class CommentRules(ActivityRules):
    """`[rules.comment]`: the activity rules (at most 3 a day by default) and `replies`."""

    points: int = 5
    max_per_day: int = 3  # per customer, UTC day; 0 = no cap
    replies: bool = True


@dataclass(frozen=True)
class Comment:
    comment_id: int
    post_id: int
    status: str
    created_at: datetime
    text: str
    type: str = "comment"
    parent: int = 0  # the comment it replies to; 0 for a top-level comment
    length: int | None = None  # the text's length without tags, when the text is not kept


def comment_points(comments: Iterable[Comment], rules: CommentRules) -> dict[int, Award]:
    """What each of one customer's comments should carry now, by comment id (type `comment` only:
    other types are left out of the answer, they are not this source's)."""
    items = [
        ActivityItem(
            item_id=c.comment_id,
            subject=c.post_id,
            status=c.status,
            created_at=c.created_at,
            text=c.text,
            eligible=rules.replies or c.parent == 0,
            length=c.length,
        )
        for c in comments
        if c.type == "comment"
    ]
    return activity_points(items, rules, reason=COMMENT_REASON)
