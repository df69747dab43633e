"""The activity benchmark: what finding review changes costs in requests, at 10,000 reviews.

For the team and the sources issue (reviews "measure its request cost at 10,000 reviews").
WooCommerce gives reviews no modified date and a status change moves no date, so the sync lists
(see `sync.activity`): every run, the reviews created in the last `[sync] rescan_days` days (and
since the newest one seen, minus the overlap), then asks by id for the known ones that left that
listing; every `[sync] reconcile_every_hours`, all of them. This measures, on a sandbox shop with
10,000 reviews spread over a year (80% approved, 10% held, 10% spam, a fifth by guests):

1. the first sync (the whole set);
2. an incremental sync with nothing changed;
3. an incremental sync after a day's moderation: 25 new reviews, 10 status changes and 3
   deletions among the last week's, and 5 status changes of reviews older than `rescan_days`
   (which it cannot see: the next reconciliation does);
4. the reconciliation (the whole set again), which catches those 5.

Reported: requests to `products/reviews` per sync, against the naive strategy of listing every
review on every run (what the first sync costs), and whether each sync's ledger is exact (points
per review = what the rules give for the store's own data, computed here independently). The
last line printed is the figures as JSON.

    .venv/bin/python bench/bench_activity.py            # 10,000 reviews, about a minute
    .venv/bin/python bench/bench_activity.py --quick    # 1,000 reviews
"""

from __future__ import annotations

import argparse
import json
import math
import random
import secrets
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from ledger.migrate import upgrade
from ledger.models import PointEntry
from ledger.session import create_engine_for, session_scope
from loyalty.config import Config, DatabaseConfig, RulesConfig, Secret, StoreConfig
from loyalty.sync_settings import client_settings, sync_settings
from rules.review import ReviewRules
from sandbox.generator import generate_store
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.client import StoreClient
from sync.service import run_sync

SEED = 7
POINTS = 10
RESCAN_DAYS = 7
ENDPOINT = "products/reviews"


def populate(store: SandboxStore, count: int, now: datetime, rng: random.Random) -> None:
    """`count` reviews over the last year, oldest first (ids grow with time, as in WordPress)."""
    products = [p["id"] for p in store.all("products")]
    emails = [c["email"] for c in store.all("customers") if c["id"] > 1]
    moments = sorted(now - timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(count))
    with store.bulk():
        for n, moment in enumerate(moments):
            guest = rng.random() < 0.2
            email = f"guest{rng.randrange(count // 5)}@example.org" if guest else rng.choice(emails)
            status = rng.choices(("approved", "hold", "spam"), weights=(80, 10, 10))[0]
            with store.clock_at(moment):
                store.add_review(
                    product_id=rng.choice(products),
                    email=email,
                    name=f"Reviewer {n}",
                    rating=rng.randint(1, 5),
                    text="Good value.",
                    status=status,
                )


def moderate(store: SandboxStore, now: datetime, rng: random.Random) -> dict[str, int]:
    """A day in the shop: new reviews, status changes and deletions, recent and old."""
    reviews = store.all("reviews")
    recent = [r for r in reviews if _created(r) > now - timedelta(days=RESCAN_DAYS - 1)]
    old = [r for r in reviews if _created(r) < now - timedelta(days=RESCAN_DAYS + 1)]
    products = [p["id"] for p in store.all("products")]
    for n in range(25):
        store.add_review(
            product_id=rng.choice(products), email=f"new{n}@example.org", name="New", rating=5,
            text="Arrived today.", status="approved",
        )  # fmt: skip
    flip = {"approved": "spam", "hold": "approved", "spam": "approved"}
    touched = rng.sample(recent, 13)
    for review in touched[:10]:
        store.set_review_status(review["id"], flip[review["status"]])
    for review in touched[10:]:
        store.delete_review(review["id"], force=True)
    for review in rng.sample(old, 5):
        store.set_review_status(review["id"], flip[review["status"]])
    return {"new": 25, "recent_changes": 10, "recent_deletions": 3, "old_changes": 5}


