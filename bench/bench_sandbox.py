"""The sandbox benchmark: what a page costs at 100,000 orders against 1,000, per query of the sync.

For the team (issue 8, acceptance 4): the sandbox must not be the bottleneck of the sync's
benchmarks, so a page has to cost about the same whatever the store's size. Two generated stores
(fixed seed; 1,000 and 100,000 orders) are served, each in its own process (bench/_common.py), at
the same time; this process then sends each kind of order listing the sync sends, OAuth-signed
over keep-alive connections, alternating between the two stores, and compares the server's own
CPU time per request (from its request log: parsing, authentication, the listing, JSON encoding;
CPU rather than wall time, so that other processes on a busy machine do not count):

- `orderby=id|date|modified` at a middle page (numbered paging, 100 a page);
- the sync's keyset step: `modified_after`/`modified_before` around 100 orders, `orderby=modified`,
  then the same with `exclude` (the ids already seen in the last second);
- the sync's tie second: the same window by `orderby=id`;
- `status=trash`, `include` (100 ids), `customer` (one customer's orders).

The target is a ratio of at most 1.5 for each. Also printed: what startup costs at each size
(generation, building the indexes, peak memory of the sandbox process) and pages per second of a
sequential walk. The last line is the figures as JSON (bench/run_all.py collects it).

    .venv/bin/python bench/bench_sandbox.py             # 1,000 vs 100,000 orders: minutes
    .venv/bin/python bench/bench_sandbox.py --quick     # 1,000 vs 10,000 orders
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from woocommerce.oauth import OAuth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Credentials, SandboxProcess

SEED = 3
SMALL, BIG, QUICK_BIG = 1_000, 100_000, 10_000
TARGET = 1.5
ROUNDS = 25
WALK_PAGES = 40


class Shop:
    """One served store and a keep-alive, OAuth-signing client for it."""

    def __init__(self, process: SandboxProcess, credentials: Credentials) -> None:
        self.process = process
        self.credentials = credentials
        self.session = requests.Session()

    def get(self, endpoint: str, params: dict[str, Any]) -> requests.Response:
        query = urlencode(params)
        url = OAuth(
            f"{self.process.base_url}/wp-json/wc/v3/{endpoint}?{query}",
            self.credentials.consumer_key,
            self.credentials.consumer_secret,
            version="wc/v3",
            method="GET",
        ).get_oauth_url()
        response = self.session.get(url, timeout=300)
        if response.status_code != 200:
            raise RuntimeError(f"{endpoint} answered {response.status_code}: {response.text[:200]}")
        return response

    def server_times(self) -> dict[str, list[float]]:
        """The server's CPU time for each tagged request since the log was cleared, by tag."""
        answer = requests.get(f"{self.process.base_url}/sandbox/requests", timeout=300)
        answer.raise_for_status()
        times: dict[str, list[float]] = defaultdict(list)
        for entry in answer.json()["entries"]:
            tag = (entry.get("query") or {}).get("bench")
            if tag:
                times[tag].append(float(entry["cpu_ms"]))
        return times


def _tag(name: str) -> str:
    return re.sub(r"\W+", "_", name)


def _second(moment: str, shift: int) -> str:
    return (datetime.fromisoformat(moment) + timedelta(seconds=shift)).isoformat()


