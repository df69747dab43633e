"""The sandbox benchmark: how many 100-order pages per second the sandbox store serves.

For the team (issue 3, acceptance 7): later sync benchmarks read their timings against this, to
know the sandbox is not their bottleneck. A store of 20,000 orders (fixed seed) is generated and
served in its own process (bench/_common.py); this process then walks every page of
`orders?status=any&orderby=modified&order=asc&per_page=100` as the sync does, OAuth-signed by the
official client's signer, over keep-alive connections:

- sequentially, one client;
- with 3 clients at once, each walking every page.

Bodies are read but not decoded: the figure is the server's. The last line printed is the figures
as JSON (bench/run_all.py collects it).

    .venv/bin/python bench/bench_sandbox.py             # 20,000 orders, about a minute
    .venv/bin/python bench/bench_sandbox.py --quick     # 5,000 orders
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from woocommerce.oauth import OAuth

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Credentials, SandboxProcess

SEED = 3
PER_PAGE = 100
WALK = {"status": "any", "orderby": "modified", "order": "asc", "per_page": PER_PAGE}


@dataclass(frozen=True)
class Walk:
    pages: int
    seconds: float

    @property
    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0


def walk_all_pages(base_url: str, credentials: Credentials, pages: int) -> int:
    """Fetch pages 1..pages on one keep-alive session; returns how many answered 200."""
    session = requests.Session()
    served = 0
    for page in range(1, pages + 1):
        query = "&".join(f"{k}={v}" for k, v in {**WALK, "page": page}.items())
        url = OAuth(
            f"{base_url}/wp-json/wc/v3/orders?{query}",
            credentials.consumer_key,
            credentials.consumer_secret,
            version="wc/v3",
            method="GET",
        ).get_oauth_url()
        response = session.get(url, timeout=120)
        _ = response.content
        if response.status_code != 200:
            raise RuntimeError(
                f"page {page} answered {response.status_code}: {response.text[:200]}"
            )
        served += 1
    session.close()
    return served


def timed_walks(base_url: str, credentials: Credentials, pages: int, clients: int) -> Walk:
    """`clients` threads, each walking every page; wall time from the first start to the last end."""
    results: list[int] = []
    errors: list[BaseException] = []

    def client() -> None:
        try:
            results.append(walk_all_pages(base_url, credentials, pages))
        except BaseException as error:  # noqa: BLE001 - reported below, after the join
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"a client failed: {errors[0]}") from errors[0]
    return Walk(pages=sum(results), seconds=elapsed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--orders", type=int, default=20_000, help="orders in the store (default 20000)"
    )
    parser.add_argument("--clients", type=int, default=3, help="concurrent clients (default 3)")
    parser.add_argument("--quick", action="store_true", help="5,000 orders")
    args = parser.parse_args(argv)
    orders = 5_000 if args.quick else args.orders
    credentials = Credentials.generate()
    with SandboxProcess(
        seed=SEED, orders=orders, customers=max(1, orders // 5), credentials=credentials
    ) as shop:
        live = shop.stats.orders - shop.stats.trashed
        pages = math.ceil(live / PER_PAGE)
        print(f"sandbox: {shop.stats.orders:,} orders ({live:,} listed with status=any), generated in "
              f"{shop.stats.generate_seconds:.1f} s; {pages} pages of {PER_PAGE}")  # fmt: skip
        timed_walks(shop.base_url, credentials, 2, 1)  # warm up: imports, first connections
        one = timed_walks(shop.base_url, credentials, pages, 1)
        print(
            f"  1 client:  {one.pages_per_second:6.1f} pages/s ({one.pages} pages in {one.seconds:.1f} s)"
        )
        many = timed_walks(shop.base_url, credentials, pages, args.clients)
        print(f"  {args.clients} clients: {many.pages_per_second:6.1f} pages/s "
              f"({many.pages} pages in {many.seconds:.1f} s)")  # fmt: skip
    figures = {
        "benchmark": "sandbox",
        "orders": orders,
        "pages": pages,
        "pages_per_second_1_client": round(one.pages_per_second, 1),
        f"pages_per_second_{args.clients}_clients": round(many.pages_per_second, 1),
        "orders_per_second_1_client": round(one.pages_per_second * PER_PAGE),
    }
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
