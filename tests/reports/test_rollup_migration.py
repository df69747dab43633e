"""Migrations 0005_reports, 0008_report_seeks and 0011_product_spans fill the rollups, lines,
running balances, running totals and product spans from a ledger that already has entries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from alembic import command
from sqlalchemy import select, text

from ledger.migrate import alembic_config, upgrade
from ledger.models import CustomerEarning
from ledger.rollup_checks import verify_rollups
from ledger.session import create_engine_for, session_scope
from reports.earners import Plan, ranked_in_range
from reports.history import history
from reports.period import Period, find_customer
from reports.sources import points_sources
from reports.status import points_status
from tests.ledger.schema_at import insert_store, ledger_at

JANUARY_5_TO_6 = Period(date(2024, 1, 5), date(2024, 1, 6))
ENTRIES = [
    ("order:1#1", "purchase", 100, "2024-01-05 10:00:00"),
    ("order:1#2", "purchase", -40, "2024-01-06 23:59:59"),
    ("first_order:customer:1#1", "first_order", 5, "2024-01-05 10:00:00"),
    ("adjustment:x", "adjustment", -3, "2024-02-01 00:00:00"),
]


def test_upgrading_a_ledger_with_entries_fills_rollups_that_verify(raw_db_url: str) -> None:
    engine = create_engine_for(raw_db_url)
    try:
        with ledger_at(engine, raw_db_url, "0002") as connection:
            insert_store(connection)
            connection.execute(
                text("INSERT INTO customers (id, store_id, wc_id, is_guest, created_at)"
                     " VALUES (1, 1, 7, false, :t)"),
                {"t": "2024-01-01 00:00:00"},
            )  # fmt: skip
            connection.execute(
                text("INSERT INTO balances (customer_id, store_id, balance, lifetime, updated_at)"
                     " VALUES (1, 1, 62, 65, :t)"),
                {"t": "2024-02-01 00:00:00"},
            )  # fmt: skip
            for key, kind, points, when in ENTRIES:
                connection.execute(
                    text("INSERT INTO point_entries (store_id, customer_id, points, kind,"
                         " source_ref, idempotency_key, occurred_at, recorded_at)"
                         " VALUES (1, 1, :p, :k, :r, :key, :t, :t)"),
                    {"p": points, "k": kind, "r": key.split("#")[0], "key": key,
                     "t": f"{when}+00:00" if "postgresql" in raw_db_url else when},
                )  # fmt: skip

        upgrade(raw_db_url)

        with session_scope(engine) as session:
            assert verify_rollups(session) == []
            status = points_status(session, 1, Period(), point_value=Decimal(1))
            sources = points_sources(session, 1, Period())
            customer = find_customer(session, 1, 7)
            rows = history(session, 1, Period(), customer=customer).rows
            days = session.execute(
                select(CustomerEarning.day, CustomerEarning.earned, CustomerEarning.total).order_by(
                    CustomerEarning.day
                )
            ).all()
            first_days = ranked_in_range(session, 1, JANUARY_5_TO_6, 5, plan=Plan.SEEK)
        assert (status.movements.earned, status.movements.revoked) == (105, 40)
        assert (status.movements.adjusted, status.closing) == (-3, 62)
        assert [(p.product_id, p.points) for p in sources.products] == [(0, 60)]
        # In the order the entries were recorded: +100, -40, +5, -3.
        assert [(r.points, r.balance) for r in rows] == [(-3, 62), (5, 65), (-40, 60), (100, 100)]
        assert [tuple(day) for day in days] == [
            (date(2024, 1, 5), 105, 105),
            (date(2024, 1, 6), -40, 65),
        ]
        assert first_days == [(1, 65)]
    finally:
        engine.dispose()


LINES = [  # (key, day, product, category, points): two orders, a refund, product 0 for shipping
    ("order:1#1", "2024-01-05", 10, 3, 60),
    ("order:1#1", "2024-01-05", 0, 0, 5),
    ("order:2#1", "2024-01-20", 10, 3, 50),
    ("order:2#1", "2024-01-20", 20, 0, 40),
    ("order:1#2", "2024-02-03", 10, 3, -30),
]


def test_upgrading_to_product_spans_fills_them_from_the_lines_and_back(raw_db_url: str) -> None:
    engine = create_engine_for(raw_db_url)
    config = alembic_config(raw_db_url)
    try:
        with ledger_at(engine, raw_db_url, "0010_history_tiers_coupon_lists") as connection:
            insert_store(connection)
            connection.execute(
                text("INSERT INTO customers (id, store_id, wc_id, is_guest, created_at)"
                     " VALUES (1, 1, 7, false, :t)"),
                {"t": "2024-01-01 00:00:00"},
            )  # fmt: skip
            balance = 0
            for key in dict.fromkeys(key for key, *_ in LINES):
                points = sum(p for k, *_, p in LINES if k == key)
                day = next(d for k, d, *_ in LINES if k == key)
                balance += points
                connection.execute(
                    text("INSERT INTO point_entries (store_id, customer_id, points, kind,"
                         " source_ref, idempotency_key, occurred_at, recorded_at, balance_after)"
                         " VALUES (1, 1, :p, 'purchase', :r, :key, :t, :t, :b)"),
                    {"p": points, "r": key.split("#")[0], "key": key, "b": balance,
                     "t": f"{day} 10:00:00" + ("+00:00" if "postgresql" in raw_db_url else "")},
                )  # fmt: skip
            for key, day, product, category, points in LINES:
                connection.execute(
                    text("INSERT INTO entry_lines (store_id, entry_key, source_ref, customer_id,"
                         " day, product_id, category_id, points)"
                         " VALUES (1, :key, :r, 1, :d, :p, :c, :points)"),
                    {"key": key, "r": key.split("#")[0], "d": date.fromisoformat(day),
                     "p": product, "c": category, "points": points},
                )  # fmt: skip

        upgrade(raw_db_url)

        with session_scope(engine) as session:  # (only the lines were written, not the rollups)
            assert [d for d in verify_rollups(session) if d.table == "product_spans"] == []
            january = points_sources(session, 1, Period(date(2024, 1, 1), date(2024, 1, 31)))
            always = points_sources(session, 1, Period())
        assert [(p.product_id, p.points) for p in january.products] == [(10, 110), (20, 40), (0, 5)]
        assert [(p.product_id, p.points) for p in always.products] == [(10, 80), (20, 40), (0, 5)]
        assert [(c.category_id, c.points) for c in always.categories] == [(3, 80), (0, 45)]

        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0010_history_tiers_coupon_lists")
            rows = connection.execute(
                text("SELECT day, product_id, category_id, points, lines FROM product_rollups"
                     " ORDER BY day, product_id")
            ).all()  # fmt: skip
        assert [(str(day)[:10], *rest) for day, *rest in rows] == [
            ("2024-01-05", 0, 0, 5, 1),
            ("2024-01-05", 10, 3, 60, 1),
            ("2024-01-20", 10, 3, 50, 1),
            ("2024-01-20", 20, 0, 40, 1),
            ("2024-02-03", 10, 3, -30, 1),
        ]
    finally:
        engine.dispose()
