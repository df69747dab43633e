"""Activity items (product reviews, blog comments) as the sync tracks them, and the review parser.

For `sync.reviews` and `sync.comments` (which parses its own items): each item of a listing is
parsed or rejected with its reason (`InvalidSourceData` naming the field), to be quarantined.
Times come from the `_gmt` fields as aware UTC; the text is kept only as its length with tags
stripped (what `min_length` reads). An item without an owner (no account and no email) cannot
earn: it is rejected too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rules.activity import text_length
from sync.errors import InvalidSourceData
from sync.fields import gmt, holdable_email, integer, member, obj_at, text

#: The longest status string kept (`tracked_activity.status`); WordPress's are shorter.
MAX_STATUS = 16


@dataclass(frozen=True)
class Activity:
    """One review or comment as the sync keeps it. `account` is the WordPress user id (0 for a
    guest); `email` is lowercased and stripped (may be empty when `account` is set)."""

    item_id: int
    subject: int  # the product or the post
    status: str
    created_at: datetime
    text_length: int
    account: int
    email: str
    verified: bool = False
    parent: int = 0
    type: str = "comment"


#: What `parse_review` reads, asked for with `_fields` (see `sync.order_data.ORDER_FIELDS`).
REVIEW_FIELDS = "id,product_id,status,date_created_gmt,review,reviewer_email,verified"


def parse_review(raw: Any) -> Activity:
    """One item of `GET products/reviews`. The owner comes from `reviewer_email` alone."""
    obj = obj_at(raw, "")
    email = email_of(obj, "reviewer_email")
    if not email:
        raise InvalidSourceData(
            "reviewer_email: a review needs the reviewer's email to find its owner, got none",
            field="reviewer_email",
        )
    verified = member(obj, "verified", "")
    if not isinstance(verified, bool):
        raise InvalidSourceData(
            f"verified: expected true or false, got {verified!r}", field="verified"
        )
    return Activity(
        item_id=integer(member(obj, "id", ""), "id", minimum=1),
        subject=integer(member(obj, "product_id", ""), "product_id", minimum=0),
        status=status_of(obj),
        created_at=gmt(member(obj, "date_created_gmt", ""), "date_created_gmt"),
        text_length=text_length(text(member(obj, "review", ""), "review")),
        account=0,
        email=email,
        verified=verified,
    )


def email_of(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None:
        return ""
    return holdable_email(text(value, key).strip().lower(), key)


#: What WordPress and WooCommerce answer a comment's or a review's `status` as (their REST
#: controllers' `prepare_status_response`: 1 approved, 0 hold, spam, trash, else the stored value,
#: of which WordPress itself writes only `post-trashed`, for comments of a post in the trash).
STATUSES = frozenset({"approved", "hold", "spam", "trash", "post-trashed"})


def status_of(obj: Mapping[str, Any]) -> str:
    status = text(member(obj, "status", ""), "status", allow_empty=False)
    if status not in STATUSES:
        raise InvalidSourceData(
            f"status: expected one of {', '.join(sorted(STATUSES))}, got {status[:40]!r}",
            field="status",
        )
    return status
