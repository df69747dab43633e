"""Comment points: one table per option of [rules.comment], decided over one customer's comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.comment import Comment, CommentRules, comment_points

DAY = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ON = CommentRules(enabled=True)


def comment(
    comment_id: int,
    *,
    post: int | None = None,
    status: str = "approved",
    at: datetime = DAY,
    text: str = "Nice post.",
    kind: str = "comment",
    parent: int = 0,
) -> Comment:
    return Comment(
        comment_id=comment_id,
        post_id=post if post is not None else comment_id,
        status=status,
        created_at=at,
        text=text,
        type=kind,
        parent=parent,
    )


def points(comments: list[Comment], rules: CommentRules = ON) -> dict[int, int]:
    return {cid: award.points for cid, award in comment_points(comments, rules).items()}


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (CommentRules(), {1: 0}),  # enabled = false by default
        (CommentRules(enabled=True), {1: 5}),  # points = 5 by default
        (CommentRules(enabled=True, points=8), {1: 8}),
    ],
)
def test_enabled_and_points(rules: CommentRules, expected: dict[int, int]) -> None:
    assert points([comment(1)], rules) == expected


@pytest.mark.parametrize(
    ("status", "earned"), [("approved", 5), ("hold", 0), ("spam", 0), ("trash", 0)]
)
def test_only_an_approved_comment_earns(status: str, earned: int) -> None:
    assert points([comment(1, status=status)]) == {1: earned}


@pytest.mark.parametrize(
    ("kind", "expected"), [("comment", {1: 5}), ("review", {}), ("pingback", {})]
)
def test_only_type_comment_counts_review_comments_never_twice(
    kind: str, expected: dict[int, int]
) -> None:
    assert points([comment(1, kind=kind)]) == expected


@pytest.mark.parametrize(
    ("replies", "parent", "earned"), [(True, 0, 5), (True, 3, 5), (False, 0, 5), (False, 3, 0)]
)
def test_replies(replies: bool, parent: int, earned: int) -> None:
    rules = CommentRules(enabled=True, replies=replies)
    assert points([comment(1, parent=parent)], rules) == {1: earned}


@pytest.mark.parametrize(
    ("min_length", "text", "earned"),
    [(0, "", 5), (9, "<p>Too short</p>", 5), (10, "<b>Short</b>", 0)],
)
def test_min_length_counts_text_without_tags(min_length: int, text: str, earned: int) -> None:
    rules = CommentRules(enabled=True, min_length=min_length)
    assert points([comment(1, text=text)], rules) == {1: earned}


@pytest.mark.parametrize(
    ("comments", "expected"),
    [
        ([comment(1, post=4), comment(2, post=4)], {1: 5, 2: 0}),
        ([comment(1, post=4, status="hold"), comment(2, post=4)], {1: 0, 2: 5}),
    ],
)
def test_once_per_post(comments: list[Comment], expected: dict[int, int]) -> None:
    assert points(comments) == expected


@pytest.mark.parametrize(
    ("max_per_day", "expected"),
    [
        (3, {1: 5, 2: 5, 3: 5, 4: 0}),  # the default
        (0, {1: 5, 2: 5, 3: 5, 4: 5}),  # 0 = no cap
        (1, {1: 5, 2: 0, 3: 0, 4: 0}),
    ],
)
def test_max_per_day_first_of_the_day_by_date_then_id(
    max_per_day: int, expected: dict[int, int]
) -> None:
    rules = CommentRules(enabled=True, max_per_day=max_per_day)
    arriving = [comment(4), comment(3, at=DAY - timedelta(hours=1)), comment(2), comment(1)]
    # by date: 3 first (an hour earlier), then 1, 2, 4 in the same second by id
    assert points(arriving, rules) == {
        3: expected[1],
        1: expected[2],
        2: expected[3],
        4: expected[4],
    }


@pytest.mark.parametrize(("status", "earned"), [("deleted", 0), ("approved", 5)])
def test_a_deleted_comment_earns_nothing(status: str, earned: int) -> None:
    assert points([comment(1, status=status)]) == {1: earned}


@pytest.mark.parametrize(
    ("comments", "expected"),
    [
        # one that stops qualifying (spam, too short, a reply not counted) frees its place
        ([comment(1, status="spam"), comment(2), comment(3)], {1: 0, 2: 5, 3: 5}),
        ([comment(1, text="x"), comment(2), comment(3)], {1: 0, 2: 5, 3: 5}),
        ([comment(1, parent=9), comment(2), comment(3)], {1: 0, 2: 5, 3: 5}),
        # a second comment on the same post takes no place under the cap
        ([comment(1, post=4), comment(2, post=4), comment(3)], {1: 5, 2: 0, 3: 5}),
    ],
)
def test_max_per_day_is_exact_under_reordering(
    comments: list[Comment], expected: dict[int, int]
) -> None:
    rules = CommentRules(enabled=True, max_per_day=2, min_length=2, replies=False)
    assert points(comments, rules) == expected
    assert points(list(reversed(comments)), rules) == expected


def test_min_length_reads_a_kept_length_when_the_text_is_not_kept() -> None:
    rules = CommentRules(enabled=True, min_length=5)
    kept = [
        Comment(1, 1, "approved", DAY, "", length=4),
        Comment(2, 2, "approved", DAY, "", length=5),
    ]
    assert points(kept, rules) == {1: 0, 2: 5}