def expected_points(store: SandboxStore) -> dict[str, int]:
    """Points per review from the store's own data, by the rule's definition (once per product
    per email, an account and a guest of one email being one holder: the earliest approved by id;
    no cap), independent of `rules/`."""
    earned: dict[str, int] = {}
    first: set[tuple[str, int]] = set()
    for review in sorted(store.all("reviews"), key=lambda r: r["id"]):
        key = (review["reviewer_email"].lower(), review["product_id"])
        if review["status"] == "approved" and key not in first:
            first.add(key)
            earned[f"review:{review['id']}"] = POINTS
    return earned


def ledger_points(url: str) -> dict[str, int]:
    engine = create_engine_for(url)
    with session_scope(engine) as session:
        rows = session.execute(
            select(PointEntry.source_ref, func.sum(PointEntry.points))
            .where(PointEntry.kind == "review")
            .group_by(PointEntry.source_ref)
        ).all()
    engine.dispose()
    return {ref: int(points) for ref, points in rows if points}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 reviews instead of 10,000")
    parser.add_argument("--reviews", type=int, default=None)
    args = parser.parse_args()
    count = args.reviews or (1_000 if args.quick else 10_000)
    rng = random.Random(SEED)
    now = datetime.now(UTC).replace(microsecond=0)
    store = generate_store(
        seed=SEED, anchor=now - timedelta(days=400), customers=400, orders=20, reviews=0,
        comments=0,
    )  # fmt: skip
    populate(store, count, now, rng)
    key, secret = f"ck_{secrets.token_hex(20)}", f"cs_{secrets.token_hex(20)}"
    server = SandboxServer(
        store, consumer_key=key, consumer_secret=secret, wp_username="bench",
        wp_app_password=secrets.token_hex(12),
    )  # fmt: skip
    server.start()
    figures: dict[str, Any] = {"reviews": count}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'ledger.db'}"
            upgrade(url)
            config = Config(
                store=StoreConfig(
                    url=server.base_url, consumer_key=Secret(key), consumer_secret=Secret(secret),
                    allow_insecure_http=True, max_requests_per_second=1000.0, timeout=60.0,
                ),
                database=DatabaseConfig(url=url),
                rules=RulesConfig(review=ReviewRules(enabled=True, points=POINTS)),
            )  # fmt: skip
            config = replace(config, sync=replace(config.sync, rescan_days=RESCAN_DAYS))
            reconcile = replace(config, sync=replace(config.sync, reconcile_every_hours=0))

            def measured(cfg: Config, label: str) -> int:
                assert cfg.store is not None
                client = StoreClient(client_settings(cfg.store))
                run_sync(sync_settings(cfg), client=client)
                requests = client.requests_by_endpoint().get(ENDPOINT, 0)
                exact = ledger_points(url) == expected_points(store)
                figures[label] = {"requests": requests, "exact": exact}
                print(f"{label:<28} {requests:>6,} requests to {ENDPOINT}   ledger exact: {exact}")
                return requests

            print(f"{count:,} reviews over a year (about {math.ceil(count / 100)} pages)")
            naive = measured(config, "first sync (whole set)")
            measured(config, "incremental, no change")
            changes = moderate(store, now, rng)
            print(f"moderation: {changes}")
            measured(config, "incremental after a day")
            measured(reconcile, "reconciliation (whole set)")
            figures["naive_per_run"] = naive
            figures["moderation"] = changes
    finally:
        server.stop()
    incremental = figures["incremental after a day"]["requests"]
    figures["incremental_vs_naive"] = round(incremental / figures["naive_per_run"], 3)
    print(json.dumps(figures, sort_keys=True))
    return 0


def _created(review: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(review["date_created_gmt"]).replace(tzinfo=UTC)


if __name__ == "__main__":
    sys.exit(main())
