"""Reports on big ledgers: each report's time at 100,000 and at 1,000,000 entries (50,000
customers), on SQLite and PostgreSQL, and the ratio; history page 1 against page 1,000.

Targets (ratios measured in one run, never in a timed test): each report at 1M / at 100k <= 2;
history page 1,000 / page 1 <= 1.5.

The ledger is seeded over two years of days: purchases (1-3 products each, 200 products in 20
categories) and their refunds, reviews, first-order bonuses, adjustments, redemptions, expiry and
pending points, and tier moves (one after about one entry in 20, which Points History lists beside
the entries). It is built to 100k entries, measured, then grown to 1M and measured again. Each
timing is the median of 5 warm runs. To build 1M entries in minutes on a shared 2-core machine, the
entries and lines are bulk-inserted and the rollups and balances then recomputed in SQL (what
migrations 0005, 0008 and 0011 do), and `verify_rollups` checks the result; the append path's own
cost is measured separately, on the last 20,000 entries, written through `append_entries` in batches of
500 (rollups, lines and balances moving with them, as in a sync).

    .venv/bin/python bench/bench_reports.py                    # SQLite and PostgreSQL, 100k and 1M
    .venv/bin/python bench/bench_reports.py --quick            # 30k and 100k
    .venv/bin/python bench/bench_reports.py --only sqlite
    .venv/bin/python bench/bench_reports.py --only postgres --explain   # and history's plans
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, String, case, delete, func, insert, literal, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from ledger.customers import get_or_create_store
from ledger.entries import NewEntry, append_entries, remember_products
from ledger.kinds import SourceKind as K
from ledger.migrate import upgrade
from ledger.models import (
    Balance,
    Customer,
    CustomerEarning,
    EntryLine,
    PointEntry,
    PointRollup,
    ProductCustomerSum,
    ProductSpan,
    TierEvent,
)
from ledger.product_spans import LEAF, ROOT, leaf_in_sql
from ledger.rollup_checks import verify_rollups
from ledger.rollups import LinePoints, entry_day, utc_day
from ledger.session import create_engine_for, refresh_planner_statistics, session_scope
from ledger.types import UTCDateTime
from reports.customers import top_customers as top
from reports.history import HistoryRow, decode_cursor, encode_cursor, history, page_statement
from reports.period import Period
from reports.products import product_customers
from reports.sources import points_sources
from reports.status import points_status

POSTGRES_URL = os.environ.get(
    "LOYALTY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CUSTOMERS = 50_000
PRODUCTS = 200
DAYS = 730
FIRST_DAY = date(2024, 6, 1)
PAGE = 50
BATCH = 5_000
RUNS = 5
NOW = datetime(2026, 6, 1, tzinfo=UTC)
LAST_90 = Period(FIRST_DAY + timedelta(days=DAYS - 90), FIRST_DAY + timedelta(days=DAYS - 1))


def kind_mix(rng: random.Random) -> K:
    roll = rng.random()
    for kind, upto in ((K.PURCHASE, 0.78), (K.REVIEW, 0.83), (K.FIRST_ORDER, 0.86),
                       (K.ADJUSTMENT, 0.88), (K.REDEMPTION, 0.93), (K.EXPIRY, 0.95)):  # fmt: skip
        if roll < upto:
            return kind
    return K.PENDING


def entries(start: int, count: int, customer_ids: list[int], rng: random.Random) -> list[NewEntry]:
    made = []
    for n in range(start, start + count):
        kind = kind_mix(rng)
        day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
        moment = datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60),
                          tzinfo=UTC)  # fmt: skip
        points = rng.randint(5, 400)
        lines: tuple[LinePoints, ...] = ()
        if kind is K.PURCHASE:
            points = points if rng.random() > 0.1 else -points  # some refunds
            products = rng.sample(range(1, PRODUCTS + 1), rng.randint(1, 3))
            shares = [points // len(products)] * len(products)
            shares[0] += points - sum(shares)
            lines = tuple(
                LinePoints(p, 1 + p % 20, s) for p, s in zip(products, shares, strict=True) if s
            )
        elif kind in (K.REDEMPTION, K.EXPIRY) or (kind is K.ADJUSTMENT and rng.random() < 0.5):
            points = -points
        made.append(
            NewEntry(
                customer_id=rng.choice(customer_ids),
                points=points,
                kind=kind,
                source_ref=f"{kind.value}:{n}",
                idempotency_key=f"{kind.value}:{n}#1",
                occurred_at=moment,
                note=f"bench entry {n}",
                lines=lines,
            )
        )
    return made


VERIFY_SECONDS: dict[int, float] = {}  # verify_rollups' time per ledger size (run once, not timed)
APPENDED = 20_000  # the last entries of each size go through append_entries, timed
APPEND_BATCH = 500


def grow(engine: Engine, store_id: int, customer_ids: list[int], have: int, want: int,
         rng: random.Random) -> float:  # fmt: skip
    """Bulk-insert up to `want - APPENDED`, recompute the rollups, then append the rest through
    `append_entries`; returns that append path's entries per second."""
    bulk_until = want - APPENDED
    with session_scope(engine, readonly=True) as session:
        running = {
            int(c): int(b) for c, b in session.execute(select(Balance.customer_id, Balance.balance))
        }
    while have < bulk_until:
        count = min(BATCH, bulk_until - have)
        made = entries(have, count, customer_ids, rng)
        with session_scope(engine) as session:
            _bulk_insert(session, store_id, made, running)
        have += count
        print(f"\r  {have:>9,} entries", end="", file=sys.stderr, flush=True)
    with session_scope(engine) as session:
        _recompute_rollups(session, store_id)
    started = time.perf_counter()
    while have < want:
        made = entries(have, APPEND_BATCH, customer_ids, rng)
        with session_scope(engine) as session:
            append_entries(session, store_id, made, now=NOW)
        have += APPEND_BATCH
    rate = APPENDED / (time.perf_counter() - started)
    with session_scope(engine) as session:
        _add_tier_moves(session, store_id)
    print(f"\r  {have:>9,} entries", file=sys.stderr)
    started = time.perf_counter()
    with session_scope(engine) as session:
        problems = verify_rollups(session, store_id)
        assert not problems, problems[:5]
    VERIFY_SECONDS[have] = time.perf_counter() - started
    with session_scope(engine) as session:
        refresh_planner_statistics(session)
    return rate


