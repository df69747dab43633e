"""Reviews and comments parsed at the edge: the owner, the date, the status and the text's length
read strictly; what cannot earn or cannot be read is refused naming the field (quarantined)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sync.activity_data import parse_review
from sync.comments import parse_comment
from sync.errors import InvalidSourceData

REVIEW = {
    "id": 7,
    "date_created_gmt": "2026-03-01T10:20:30",
    "product_id": 40,
    "status": "approved",
    "reviewer_email": " Ann@Example.ORG ",
    "review": "<p>Caf&eacute; <b>good</b></p>\n",
    "verified": True,
}
COMMENT = {
    "id": 9,
    "post": 4,
    "parent": 2,
    "author": 0,
    "author_email": "Bo@Example.org",
    "date_gmt": "2026-03-01T23:59:59",
    "content": {"raw": "Nice <em>post</em>", "rendered": "<p>Nice <em>post</em></p>\n"},
    "status": "hold",
    "type": "comment",
}


def test_a_review_is_read_with_its_owner_email_lowercased_and_its_length_without_tags() -> None:
    review = parse_review(REVIEW)
    assert (review.item_id, review.subject, review.status) == (7, 40, "approved")
    assert (review.account, review.email, review.verified) == (0, "ann@example.org", True)
    assert review.created_at == datetime(2026, 3, 1, 10, 20, 30, tzinfo=UTC)
    assert review.text_length == len("Café good")


def test_a_comment_is_read_from_the_edit_context() -> None:
    comment = parse_comment(COMMENT)
    assert (comment.item_id, comment.subject, comment.parent, comment.type) == (9, 4, 2, "comment")
    assert (comment.account, comment.email) == (0, "bo@example.org")
    assert comment.text_length == len("Nice post")


def test_an_account_comment_needs_no_email() -> None:
    comment = parse_comment({**COMMENT, "author": 12, "author_email": ""})
    assert (comment.account, comment.email) == (12, "")


@pytest.mark.parametrize("status", ["approved", "hold", "spam", "trash", "post-trashed"])
def test_every_status_wordpress_answers_is_read(status: str) -> None:
    assert parse_comment({**COMMENT, "status": status}).status == status


@pytest.mark.parametrize(
    ("parse", "item", "field"),
    [
        (parse_review, {**REVIEW, "reviewer_email": ""}, "reviewer_email"),
        (
            parse_review,
            {k: v for k, v in REVIEW.items() if k != "reviewer_email"},
            "reviewer_email",
        ),
        (parse_review, {**REVIEW, "date_created_gmt": "yesterday"}, "date_created_gmt"),
        (parse_review, {**REVIEW, "date_created_gmt": None}, "date_created_gmt"),
        (parse_review, {**REVIEW, "status": "x" * 40}, "status"),
        (parse_review, {**REVIEW, "status": "bogus"}, "status"),
        (parse_comment, {**COMMENT, "status": "unapproved"}, "status"),
        (parse_review, {**REVIEW, "verified": "yes"}, "verified"),
        (parse_review, {**REVIEW, "product_id": "40"}, "product_id"),
        (parse_comment, {**COMMENT, "author_email": ""}, "author_email"),
        (parse_comment, {k: v for k, v in COMMENT.items() if k != "author_email"}, "author_email"),
        (parse_comment, {**COMMENT, "date_gmt": "2026-02-30T10:00:00"}, "date_gmt"),
        (parse_comment, {**COMMENT, "author": -1}, "author"),
        (parse_comment, {**COMMENT, "content": "text"}, "content"),
    ],
)
def test_what_cannot_be_read_or_cannot_earn_is_refused_naming_the_field(
    parse: Any, item: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidSourceData) as refused:
        parse(item)
    assert refused.value.field == field
