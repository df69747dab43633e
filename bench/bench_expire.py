"""The expiry benchmark: `loyalty expire` over a big ledger (issue 13, acceptance 7).

For the team. For each size (by default 100,000 lots of 5,000 customers, then 1,000,000 lots of
50,000 customers: 20 earning lots each over two years, and one redemption per customer) a fresh
ledger is filled with a fixed seed straight through SQL, and then, each in a subprocess:

- `loyalty expire --json` (per-lot mode, 365 days, as of the fixed day the history ends): the
  first, real run, which appends the expiry entries;
- the same command again: a replay, which must append nothing.

Reported per size: seconds and entries appended for both runs; then the ratio of the real run's
time at the larger size ÷ at the smaller (linear would be 10). The last line printed is the
figures as JSON.

    .venv/bin/python bench/bench_expire.py              # full size, a few minutes
    .venv/bin/python bench/bench_expire.py --quick      # 10,000 and 100,000 lots
    .venv/bin/python bench/bench_expire.py --postgres   # also on PostgreSQL
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from ledger.migrate import upgrade  # noqa: E402 - after the path is set
from ledger.models import Customer, PointEntry, Store  # noqa: E402

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
LOTS_PER_CUSTOMER = 20
SEED = 13
CHUNK = 10_000
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def fill(url: str, customers: int) -> int:
    """A store, `customers` accounts with 20 lots and one redemption each; returns entries."""
    rng = random.Random(SEED)
    engine = create_engine(url)
    now = AS_OF
    with engine.begin() as connection:
        store_id = connection.execute(
            insert(Store).values(key="bench.example.com", created_at=now).returning(Store.id)
        ).scalar_one()
        rows = [
            {"store_id": store_id, "wc_id": n, "email": f"c{n}@example.com", "is_guest": False,
             "created_at": now}
            for n in range(1, customers + 1)
        ]  # fmt: skip
        for start in range(0, len(rows), CHUNK):
            connection.execute(insert(Customer), rows[start : start + CHUNK])
        ids = [row[0] for row in connection.execute(text("SELECT id FROM customers ORDER BY id"))]
    entries = 0
    batch: list[dict[str, Any]] = []
    for customer_id in ids:
        earned = 0
        for lot in range(LOTS_PER_CUSTOMER):
            points = rng.randint(10, 500)
            earned += points
            when = AS_OF - timedelta(days=rng.randint(1, 730), seconds=rng.randint(0, 86399))
            ref = f"order:{customer_id}-{lot}"
            batch.append(_row(store_id, customer_id, points, "purchase", ref, f"{ref}#1", when))
        spent = rng.randint(0, earned)
        if spent:
            when = AS_OF - timedelta(days=rng.randint(1, 365))
            ref = f"redemption:{uuid.UUID(int=rng.getrandbits(128))}"
            batch.append(_row(store_id, customer_id, -spent, "redemption", ref, ref, when))
        if len(batch) >= CHUNK:
            entries += _insert(engine, batch)
    entries += _insert(engine, batch)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO balances (customer_id, store_id, balance, lifetime, updated_at)"
                " SELECT customer_id, store_id, SUM(points),"
                " SUM(CASE WHEN kind = 'purchase' THEN points ELSE 0 END), :now"
                " FROM point_entries GROUP BY customer_id, store_id"
            ),
            {"now": now},
        )
    engine.dispose()
    return entries


def _row(store_id: int, customer_id: int, points: int, kind: str, ref: str, key: str,
         when: datetime) -> dict[str, Any]:  # fmt: skip
    return {
        "store_id": store_id, "customer_id": customer_id, "points": points, "kind": kind,
        "source_ref": ref, "idempotency_key": key, "rule_version": None, "occurred_at": when,
        "recorded_at": when, "note": None,
    }  # fmt: skip


def _insert(engine: Any, batch: list[dict[str, Any]]) -> int:
    if not batch:
        return 0
    with engine.begin() as connection:
        connection.execute(insert(PointEntry), batch)
    count = len(batch)
    batch.clear()
    return count


def expire(config: Path) -> tuple[float, dict[str, Any]]:
    command = [sys.executable, "-m", "loyalty.cli", "--config", str(config), "expire", "--json",
               "--as-of", AS_OF.date().isoformat()]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=HERE.parent)
    if done.returncode:
        raise SystemExit(f"loyalty expire failed ({done.returncode}): {done.stderr.strip()}")
    return time.perf_counter() - started, json.loads(done.stdout)["total"]


def measure(url: str, customers: int, workdir: Path) -> dict[str, Any]:
    upgrade(url)
    started = time.perf_counter()
    entries = fill(url, customers)
    filled = time.perf_counter() - started
    config = workdir / f"bench-{customers}.toml"
    config.write_text(
        '[store]\nurl = "https://bench.example.com"\nconsumer_key = "ck_bench"\n'
        f'consumer_secret = "cs_bench"\n[database]\nurl = "{url}"\n'
        '[expiry]\nenabled = true\nmode = "per_lot"\ndays = 365\nwarn_days = 30\n',
        encoding="utf-8",
    )
    first_s, first = expire(config)
    replay_s, replay = expire(config)
    figures = {
        "customers": customers, "entries": entries, "fill_s": round(filled, 1),
        "expire_s": round(first_s, 2), "appended": first["entries_appended"],
        "expired_points": first["expired_points"], "replay_s": round(replay_s, 2),
        "replay_appended": replay["entries_appended"],
    }  # fmt: skip
    print(json.dumps(figures), flush=True)
    return figures


def _postgres_url(schema: str) -> str:
    engine = create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{POSTGRES}?options=-csearch_path%3D{schema}"


def _drop_schema(schema: str) -> None:
    engine = create_engine(POSTGRES)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 and 100,000 lots")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    args = parser.parse_args()
    sizes = (500, 5_000) if args.quick else (5_000, 50_000)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        dialects = ["sqlite", "postgres"] if args.postgres else ["sqlite"]
        for dialect in dialects:
            runs = []
            for customers in sizes:
                if dialect == "sqlite":
                    runs.append(
                        measure(f"sqlite:///{workdir}/ledger-{customers}.db", customers, workdir)
                    )
                    continue
                schema = f"bench_expire_{uuid.uuid4().hex[:8]}"
                try:
                    runs.append(measure(_postgres_url(schema), customers, workdir))
                finally:
                    _drop_schema(schema)
            small, big = runs
            results[dialect] = {
                "runs": runs,
                "ratio_time_big_over_small": round(big["expire_s"] / small["expire_s"], 2),
                "size_ratio": big["entries"] / small["entries"],
            }
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