def queries(shop: Shop) -> dict[str, dict[str, Any]]:
    """The listings to time, with parameters found in this store (a middle page, its window)."""
    live = int(shop.get("orders", {"status": "any", "per_page": 1}).headers["X-WP-Total"])
    middle = max(1, -(-live // 100) // 2)
    walk = {"status": "any", "orderby": "modified", "order": "asc", "per_page": 100}
    page = shop.get("orders", {**walk, "page": middle}).json()
    window = {
        "modified_after": _second(page[0]["date_modified_gmt"], -1),
        "modified_before": _second(page[-1]["date_modified_gmt"], 1),
        "dates_are_gmt": "true",
    }
    customer = _busiest_customer(shop, {int(o["customer_id"]) for o in page} - {0})
    return {
        "orderby=id": {**walk, "orderby": "id", "page": middle},
        "orderby=date": {**walk, "orderby": "date", "order": "desc", "page": middle},
        "orderby=modified": {**walk, "page": middle},
        "keyset window": {**walk, **window},
        "keyset + exclude": {**walk, **window, "exclude": ",".join(str(o["id"]) for o in page[:5])},
        "tie second by id": {**walk, **window, "orderby": "id"},
        "status=trash": {**walk, "status": "trash", "per_page": 5},
        "include 100 ids": {
            "status": "any",
            "orderby": "id",
            "per_page": 100,
            "include": ",".join(str(o["id"]) for o in page),
        },
        "customer": {"status": "any", "customer": customer, "per_page": 10},
    }


def _busiest_customer(shop: Shop, candidates: set[int]) -> int:
    counts = {
        cid: int(shop.get("orders", {"customer": cid, "per_page": 1}).headers["X-WP-Total"])
        for cid in sorted(candidates)[:12]
    }
    return max(counts, key=lambda cid: counts[cid])


def walk_rates(shops: list[Shop], pages: int) -> list[float]:
    """Pages per second of a sequential walk of the first `pages` pages (all full ones) of each
    store, as the client sees it; the stores take turns page by page, so both see the same machine."""
    spent = [0.0] * len(shops)
    for page in range(1, pages + 1):
        for n, shop in enumerate(shops):
            started = time.perf_counter()
            shop.get("orders", {"status": "any", "orderby": "modified", "order": "asc",
                                "per_page": 100, "page": page})  # fmt: skip
            spent[n] += time.perf_counter() - started
    return [pages / seconds for seconds in spent]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=BIG, help="orders in the big store")
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_BIG:,} orders in the big store"
    )
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="requests per query and store")
    args = parser.parse_args(argv)
    sizes = (SMALL, QUICK_BIG if args.quick else args.orders)
    credentials = Credentials.generate()
    processes = [
        SandboxProcess(seed=SEED, orders=n, customers=max(1, n // 5), credentials=credentials)
        for n in sizes
    ]
    with processes[0] as small_process, processes[1] as big_process:
        shops = [Shop(small_process, credentials), Shop(big_process, credentials)]
        for n, process in zip(sizes, (small_process, big_process), strict=True):
            s = process.stats
            print(f"sandbox of {n:,} orders: generated in {s.generate_seconds:.1f} s "
                  f"({s.generate_cpu_seconds:.1f} s CPU), indexes built in {s.index_seconds:.2f} s "
                  f"({s.index_cpu_seconds:.2f} s CPU), peak memory {s.peak_rss_mb:,.0f} MB")  # fmt: skip
        plans = [queries(shop) for shop in shops]
        for shop, plan in zip(shops, plans, strict=True):  # warm up: connections, first answers
            for params in plan.values():
                shop.get("orders", {**params, "bench": "warm-up"})
            shop.process.clear_request_log()
        for _ in range(args.rounds):
            for name in plans[0]:
                for shop, plan in zip(shops, plans, strict=True):
                    shop.get("orders", {**plan[name], "bench": _tag(name)})
        times = [shop.server_times() for shop in shops]
        full_pages = min(int(shop.get("orders", {"per_page": 1}).headers["X-WP-Total"]) // 100
                         for shop in shops)  # fmt: skip
        rates = walk_rates(shops, min(WALK_PAGES, full_pages))
    figures: dict[str, Any] = {"benchmark": "sandbox", "orders": list(sizes), "target": TARGET}
    print(
        f"\nserver CPU time per page (median of {args.rounds}), {sizes[0]:,} vs {sizes[1]:,} orders:"
    )
    worst = 0.0
    for name in plans[0]:
        tag = _tag(name)
        small_ms, big_ms = (statistics.median(t[tag]) for t in times)
        ratio = big_ms / small_ms
        worst = max(worst, ratio)
        verdict = "ok" if ratio <= TARGET else f"OVER {TARGET}"
        print(f"  {name:<18} {small_ms:7.2f} ms  {big_ms:7.2f} ms   ratio {ratio:4.2f}  {verdict}")
        figures[f"ratio {name}"] = round(ratio, 2)
    figures["worst ratio"] = round(worst, 2)
    for n, rate, process in zip(sizes, rates, (small_process, big_process), strict=True):
        print(f"  sequential walk at {n:,} orders: {rate:.1f} pages/s")
        figures[f"pages_per_second_{n}"] = round(rate, 1)
        figures[f"generate_seconds_{n}"] = process.stats.generate_seconds
        figures[f"index_seconds_{n}"] = process.stats.index_seconds
        figures[f"generate_cpu_seconds_{n}"] = process.stats.generate_cpu_seconds
        figures[f"index_cpu_seconds_{n}"] = process.stats.index_cpu_seconds
        figures[f"peak_rss_mb_{n}"] = round(process.stats.peak_rss_mb)
    print(json.dumps(figures))
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
