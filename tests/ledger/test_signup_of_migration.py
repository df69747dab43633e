"""Migration 0015: whose signup each balance carries, from the signup entries and the recorded
moves of the balances that moved on."""

from __future__ import annotations

from sqlalchemy import text

from ledger.migrate import upgrade
from ledger.session import create_engine_for
from tests.ledger.schema_at import insert_store, ledger_at

CUSTOMERS = [  # id, wc_id, email, is_guest, deleted, merged_into
    (1, 11, "d@example.com", False, True, 2),  # earned its signup, deleted: to the guest
    (2, None, "d@example.com", True, False, 3),  # the guest, merged into the account again
    (3, 13, "d@example.com", False, False, None),  # registered again: carries 1's signup
    (4, 14, "own@example.com", False, False, None),  # earned its own
    (5, 15, "gone@example.com", False, True, 6),  # earned, deleted; its email's holder, 6,
    (6, 16, "gone@example.com", False, False, None),  # earned its own too: keeps its own
    (7, 17, "none@example.com", False, False, None),  # no signup (taken back: 50 - 50)
]
SIGNUPS = [(1, 50), (4, 50), (5, 50), (6, 50), (7, 50), (7, -50)]


def test_each_balance_carries_the_signup_it_holds_now(raw_db_url: str) -> None:
    engine = create_engine_for(raw_db_url)
    try:
        with ledger_at(engine, raw_db_url, "0014_customers_merged_into_index") as connection:
            insert_store(connection)
            for cid, wc_id, email, guest, deleted, merged in CUSTOMERS:
                connection.execute(
                    text("INSERT INTO customers (id, store_id, wc_id, email, is_guest, created_at,"
                         " deleted_at, merged_into_id) VALUES (:c, 1, :w, :e, :g, :t, :d, :m)"),
                    {"c": cid, "w": wc_id, "e": email, "g": guest, "t": "2026-01-01 00:00:00",
                     "d": "2026-02-01 00:00:00" if deleted else None, "m": merged},
                )  # fmt: skip
            for n, (cid, points) in enumerate(SIGNUPS, start=1):
                connection.execute(
                    text("INSERT INTO point_entries (id, store_id, customer_id, points, kind,"
                         " source_ref, idempotency_key, occurred_at, recorded_at, balance_after)"
                         " VALUES (:n, 1, :c, :p, 'signup', :r, :k, :t, :t, 0)"),
                    {"n": n, "c": cid, "p": points, "r": f"signup:customer:{cid}",
                     "k": f"signup:customer:{cid}#{n}", "t": "2026-01-01 00:00:00"},
                )  # fmt: skip

        upgrade(raw_db_url)

        with engine.connect() as connection:
            rows = dict(connection.execute(text("SELECT id, signup_of FROM customers")).all())
    finally:
        engine.dispose()

    assert rows == {1: None, 2: None, 3: 1, 4: 4, 5: None, 6: 6, 7: None}
