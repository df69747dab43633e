"""`product_spans`, what Points Sources reads for categories and products: any range of days is
a few spans, each span holds exactly the lines of its days, and the spans move with every append,
replay and refund (on SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind as K
from ledger.models import EntryLine, ProductSpan
from ledger.product_spans import LEAF, ROOT, covering, days_of, leaf, spans_between
from ledger.rollup_checks import verify_rollups
from ledger.rollups import LinePoints
from reports.period import Period
from reports.sources import points_sources
from tests.reports.ledger_story import NOW, Story, build


def days_in(span: int) -> set[int]:
    """The ordinals a span holds, from its definition: span n holds what 2n and 2n + 1 hold."""
    return {span - LEAF} if span >= LEAF else days_in(2 * span) | days_in(2 * span + 1)


def edges(span: int) -> tuple[int, int]:
    """A span's first and last ordinal, down its leftmost and rightmost children."""
    first = last = span
    while first < LEAF:
        first, last = 2 * first, 2 * last + 1
    return first - LEAF, last - LEAF


RANGES = [
    (date(2024, 1, 5), date(2024, 1, 5)),
    (date(2024, 1, 1), date(2024, 1, 31)),
    (date(2024, 2, 1), date(2024, 3, 15)),
    (date(2023, 12, 30), date(2024, 2, 3)),
    (date(2026, 3, 3), date(2026, 5, 31)),  # the bench's 90 days
    (date(2000, 1, 1), date(2099, 12, 31)),
]


@pytest.mark.parametrize(("first", "last"), RANGES, ids=str)
def test_a_range_is_at_most_two_spans_per_level_holding_exactly_its_days(
    first: date, last: date
) -> None:
    spans = spans_between(first, last)

    levels = [LEAF.bit_length() - span.bit_length() for span in spans]
    assert all(levels.count(level) <= 2 for level in levels)
    held = [days_in(span) for span in spans]
    assert sum(len(days) for days in held) == len(set().union(*held))  # no day twice
    assert set().union(*held) == set(range(first.toordinal(), last.toordinal() + 1))


def test_open_ends_run_to_the_edge_of_the_tree() -> None:
    day = date(2024, 2, 10)
    before, after = spans_between(None, day - timedelta(days=1)), spans_between(day, None)

    assert spans_between(None, None) == [ROOT]
    assert len(before) <= 22
    assert len(after) <= 22
    stretches = sorted(edges(span) for span in before + after)
    assert stretches[0][0] == 0
    assert stretches[-1][1] == LEAF - 1
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(stretches))
    assert min(edges(span)[0] for span in after) == day.toordinal()
    assert days_of(ROOT) == "0001-01-01..9999-12-31"  # clipped: ordinal 0 is no day