def _add_tier_moves(session: Session, store_id: int) -> None:
    """A tier move after about one entry in 20 not yet followed by one (a customer's first such
    entry of a moment), placed after that entry as `ledger.tiers.record_moves` places them."""
    done = session.execute(select(func.coalesce(func.max(TierEvent.entry_id), 0))).scalar_one()
    picked = (
        select(PointEntry.customer_id, PointEntry.occurred_at, func.min(PointEntry.id).label("id"))
        .where(PointEntry.store_id == store_id, PointEntry.id > done, PointEntry.id % 20 == 0)
        .group_by(PointEntry.customer_id, PointEntry.occurred_at)
        .subquery()
    )
    session.execute(
        insert(TierEvent).from_select(
            ["store_id", "customer_id", "at", "before", "after", "recorded_at", "entry_id"],
            select(literal(store_id), picked.c.customer_id, picked.c.occurred_at,
                   literal(None, String()), literal("silver"), literal(NOW, UTCDateTime()),
                   picked.c.id),
        )
    )  # fmt: skip


def _bulk_insert(session: Session, store_id: int, made: list[NewEntry],
                 running: dict[int, int]) -> None:  # fmt: skip
    """Entries in the order given (ids follow it), each with its customer's running balance, and
    their lines."""
    rows = []
    for e in made:
        if e.kind.counts_toward_balance:
            running[e.customer_id] = running.get(e.customer_id, 0) + e.points
        rows.append(
            {"store_id": store_id, "customer_id": e.customer_id, "points": e.points,
             "kind": e.kind.value, "source_ref": e.source_ref, "idempotency_key": e.idempotency_key,
             "rule_version": None, "occurred_at": e.occurred_at, "recorded_at": NOW, "note": e.note,
             "balance_after": running.get(e.customer_id, 0)}
        )  # fmt: skip
    connection = session.connection()
    connection.execute(insert(PointEntry.__table__), rows)
    lines = [
        {"store_id": store_id, "entry_key": e.idempotency_key, "source_ref": e.source_ref,
         "customer_id": e.customer_id, "day": utc_day(e.occurred_at), "product_id": line.product_id,
         "category_id": line.category_id, "points": line.points}
        for e in made for line in e.lines
    ]  # fmt: skip
    if lines:
        connection.execute(insert(EntryLine.__table__), lines)


