"""What the reports seek through instead of scanning the entries — each entry's `balance_after`,
`customer_earnings` (running totals per customer and day), `product_customers`, `product_spans` —
gives the figures the entries give, stays right when entries arrive out of date order or from
concurrent writers, and `loyalty verify` catches any of it tampered with. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

import ledger.entries as entries_module
from ledger.balances import verify_balances
from ledger.customers import account_customer, get_or_create_store
from ledger.entries import NewEntry, append_entries
from ledger.errors import ConcurrentAppend
from ledger.kinds import SourceKind as K
from ledger.models import CustomerEarning
from ledger.product_spans import leaf
from ledger.rollup_checks import verify_rollups
from ledger.rollups import LinePoints
from ledger.session import session_scope
from ledger.tiers import record_moves
from reports.customers import top_customers
from reports.earners import Plan, ranked_in_range
from reports.history import history
from reports.period import Period, find_customer
from reports.products import product_customers
from tests.reports.ledger_story import FEB_TO_MID_MARCH, NOW, Story, build

RANGES = [
    Period(*FEB_TO_MID_MARCH),  # ends before the last day with entries: two seeks per customer
    Period(date(2024, 1, 1), date(2024, 1, 31)),
    Period(None, date(2024, 2, 10)),
    Period(date(2024, 2, 12), None),  # open end: the cached lifetime, one seek per customer
    Period(date(2024, 3, 2), date(2024, 3, 2)),
    Period(date(2024, 3, 16), date(2024, 12, 31)),
]


@pytest.fixture
def story(session: Session) -> Story:
    return build(session)


def test_the_running_totals_per_customer_and_day_are_worked_out_by_hand(
    session: Session, story: Story
) -> None:
    rows = session.execute(
        select(CustomerEarning.customer_id, CustomerEarning.day, CustomerEarning.earned,
               CustomerEarning.total).order_by(CustomerEarning.customer_id, CustomerEarning.day)
    ).all()  # fmt: skip
    a, b, g = story.alice, story.bob, story.guest

    assert [tuple(row) for row in rows] == [
        (a, date(2024, 1, 5), 100, 100),
        (a, date(2024, 2, 3), -30, 70),
        (a, date(2024, 2, 11), 10, 80),
        (b, date(2024, 1, 20), 50, 50),
        (b, date(2024, 2, 15), 5, 55),
        (b, date(2024, 3, 2), 40, 95),
        (g, date(2024, 2, 10), 40, 40),
        (g, date(2024, 3, 2), -40, 0),
    ]


@pytest.mark.parametrize("period", RANGES, ids=str)
def test_top_over_a_range_is_the_same_by_seeking_totals_and_by_grouping_entries(
    session: Session, story: Story, period: Period
) -> None:
    sought = ranked_in_range(session, story.store_id, period, 10, plan=Plan.SEEK)

    assert sought == ranked_in_range(session, story.store_id, period, 10, plan=Plan.GROUP)
    assert sought == ranked_in_range(session, story.store_id, period, 10)  # the plan it picks


def test_top_over_ranges_worked_out_by_hand(session: Session, story: Story) -> None:
    def top(period: Period) -> list[tuple[int | None, int]]:
        return [(t.customer_id, t.earned) for t in top_customers(session, story.store_id, period)]

    assert top(Period(date(2024, 1, 1), date(2024, 1, 31))) == [(7, 100), (8, 50)]
    assert top(Period(None, date(2024, 2, 10))) == [(7, 70), (8, 50), (None, 40)]
    assert top(Period(date(2024, 2, 12), None)) == [(8, 45)]  # the guest's -40 is left out
    assert top(Period(date(2024, 3, 16), date(2024, 12, 31))) == []


def test_an_entry_dated_before_the_others_moves_every_later_total(
    session: Session, story: Story
) -> None:
    late = NewEntry(
        customer_id=story.alice, points=7, kind=K.REVIEW, source_ref="review:9",
        idempotency_key="review:9#1", occurred_at=datetime(2024, 1, 1, 9, tzinfo=UTC),
        note="recorded late",
    )  # fmt: skip
    append_entries(session, story.store_id, [late], now=NOW)

    totals = session.execute(
        select(CustomerEarning.day, CustomerEarning.total)
        .where(CustomerEarning.customer_id == story.alice)
        .order_by(CustomerEarning.day)
    ).all()
    assert [tuple(row) for row in totals] == [
        (date(2024, 1, 1), 7),
        (date(2024, 1, 5), 107),
        (date(2024, 2, 3), 77),
        (date(2024, 2, 11), 87),
    ]
    assert verify_rollups(session) == []
    for period in RANGES:
        assert ranked_in_range(session, story.store_id, period, 10, plan=Plan.SEEK) == (
            ranked_in_range(session, story.store_id, period, 10, plan=Plan.GROUP)
        )
    # History is in the order the ledger recorded: the late entry comes first, and its balance is
    # the balance after everything recorded before it.
    alice = find_customer(session, story.store_id, 7)
    rows = history(session, story.store_id, Period(), customer=alice).rows
    assert [(r.reference, r.occurred_at.date(), r.points, r.balance) for r in rows[:2]] == [
        ("review:9", date(2024, 1, 1), 7, 62),
        ("expiry:1", date(2024, 3, 12), -5, 55),
    ]


@pytest.mark.parametrize("limit", [1, 3])
def test_history_balances_chain_through_every_page(
    session: Session, story: Story, limit: int
) -> None:
    # a second move after the same entry as bob's first (his next entry is on 2024-03-10)
    record_moves(
        session, story.store_id, [(story.bob, datetime(2024, 3, 3, tzinfo=UTC), "silver", "gold")],
        now=NOW,
    )  # fmt: skip
    rows = []
    cursor = None
    while True:
        page = history(session, story.store_id, Period(), limit=limit, cursor=cursor)
        rows += page.rows
        if (cursor := page.next_cursor) is None:
            break

    # Entries in recorded order, each tier move right above the entry it follows; 13 + 3 rows.
    assert [(r.position, r.is_event) for r in rows] == sorted(
        ((r.position, r.is_event) for r in rows), reverse=True
    )
    assert [r.reference.split(":")[0] for r in rows if r.is_event] == ["tier_event"] * 4
    # bob's two moves sit right above the transfer they follow, the later one first
    at = next(i for i, r in enumerate(rows) if r.email == "bob@example.com" and r.is_event)
    assert [(r.tier_from, r.tier_to, r.balance) for r in rows[at : at + 2]] == [
        ("silver", "gold", 95), (None, "silver", 95)
    ]  # fmt: skip
    assert (rows[at + 2].reference, rows[at + 2].entry_id) == ("transfer:guest", rows[at].position)
    assert len(rows) == 17
    by_customer: dict[str | None, list[tuple[str, int, int]]] = {}
    for r in rows:
        by_customer.setdefault(r.email, []).append((r.kind, r.points, r.balance))
    for chain in by_customer.values():  # newest first: each balance minus its points is the next
        for (kind, points, balance), (_, _, older) in itertools.pairwise(chain):
            assert balance - (0 if kind in ("pending", "tier_move") else points) == older
        kind, points, balance = chain[-1]
        assert balance == (0 if kind == "pending" else points)


def test_per_product_over_all_time_reads_the_same_figures_as_the_lines(
    session: Session, story: Story
) -> None:
    everything = Period(date(2000, 1, 1), date(2100, 1, 1))  # a range: grouped from the lines

    assert product_customers(session, story.store_id, Period()) == (
        product_customers(session, story.store_id, everything)
    )
    assert product_customers(session, story.store_id, Period(), product_id=20, limit=1) == (
        product_customers(session, story.store_id, everything, product_id=20, limit=1)
    )


TAMPERING = {
    "a running total": (
        "UPDATE customer_earnings SET total = total + 1 WHERE day = '2024-02-03'",
        "customer_earnings.total",
    ),
    "a day's earnings": (
        "UPDATE customer_earnings SET earned = earned + 1 WHERE day = '2024-01-20'",
        "customer_earnings",
    ),
    "a missing day": (
        "DELETE FROM customer_earnings WHERE day = '2024-02-15'",
        "customer_earnings",
    ),
    "a product's points for a customer": (
        "UPDATE product_customers SET points = points + 1 WHERE product_id = 20",
        "product_customers",
    ),
    "a product's purchases for a customer": (
        "UPDATE product_customers SET purchases = 2 WHERE product_id = 10",
        "product_customers",
    ),
    "a product's day": (
        f"UPDATE product_spans SET points = points - 1 WHERE span = {leaf(date(2024, 1, 20))}",
        "product_spans",
    ),
    "a product's span of days": (
        f"UPDATE product_spans SET points = points + 1 WHERE span = {leaf(date(2024, 1, 5)) // 64}",
        "product_spans",
    ),
    "a product's all time": (
        "UPDATE product_spans SET points = 0 WHERE span = 1 AND product_id = 20",
        "product_spans",
    ),
    "a missing span": (
        f"DELETE FROM product_spans WHERE span = {leaf(date(2024, 2, 10)) // 2}",
        "product_spans",
    ),
    "an entry's balance after it": (
        "UPDATE point_entries SET balance_after = balance_after + 1"
        " WHERE idempotency_key = 'review:1#1'",
        "point_entries.balance_after",
    ),
}


@pytest.mark.parametrize("tampering", TAMPERING.values(), ids=list(TAMPERING))
def test_verify_finds_each_tampered_structure(
    session: Session, story: Story, tampering: tuple[str, str]
) -> None:
    statement, table = tampering
    session.execute(text(statement))

    differences = verify_rollups(session, story.store_id)

    assert differences, statement
    assert {d.table for d in differences} <= {table, "customer_earnings", "customer_earnings.total"}
    assert table in {d.table for d in differences}


def test_a_key_recorded_meanwhile_for_another_customer_stops_the_batch(
    session: Session, story: Story, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a concurrent writer can still do under the balance locks: record the same key for
    # another customer between our check and our insert. Simulated by hiding the recorded keys.
    monkeypatch.setattr(entries_module, "_recorded_keys", lambda *_: set())
    same_key = NewEntry(
        customer_id=story.bob, points=10, kind=K.REVIEW, source_ref="review:1",
        idempotency_key="review:1#1", occurred_at=NOW,
    )  # fmt: skip

    with pytest.raises(ConcurrentAppend, match="1 of 1 entries were recorded meanwhile"):
        append_entries(session, story.store_id, [same_key], now=NOW)


def test_concurrent_writers_on_the_same_customers_neither_deadlock_nor_break_the_chain(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "https://race.example.com").id
        ids = [account_customer(session, store_id, n, f"c{n}@example.com").id for n in range(1, 7)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def writer(name: str, seed: int) -> None:
        rng = random.Random(seed)
        try:
            start.wait()
            for batch in range(8):
                made = []
                for customer in rng.sample(ids, 4):  # a different order each time
                    points = rng.choice([5, -3, 40])
                    made.append(
                        NewEntry(
                            customer_id=customer, points=points, kind=K.PURCHASE,
                            source_ref=f"order:{name}{batch}-{customer}",
                            idempotency_key=f"order:{name}{batch}-{customer}#1",
                            occurred_at=datetime(2024, 1, 1 + rng.randrange(28), tzinfo=UTC),
                            lines=(LinePoints(1, 0, points),),
                        )
                    )  # fmt: skip
                with session_scope(engine) as session:
                    append_entries(session, store_id, made, now=NOW)
        except BaseException as error:  # noqa: BLE001 - handed to the test thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n, s)) for n, s in (("a", 1), ("b", 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    with session_scope(engine, readonly=True) as session:
        assert verify_balances(session, store_id) == []
        assert verify_rollups(session, store_id) == []
