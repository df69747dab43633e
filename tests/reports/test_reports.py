"""Every figure of every report over the hand-worked ledger of `ledger_story`, on both databases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from ledger.balances import list_balances, verify_balances
from ledger.entries import remember_categories
from ledger.kinds import Source
from ledger.rollup_checks import verify_rollups
from reports.customers import top_customers
from reports.expiring import ExpiringTotal, expiring_customers, expiring_total, warning_window
from reports.history import BadCursor, history
from reports.period import Period, find_customer
from reports.products import product_customers
from reports.sources import CategoryRow, ProductRow, points_sources
from reports.status import Granularity, Movements, points_status
from reports.tiers import tier_distribution, tier_moves
from tests.reports.ledger_story import FEB_TO_MID_MARCH, Story, build

VALUE = Decimal("0.01")
RANGE = Period(*FEB_TO_MID_MARCH)


@pytest.fixture
def story(session: Session) -> Story:
    return build(session)


def test_the_story_ledger_verifies(session: Session, story: Story) -> None:
    assert verify_balances(session) == []
    assert verify_rollups(session) == []


def test_status_over_a_range_balances_with_every_bucket(session: Session, story: Story) -> None:
    report = points_status(session, story.store_id, RANGE, point_value=VALUE)

    assert report.opening == 150
    assert report.movements == Movements(
        earned=55, revoked=30, redeemed=60, expired=5, adjusted=-20, transferred=0, pending=25
    )
    assert report.closing == 90
    assert report.opening + 55 - 30 - 60 - 5 - 20 + 0 == report.closing
    assert report.balanced
    assert report.pending_outstanding == 25
    assert report.liability == Decimal("0.90")
    assert [(p.start, p.movements, p.closing) for p in report.periods] == [
        (date(2024, 2, 1), Movements(earned=55, revoked=30), 175),
        (
            date(2024, 3, 1),
            Movements(redeemed=60, expired=5, adjusted=-20, transferred=0, pending=25),
            90,
        ),
    ]


def test_status_over_all_time_closes_at_the_sum_of_the_cached_balances(
    session: Session, story: Story
) -> None:
    report = points_status(session, story.store_id, Period(), point_value=VALUE)

    assert report.opening == 0
    assert report.movements == Movements(
        earned=205, revoked=30, redeemed=50, expired=5, adjusted=-20, transferred=0, pending=25
    )
    assert (
        report.closing == 100 == sum(row.balance for row in list_balances(session, story.store_id))
    )
    assert report.balanced
    assert report.liability == Decimal("1.00")


def test_status_by_day_and_week(session: Session, story: Story) -> None:
    march = Period(date(2024, 3, 1), date(2024, 3, 3))
    by_day = points_status(session, story.store_id, march, point_value=VALUE)
    weekly = points_status(
        session, story.store_id, march, point_value=VALUE, granularity=Granularity.WEEK
    )
    daily = points_status(
        session, story.store_id, march, point_value=VALUE, granularity=Granularity.DAY
    )

    assert by_day.opening == 175
    assert [(p.start, p.closing) for p in daily.periods] == [
        (date(2024, 3, 1), 155),
        (date(2024, 3, 2), 155),
    ]
    assert [(p.start, p.closing) for p in weekly.periods] == [(date(2024, 2, 26), 155)]


def test_sources_with_their_shares_categories_and_products(session: Session, story: Story) -> None:
    report = points_sources(session, story.store_id, RANGE)

    rows = {row.source: (row.earned, row.revoked, row.net, row.share) for row in report.sources}
    assert rows == {
        Source.PURCHASE: (40, 30, 10, Decimal("0.4211")),
        Source.REVIEW: (10, 0, 10, Decimal("0.1053")),
        Source.COMMENT: (0, 0, 0, Decimal("0.0000")),
        Source.SIGNUP: (0, 0, 0, Decimal("0.0000")),
        Source.BONUS: (5, 0, 5, Decimal("0.0526")),
        Source.ADJUSTMENT: (0, 20, -20, Decimal("0.0000")),
        Source.TRANSFER: (40, 40, 0, Decimal("0.4211")),
    }
    assert [row.source for row in report.sources] == list(rows)
    assert report.total_earned == 95
    assert report.categories == [
        CategoryRow(0, 40, Decimal("1.0000")),
        CategoryRow(3, -30, Decimal("0.0000")),
    ]
    assert report.products == [ProductRow(20, "Shampoo", 40), ProductRow(10, "Haircut", -30)]


def test_sources_over_all_time_by_product(session: Session, story: Story) -> None:
    report = points_sources(session, story.store_id, Period(), product_limit=1)

    assert (report.sources[0].earned, report.sources[0].revoked) == (190, 30)
    assert report.categories == [  # a tie: the lower category id first
        CategoryRow(0, 80, Decimal("0.5000")),
        CategoryRow(3, 80, Decimal("0.5000")),
    ]
    assert report.products == [ProductRow(10, "Haircut", 80)]  # a tie: the lower id, limit 1


def test_categories_carry_their_names_once_the_sync_has_read_them(
    session: Session, story: Story
) -> None:
    before = points_sources(session, story.store_id, Period()).categories
    remember_categories(session, story.store_id, {3: "Hair care", 4: "Unused"})
    after = points_sources(session, story.store_id, Period()).categories

    assert [(row.category_id, row.name) for row in before] == [(0, ""), (3, "")]
    assert [(row.category_id, row.name) for row in after] == [(0, ""), (3, "Hair care")]


def test_top_customers_rank_by_earned_not_by_balance(session: Session, story: Story) -> None:
    all_time = top_customers(session, story.store_id, Period(), limit=5)
    in_range = top_customers(session, story.store_id, RANGE, limit=5)

    assert [(t.rank, t.customer_id, t.email, t.earned, t.earning_orders, t.balance, t.lifetime)
            for t in all_time] == [
        (1, 8, "bob@example.com", 95, 2, 45, 95),
        (2, 7, "alice@example.com", 80, 1, 55, 80),
    ]  # fmt: skip
    assert [(t.customer_id, t.earned) for t in in_range] == [(8, 45)]
    assert [t.customer_id for t in top_customers(session, story.store_id, Period(), limit=1)] == [8]


def test_history_pages_by_keyset_with_the_running_balance(session: Session, story: Story) -> None:
    alice = find_customer(session, story.store_id, 7)
    pages = []
    cursor = None
    while True:
        page = history(session, story.store_id, Period(), customer=alice, limit=2, cursor=cursor)
        pages.append(
            [(r.occurred_at.date().isoformat(), r.kind, r.points, r.balance) for r in page.rows]
        )
        cursor = page.next_cursor
        if cursor is None:
            break

    # Tier moves sit right above the entry they follow, with no points and its balance; a page
    # may end on one and the next page goes on from it.
    assert pages == [
        [("2024-03-12", "expiry", -5, 55), ("2024-03-01", "adjustment", -20, 60)],
        [("2024-02-11", "review", 10, 80), ("2024-02-03", "tier_move", 0, 70)],
        [("2024-02-03", "purchase", -30, 70), ("2024-01-05", "tier_move", 0, 100)],
        [("2024-01-05", "purchase", 100, 100)],
    ]


def test_history_of_the_store_shows_sources_references_notes_and_skips_pending_in_balances(
    session: Session, story: Story
) -> None:
    page = history(session, story.store_id, Period(date(2024, 3, 10), None), limit=10)

    assert [(r.customer_id, r.source, r.reference, r.points, r.note, r.balance) for r in page.rows] == [
        (8, "redemption", "redemption:1", 10, "redemption +10", 45),
        (8, "purchase", "order:4", 25, "pending +25", 35),
        (7, "expiry", "expiry:1", -5, "expiry -5", 55),
        (8, "redemption", "redemption:1", -60, "redemption -60", 35),
    ]  # fmt: skip
    assert page.next_cursor is None
    by_email = find_customer(session, story.store_id, "GUEST@example.com")
    guest_page = history(session, story.store_id, Period(), customer=by_email)
    assert [(r.customer_id, r.points, r.balance) for r in guest_page.rows] == [
        (None, -40, 0),
        (None, 40, 40),
    ]


def test_a_forged_history_cursor_is_refused(session: Session, story: Story) -> None:
    with pytest.raises(BadCursor, match="not a history cursor"):
        history(session, story.store_id, Period(), cursor="bm90LWEtY3Vyc29y")


def test_per_product_lists_the_customers_who_earned_on_each(session: Session, story: Story) -> None:
    rows = product_customers(session, story.store_id, Period())
    haircut = product_customers(session, story.store_id, RANGE, product_id=10)

    assert [(r.product_id, r.name, r.email, r.points, r.purchases) for r in rows] == [
        (10, "Haircut", "bob@example.com", 50, 1),
        (10, "Haircut", "alice@example.com", 30, 1),
        (20, "Shampoo", "alice@example.com", 40, 1),
        (20, "Shampoo", "guest@example.com", 40, 1),
    ]
    assert haircut == []  # in the range alice's haircut only lost points (a refund)


def test_the_life_of_a_point_expiring_points_and_tiers_held_worked_out_by_hand(
    session: Session, story: Story
) -> None:
    from_april = Period(date(2024, 4, 1), None)
    fortnight = warning_window(date(2024, 4, 1), 14)

    assert expiring_total(session, story.store_id, from_april) == ExpiringTotal(75, 2)
    assert expiring_total(session, story.store_id, fortnight) == ExpiringTotal(30, 1)
    assert [(e.email, e.points, e.date, e.balance) for e in
            expiring_customers(session, story.store_id, from_april)] == [
        ("alice@example.com", 30, date(2024, 4, 10), 55),
        ("bob@example.com", 45, date(2024, 5, 1), 45),
    ]  # fmt: skip

    def held(end: date | None) -> list[tuple[str | None, int]]:
        rows = tier_distribution(session, story.store_id, Period(None, end))
        return [(t.tier, t.customers) for t in rows]

    assert held(None) == [("silver", 1), (None, 1)]  # bob silver; alice moved down
    assert held(date(2024, 1, 31)) == [("silver", 1)]  # alice, before her refund
    assert held(date(2024, 2, 10)) == [(None, 1)]
    assert held(date(2024, 1, 4)) == []
    moves = tier_moves(session, story.store_id, RANGE)
    assert [(m.email, m.before, m.after) for m in moves] == [
        ("bob@example.com", None, "silver"),
        ("alice@example.com", "silver", None),
    ]