def _recompute_rollups(session: Session, store_id: int) -> None:
    """The rollups and balances from the entries and lines, in SQL (as migrations 0005, 0008 and
    0011 do)."""
    for model in (PointRollup, ProductSpan, Balance, CustomerEarning, ProductCustomerSum):
        session.execute(delete(model).where(model.store_id == store_id))
    day = entry_day(session, PointEntry.occurred_at)
    source = case(*((PointEntry.kind == k.value, k.source.value) for k in K), else_=PointEntry.kind)
    positive = func.sum(case((PointEntry.points > 0, PointEntry.points), else_=0))
    negative = func.sum(case((PointEntry.points < 0, PointEntry.points), else_=0))
    session.execute(
        insert(PointRollup).from_select(
            ["store_id", "day", "kind", "source", "credit", "debit", "entries"],
            select(PointEntry.store_id, day, PointEntry.kind, source, positive, negative,
                   func.count())
            .where(PointEntry.store_id == store_id)
            .group_by(PointEntry.store_id, day, PointEntry.kind),
        )
    )  # fmt: skip
    session.execute(
        insert(ProductSpan).from_select(
            ["store_id", "span", "product_id", "category_id", "points"],
            select(EntryLine.store_id, leaf_in_sql(session, EntryLine.day), EntryLine.product_id,
                   EntryLine.category_id, func.sum(EntryLine.points))
            .where(EntryLine.store_id == store_id)
            .group_by(EntryLine.store_id, EntryLine.day, EntryLine.product_id,
                      EntryLine.category_id),
        )
    )  # fmt: skip
    first = LEAF
    while first > ROOT:  # each level of spans from the one below, as migration 0011 does
        child = ProductSpan
        parent = child.span // 2  # one expression: PostgreSQL matches the GROUP BY to it
        session.execute(
            insert(ProductSpan).from_select(
                ["store_id", "span", "product_id", "category_id", "points"],
                select(child.store_id, parent, child.product_id, child.category_id,
                       func.sum(child.points))
                .where(child.store_id == store_id, child.span >= first, child.span < 2 * first)
                .group_by(child.store_id, parent, child.product_id, child.category_id),
            )
        )  # fmt: skip
        first //= 2
    lifetime_kinds = [k.value for k in K if k.counts_toward_lifetime]
    daily = (
        select(PointEntry.customer_id, day.label("day"), PointEntry.store_id,
               func.sum(PointEntry.points).label("earned"))
        .where(PointEntry.store_id == store_id, PointEntry.kind.in_(lifetime_kinds))
        .group_by(PointEntry.customer_id, day, PointEntry.store_id)
        .subquery()
    )  # fmt: skip
    session.execute(
        insert(CustomerEarning).from_select(
            ["customer_id", "day", "store_id", "earned", "total"],
            select(daily.c.customer_id, daily.c.day, daily.c.store_id, daily.c.earned,
                   func.sum(daily.c.earned).over(partition_by=daily.c.customer_id,
                                                 order_by=daily.c.day)),
        )
    )  # fmt: skip
    session.execute(
        insert(ProductCustomerSum).from_select(
            ["store_id", "product_id", "customer_id", "points", "purchases"],
            select(EntryLine.store_id, EntryLine.product_id, EntryLine.customer_id,
                   func.sum(EntryLine.points), func.count(func.distinct(EntryLine.source_ref)))
            .where(EntryLine.store_id == store_id)
            .group_by(EntryLine.store_id, EntryLine.product_id, EntryLine.customer_id),
        )
    )  # fmt: skip
    spendable = [k.value for k in K if k.counts_toward_balance]
    lifetime = [k.value for k in K if k.counts_toward_lifetime]
    session.execute(
        insert(Balance).from_select(
            ["customer_id", "store_id", "balance", "lifetime", "updated_at"],
            select(PointEntry.customer_id, PointEntry.store_id,
                   func.sum(case((PointEntry.kind.in_(spendable), PointEntry.points), else_=0)),
                   func.sum(case((PointEntry.kind.in_(lifetime), PointEntry.points), else_=0)),
                   literal(NOW, UTCDateTime()))
            .where(PointEntry.store_id == store_id)
            .group_by(PointEntry.customer_id, PointEntry.store_id),
        )
    )  # fmt: skip


