"""Migration 0013: where each merged customer's points went, from its transfer pair, or, for a
move of a zero balance (no pair), from the email as the ledger read it before."""

from __future__ import annotations

from sqlalchemy import text

from ledger.migrate import upgrade
from ledger.session import create_engine_for
from tests.ledger.schema_at import insert_store, ledger_at

CUSTOMERS = [  # id, wc_id, email, is_guest, deleted
    (1, None, "g@example.com", True, False),  # registered as 2: its 50 moved (a transfer pair)
    (2, 12, "g@example.com", False, False),
    (3, None, "z@example.com", True, False),  # registered as 4 with nothing to move: no pair
    (4, 14, "z@example.com", False, False),
    (5, 15, "d@example.com", False, True),  # deleted: its 20 went to the guest of its email
    (6, None, "d@example.com", True, False),
    (7, None, "lone@example.com", True, False),  # a guest that never registered
]
TRANSFERS = [(1, "transfer:guest:1", -50), (2, "transfer:guest:1", 50)]
TRANSFERS += [(5, "transfer:deleted:5", -20), (6, "transfer:deleted:5", 20)]


def test_each_merged_customer_names_who_received_its_points(raw_db_url: str) -> None:
    engine = create_engine_for(raw_db_url)
    try:
        with ledger_at(engine, raw_db_url, "0012_meta_writes_retried") as connection:
            insert_store(connection)
            for cid, wc_id, email, guest, deleted in CUSTOMERS:
                connection.execute(
                    text("INSERT INTO customers (id, store_id, wc_id, email, is_guest,"
                         " created_at, deleted_at) VALUES (:c, 1, :w, :e, :g, :t, :d)"),
                    {"c": cid, "w": wc_id, "e": email, "g": guest, "t": "2026-01-01 00:00:00",
                     "d": "2026-02-01 00:00:00" if deleted else None},
                )  # fmt: skip
            for n, (cid, ref, points) in enumerate(TRANSFERS, start=1):
                connection.execute(
                    text("INSERT INTO point_entries (id, store_id, customer_id, points, kind,"
                         " source_ref, idempotency_key, occurred_at, recorded_at, balance_after)"
                         " VALUES (:n, 1, :c, :p, 'transfer', :r, :k, :t, :t, 0)"),
                    {"n": n, "c": cid, "p": points, "r": ref, "k": f"{ref}#{n}",
                     "t": "2026-03-01 00:00:00"},
                )  # fmt: skip

        upgrade(raw_db_url)

        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, merged_into_id FROM customers ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    assert dict(rows) == {1: 2, 2: None, 3: 4, 4: None, 5: 6, 6: None, 7: None}
