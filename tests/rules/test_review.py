"""Review points: one table per option of [rules.review], decided over one customer's reviews."""

from __future__ import annotations

import re
import signal
from datetime import UTC, datetime

import pytest

from rules.activity import strip_tags, text_length
from rules.review import Review, ReviewRules, review_points

DAY = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ON = ReviewRules(enabled=True, points=10)


def review(
    review_id: int,
    *,
    product: int | None = None,
    status: str = "approved",
    at: datetime = DAY,
    text: str = "Lovely mug.",
    verified: bool = True,
) -> Review:
    return Review(
        review_id=review_id,
        product_id=product if product is not None else review_id,
        status=status,
        created_at=at,
        text=text,
        verified=verified,
    )


def points(reviews: list[Review], rules: ReviewRules = ON) -> dict[int, int]:
    return {rid: award.points for rid, award in review_points(reviews, rules).items()}


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (ReviewRules(), {1: 0}),  # enabled = false by default
        (ReviewRules(enabled=True), {1: 10}),  # points = 10 by default
        (ReviewRules(enabled=True, points=25), {1: 25}),
        (ReviewRules(enabled=True, points=0), {1: 0}),
    ],
)
def test_enabled_and_points(rules: ReviewRules, expected: dict[int, int]) -> None:
    assert points([review(1)], rules) == expected


@pytest.mark.parametrize(
    ("status", "earned"),
    [("approved", 10), ("hold", 0), ("spam", 0), ("trash", 0), ("deleted", 0)],
)
def test_only_an_approved_review_earns(status: str, earned: int) -> None:
    assert points([review(1, status=status)]) == {1: earned}


@pytest.mark.parametrize(
    ("verified_only", "verified", "earned"),
    [(False, False, 10), (False, True, 10), (True, False, 0), (True, True, 10)],
)
def test_verified_only(verified_only: bool, verified: bool, earned: int) -> None:
    rules = ReviewRules(enabled=True, verified_only=verified_only)
    assert points([review(1, verified=verified)], rules) == {1: earned}


@pytest.mark.parametrize(
    ("min_length", "text", "earned"),
    [
        (0, "", 10),
        (5, "Good", 0),
        (5, "Great", 10),
        (5, "<p><strong>Good</strong></p>\n", 0),  # tags stripped: 4 characters
        (5, "<p>Great</p>", 10),
        (5, "  Good  ", 0),
        (6, "Caf&eacute;!", 0),  # entities decoded: "Café!" is 5 characters, not 12
    ],
)
def test_min_length_counts_text_without_tags(min_length: int, text: str, earned: int) -> None:
    rules = ReviewRules(enabled=True, min_length=min_length)
    assert points([review(1, text=text)], rules) == {1: earned}


def test_text_length_strips_tags_and_decodes_entities() -> None:
    assert text_length("<p>Caf&eacute;</p>\n") == 4


@pytest.mark.parametrize(
    "text",
    ["", "plain", "<p>a</p>", "a<b<c>d", "a<b", "<<<", ">>a<", "x<y>z<", "<a><b>c</b", "1 < 2 > 0"],
)
def test_tags_are_stripped_as_the_pattern_did(text: str) -> None:
    assert strip_tags(text) == re.sub(r"<[^>]*>", "", text)


def test_a_text_of_unclosed_angle_brackets_is_measured_in_one_pass() -> None:
    """From a review (4 Dec): `<[^>]*>` scanned to the end of the text from every `<` that no `>`
    follows, so a review of 100,000 `<` took 6 s to measure and a few MB hours: a hostile store
    hung the sync inside one page. One pass measures 4 MB at once; the alarm (60 s, thousands of
    times what it takes) turns a return of the quadratic scan into a failure, not a hung run."""

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("text_length did not return: the scan is not linear")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        assert text_length("<" * 4_000_000) == 4_000_000
        assert text_length("<" * 2_000_000 + ">") == 0
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("reviews", "expected"),
    [
        # once per product: the earliest approved review by id earns
        ([review(1, product=7), review(2, product=7)], {1: 10, 2: 0}),
        ([review(2, product=7), review(1, product=7)], {1: 10, 2: 0}),
        # an earlier one that is not approved leaves the place to the next
        ([review(1, product=7, status="spam"), review(2, product=7)], {1: 0, 2: 10}),
        ([review(1, product=7), review(2, product=8)], {1: 10, 2: 10}),
    ],
)
def test_once_per_product(reviews: list[Review], expected: dict[int, int]) -> None:
    assert points(reviews) == expected


CAPPED = ReviewRules(enabled=True, max_per_day=2)


@pytest.mark.parametrize(
    ("reviews", "expected"),
    [
        # max_per_day = 0: no cap
        ([review(i) for i in (1, 2, 3)], {1: 10, 2: 10, 3: 10}),
    ],
)
def test_no_cap_by_default(reviews: list[Review], expected: dict[int, int]) -> None:
    assert points(reviews) == expected


@pytest.mark.parametrize(
    ("reviews", "expected"),
    [
        # the first two of the day by date earn, whatever order they arrive in
        (
            [review(3, at=DAY.replace(hour=8)), review(1, at=DAY.replace(hour=10)), review(2)],
            {1: 0, 2: 10, 3: 10},
        ),
        # same second: by id
        ([review(5), review(4), review(6)], {4: 10, 5: 10, 6: 0}),
        # one that stops qualifying frees its place
        ([review(4, status="trash"), review(5), review(6)], {4: 0, 5: 10, 6: 10}),
        # UTC days: 23:59 and 00:00 are different days
        (
            [
                review(1, at=DAY.replace(hour=23, minute=59)),
                review(2, at=DAY.replace(hour=23, minute=59)),
                review(3, at=datetime(2026, 3, 2, 0, 0, tzinfo=UTC)),
            ],
            {1: 10, 2: 10, 3: 10},
        ),
        # a second review of the same product takes no place under the cap
        (
            [review(1, product=9), review(2, product=9), review(3), review(4)],
            {1: 10, 2: 0, 3: 10, 4: 0},
        ),
    ],
)
def test_max_per_day_is_exact_under_reordering(
    reviews: list[Review], expected: dict[int, int]
) -> None:
    assert points(reviews, CAPPED) == expected
    assert points(list(reversed(reviews)), CAPPED) == expected


def test_awards_are_keyed_by_review_and_explained() -> None:
    awards = review_points([review(1), review(2, status="spam")], ON)
    assert awards[1].key == "review:1"
    assert awards[1].explanation == "approved review"
    assert awards[2].points == 0
    assert "status spam" in awards[2].explanation


@pytest.mark.parametrize(("length", "earned"), [(4, 0), (5, 10), (None, 0)])
def test_min_length_reads_a_kept_length_when_the_text_is_not_kept(
    length: int | None, earned: int
) -> None:
    rules = ReviewRules(enabled=True, min_length=5)
    kept = Review(1, 7, "approved", DAY, text="", verified=True, length=length)
    assert points([kept], rules) == {1: earned}