def make_customers(engine: Engine) -> tuple[int, list[int]]:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "bench.example.com").id
        session.execute(
            insert(Customer),
            [{"store_id": store_id, "wc_id": i, "email": f"c{i}@example.com", "is_guest": False,
              "created_at": NOW} for i in range(1, CUSTOMERS + 1)],
        )  # fmt: skip
        remember_products(session, store_id, {p: f"Product {p}" for p in range(1, PRODUCTS + 1)})
    with session_scope(engine, readonly=True) as session:
        ids = list(session.execute(select(Customer.id).order_by(Customer.id)).scalars())
    return store_id, ids


def median_ms(action: Callable[[], Any]) -> float:
    action()  # warm
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(engine: Engine, store_id: int) -> dict[str, float]:
    with session_scope(engine, readonly=True) as session:
        offset_cursor = _cursor_at_page(session, store_id, 1000)
        busiest = session.execute(
            select(PointEntry.customer_id).where(PointEntry.store_id == store_id)
            .group_by(PointEntry.customer_id).order_by(func.count().desc()).limit(1)
        ).scalar_one()  # fmt: skip
        customer = session.get(Customer, busiest)
        value = Decimal("0.01")
        reports: dict[str, Callable[[], Any]] = {
            "status (all time, by month)": lambda: points_status(session, store_id, Period(), point_value=value),
            "status (last 90 days, by month)": lambda: points_status(session, store_id, LAST_90, point_value=value),
            "sources (all time)": lambda: points_sources(session, store_id, Period()),
            "sources (last 90 days)": lambda: points_sources(session, store_id, LAST_90),
            "top 50 (all time)": lambda: top(session, store_id, Period(), limit=50),
            "top 50 (last 90 days)": lambda: top(session, store_id, LAST_90, limit=50),
            "history page 1": lambda: history(session, store_id, Period(), limit=PAGE),
            "history page 1,000": lambda: history(session, store_id, Period(), limit=PAGE, cursor=offset_cursor),
            "history of one customer": lambda: history(session, store_id, Period(), customer=customer, limit=PAGE),
            "products (one product, 100 customers)": lambda: product_customers(
                session, store_id, Period(), product_id=7, limit=100),
        }  # fmt: skip
        if EXPLAIN and session.get_bind().dialect.name == "postgresql":
            _explain(session, store_id, offset_cursor, customer)
        return {name: median_ms(action) for name, action in reports.items()}


EXPLAIN = False


