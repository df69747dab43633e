"""One redeeming process of the concurrency acceptance test (run as a script, not collected).

Usage: python concurrent_redeemer.py <db_url> <store_url> <wc_id> <email> <threads>
(the store's keys in $LOYALTY_STORE_CONSUMER_KEY and $LOYALTY_STORE_CONSUMER_SECRET)

It prints `ready` once connected and waits for a `go` line on stdin, so that the test can release
two processes at the same moment. Then `threads` threads each ask for the 10-off tier at once; at
the end it prints {"issued": n, "refused": m, "other": [...]}.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from datetime import UTC, datetime
from decimal import Decimal

from ledger.customers import get_or_create_store
from ledger.session import create_engine_for, session_scope
from loyalty.config import StoreConfig
from loyalty.secret import Secret
from loyalty.sync_settings import make_client
from rules.redemption import RedemptionRules, RedemptionTier
from sync.redemptions import Redeemer, RedemptionRefused, RedemptionSettings, Request

RULES = RedemptionRules(tiers=(RedemptionTier("10-off", 1000, Decimal("10.00")),))


def main(db_url: str, store_url: str, wc_id: int, email: str, threads: int) -> int:
    store = StoreConfig(
        url=store_url,
        consumer_key=Secret(os.environ["LOYALTY_STORE_CONSUMER_KEY"]),
        consumer_secret=Secret(os.environ["LOYALTY_STORE_CONSUMER_SECRET"]),
        max_requests_per_second=500.0,
        allow_insecure_http=True,
    )
    engine = create_engine_for(db_url)
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, store.key).id
    redeemer = Redeemer(
        make_client(store),
        lambda: session_scope(engine),
        store_id,
        RedemptionSettings(RULES),
        now=lambda: datetime.now(UTC).replace(microsecond=0),
    )
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 2
    results: list[str] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            status = redeemer.redeem(Request(wc_id, email, tier="10-off")).status
        except RedemptionRefused:
            status = "refused"
        except Exception as error:  # noqa: BLE001 # reported to the test, which fails on it
            status = f"{type(error).__name__}: {error}"
        with lock:
            results.append(status)

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    engine.dispose()
    other = [r for r in results if r not in ("issued", "refused")]
    print(
        json.dumps(
            {"issued": results.count("issued"), "refused": results.count("refused"), "other": other}
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])))
