"""One writer process of the concurrency acceptance test (run as a script, not collected).

Usage: python concurrent_writer.py <db_url> <spec.json> <seed>

Once released it gets-or-creates the store and the customers (racing the other writer), then
appends the spec's entries in batches of 50, in a batch order shuffled by <seed>, one unit of work
per batch. It prints `ready` once connected and waits for a `go` line on stdin, so that the test
can release two writers at the same moment; at the end it prints {"inserted": n}.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from ledger.customers import account_customer, get_or_create_store
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.session import create_engine_for, session_scope

BATCH = 50


def _customers(engine: Engine, store_key: str, wc_ids: list[int]) -> tuple[int, dict[int, int]]:
    """The store id and ledger customer id per WooCommerce id, created by whoever comes first."""
    with session_scope(engine) as session:
        store = get_or_create_store(session, store_key)
        ids = {wc_id: account_customer(session, store.id, wc_id, None).id for wc_id in wc_ids}
        return store.id, ids


def _entries(rows: list[dict[str, Any]], customer_ids: dict[int, int]) -> list[NewEntry]:
    return [
        NewEntry(
            customer_id=customer_ids[row["wc_id"]],
            points=row["points"],
            kind=SourceKind(row["kind"]),
            source_ref=row["source_ref"],
            idempotency_key=row["idempotency_key"],
            occurred_at=datetime.fromisoformat(row["occurred_at"]),
        )
        for row in rows
    ]


def main(url: str, spec_path: str, seed: int) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    now = datetime.fromisoformat(spec["now"])
    engine = create_engine_for(url)
    engine.connect().close()  # connect (and set the pragmas) before the start signal
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 2
    store_id, customer_ids = _customers(engine, spec["store_key"], sorted(spec["wc_ids"]))
    entries = _entries(spec["entries"], customer_ids)
    batches = [entries[i : i + BATCH] for i in range(0, len(entries), BATCH)]
    random.Random(seed).shuffle(batches)
    inserted = 0
    for batch in batches:
        ordered = sorted(batch, key=lambda entry: entry.idempotency_key)
        with session_scope(engine) as session:
            inserted += len(append_entries(session, store_id, ordered, now=now))
    engine.dispose()
    print(json.dumps({"inserted": inserted}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