def _explain(session: Session, store_id: int, cursor: str, customer: Customer | None) -> None:
    """PostgreSQL's plans of history page 1,000's keys and of one customer's first page: each
    side an index scan from the cursor, stopped by its limit; the two short lists merged."""
    position, tie, row_id = decode_cursor(cursor)
    assert customer is not None
    for title, statement in (
        ("page 1,000", page_statement(False, tie, False, False).params(
            owner=store_id, n=PAGE + 1, position=position, row_id=row_id)),
        ("one customer", page_statement(True, None, False, False).params(
            owner=customer.id, n=PAGE + 1)),
    ):  # fmt: skip
        sql = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        plan = session.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}")).scalars()
        print(f"\n  EXPLAIN history {title}:\n    " + "\n    ".join(plan), file=sys.stderr)


def _cursor_at_page(session: Session, store_id: int, page: int) -> str:
    """The cursor that opens page `page` (set-up only: found with an OFFSET, never timed)."""
    row = session.execute(
        select(PointEntry.occurred_at, PointEntry.id).where(PointEntry.store_id == store_id)
        .order_by(PointEntry.id.desc()).offset((page - 1) * PAGE - 1).limit(1)
    ).one()  # fmt: skip
    return encode_cursor(HistoryRow(row.id, row.occurred_at, None, None, "", "", "", 0, "", 0))


def run_database(name: str, url: str, sizes: tuple[int, int]) -> dict[str, Any]:
    upgrade(url)
    engine = create_engine_for(url)
    rng = random.Random(20241)
    try:
        store_id, customer_ids = make_customers(engine)
        small, big = sizes
        rate_small = grow(engine, store_id, customer_ids, 0, small, rng)
        at_small = measure(engine, store_id)
        rate_big = grow(engine, store_id, customer_ids, small, big, rng)
        at_big = measure(engine, store_id)
    finally:
        engine.dispose()
    print(f"\n{name}: append_entries wrote {rate_small:,.0f} entries/s at {small:,} and"
          f" {rate_big:,.0f} entries/s at {big:,} (batches of {APPEND_BATCH}, rollups included)")  # fmt: skip
    print(f"  {'report':<40} {f'{small:,}':>10} {f'{big:,}':>10}  ratio")
    figures: dict[str, Any] = {
        "append_entries_per_second": {"small": round(rate_small), "big": round(rate_big)}
    }
    for report in at_small:
        ratio = at_big[report] / at_small[report]
        print(f"  {report:<40} {at_small[report]:>8.2f}ms {at_big[report]:>8.2f}ms  {ratio:5.2f}")
        figures[report] = {"small_ms": round(at_small[report], 2), "big_ms": round(at_big[report], 2),
                           "ratio": round(ratio, 2)}  # fmt: skip
    pages = at_big["history page 1,000"] / at_big["history page 1"]
    print(f"  history page 1,000 / page 1 at {big:,}: {pages:.2f} (target <= 1.5)")
    figures["history_page_1000_over_page_1"] = round(pages, 2)
    verify = {size: round(VERIFY_SECONDS[size], 2) for size in (small, big)}
    print(f"  verify_rollups (once, not a target): {verify[small]}s at {small:,},"
          f" {verify[big]}s at {big:,}")  # fmt: skip
    figures["verify_rollups_seconds"] = verify
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30k and 100k entries, pages of 5")
    parser.add_argument("--only", choices=("sqlite", "postgres"))
    parser.add_argument("--explain", action="store_true", help="print history's plan (PostgreSQL)")
    args = parser.parse_args()
    global EXPLAIN
    EXPLAIN = args.explain
    sizes = (30_000, 100_000) if args.quick else (100_000, 1_000_000)
    if args.quick:  # page 1,000 must exist at 30k entries
        global PAGE
        PAGE = 5
    results: dict[str, Any] = {"sizes": sizes}
    if args.only in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            results["sqlite"] = run_database("SQLite", f"sqlite:///{folder}/bench.db", sizes)
    if args.only in (None, "postgres"):
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = create_engine_for(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        try:
            results["postgres"] = run_database(
                "PostgreSQL", url.render_as_string(hide_password=False), sizes
            )
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