def test_a_day_moves_its_leaf_and_every_span_above_it() -> None:
    spans = covering(date(2024, 1, 5))

    assert spans[0] == leaf(date(2024, 1, 5)) == LEAF + date(2024, 1, 5).toordinal()
    assert spans[-1] == ROOT
    assert len(spans) == 23
    assert all(child // 2 == parent for child, parent in itertools.pairwise(spans))
    assert days_of(spans[3]) == "2024-01-03..2024-01-10"


def lines_by_pair(session: Session, store_id: int, first: date | None, last: date | None) -> dict:
    """The oracle: the range's lines summed per (product, category), straight from the lines."""
    query = select(EntryLine.product_id, EntryLine.category_id, func.sum(EntryLine.points)).where(
        EntryLine.store_id == store_id, *Period(first, last).days(EntryLine.day)
    )
    rows = session.execute(query.group_by(EntryLine.product_id, EntryLine.category_id))
    return {(int(p), int(c)): int(s) for p, c, s in rows if s}


def spans_by_pair(session: Session, store_id: int, first: date | None, last: date | None) -> dict:
    query = select(ProductSpan.product_id, ProductSpan.category_id, func.sum(ProductSpan.points))
    query = query.where(
        ProductSpan.store_id == store_id, ProductSpan.span.in_(spans_between(first, last))
    )
    rows = session.execute(query.group_by(ProductSpan.product_id, ProductSpan.category_id))
    return {(int(p), int(c)): int(s) for p, c, s in rows if s}


def assert_spans_hold_the_lines(session: Session, store_id: int) -> None:
    assert verify_rollups(session, store_id) == []
    for first, last in [
        *RANGES,
        (None, date(2024, 1, 20)),
        (date(2024, 1, 21), None),
        (None, None),
    ]:
        expected = lines_by_pair(session, store_id, first, last)
        assert spans_by_pair(session, store_id, first, last) == expected, (first, last)
        report = points_sources(session, store_id, Period(first, last), product_limit=100)
        by_product: dict[int, int] = defaultdict(int)
        by_category: dict[int, int] = defaultdict(int)
        for (product, category), points in expected.items():
            by_product[product] += points
            by_category[category] += points
        assert {p.product_id: p.points for p in report.products} == {
            p: s for p, s in by_product.items() if s
        }
        assert {c.category_id: c.points for c in report.categories} == {
            c: s for c, s in by_category.items() if s
        }


def test_the_story_spans_are_worked_out_by_hand(session: Session) -> None:
    story = build(session)

    def stored(span: int) -> dict[tuple[int, int], int]:
        rows = session.execute(
            select(ProductSpan.product_id, ProductSpan.category_id, ProductSpan.points).where(
                ProductSpan.store_id == story.store_id, ProductSpan.span == span
            )
        )
        return {(int(p), int(c)): int(points) for p, c, points in rows}

    assert stored(leaf(date(2024, 1, 5))) == {(10, 3): 60, (20, 0): 40}
    assert stored(leaf(date(2024, 1, 20))) == {(10, 3): 50}
    assert stored(leaf(date(2024, 2, 3))) == {(10, 3): -30}
    assert stored(leaf(date(2024, 2, 10))) == {(20, 0): 40}
    assert stored(ROOT) == {(10, 3): 80, (20, 0): 80}
    assert stored(leaf(date(2024, 1, 6))) == {}
    assert_spans_hold_the_lines(session, story.store_id)


def purchase(story: Story, key: str, day: datetime, lines: list[tuple[int, int, int]]) -> NewEntry:
    return NewEntry(
        customer_id=story.bob, points=sum(p for _, _, p in lines), kind=K.PURCHASE,
        source_ref=key.split("#")[0], idempotency_key=key, occurred_at=day,
        lines=tuple(LinePoints(*line) for line in lines),
    )  # fmt: skip


def test_spans_move_with_appends_replays_and_refunds(session: Session) -> None:
    story = build(session)
    # An order dated before every other (years back: a late sync), with a product never seen.
    old = datetime(2023, 12, 30, 23, 30, tzinfo=UTC)
    order = purchase(story, "order:9#1", old, [(10, 3, 25), (30, 4, 15), (0, 0, 2)])
    assert append_entries(session, story.store_id, [order], now=NOW) == [order]
    assert_spans_hold_the_lines(session, story.store_id)
    before_replay = spans_by_pair(session, story.store_id, None, None)

    # The same batch again (a replayed sync): nothing appended, no span moves.
    assert append_entries(session, story.store_id, [order], now=NOW) == []
    assert spans_by_pair(session, story.store_id, None, None) == before_replay
    assert_spans_hold_the_lines(session, story.store_id)

    # A partial refund months later takes product 30's points back on the refund's day.
    refund = purchase(story, "order:9#2", datetime(2024, 3, 1, 8, tzinfo=UTC), [(30, 4, -15)])
    append_entries(session, story.store_id, [refund], now=NOW)
    assert_spans_hold_the_lines(session, story.store_id)
    assert spans_by_pair(session, story.store_id, None, None) == {
        (0, 0): 2, (10, 3): 105, (20, 0): 80,
    }  # fmt: skip
    assert spans_by_pair(session, story.store_id, date(2023, 12, 30), date(2023, 12, 31)) == {
        (0, 0): 2, (10, 3): 25, (30, 4): 15,
    }  # fmt: skip
    assert spans_by_pair(session, story.store_id, date(2024, 3, 1), None) == {(30, 4): -15}
