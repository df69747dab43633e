"""Migration 0018: every move of a customer's points, from its transfer pairs, or, for a move of a
zero balance (no pair), from `merged_into_id` (taking all the customer's entries); and back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, text

from ledger.customers import heirs
from ledger.migrate import alembic_config, upgrade
from ledger.session import create_engine_for, session_scope
from tests.ledger.schema_at import insert_store, ledger_at

BEFORE = "0017_refunds_no_order_index"
#: Guest 1 bought (entry 1) and registered as 2 (its 50 moved: a pair, entries 2-3); 2 changed
#: its email, and a newcomer bought as guest 1 (entry 4) and registered as 3 (a pair, 5-6): 1's
#: `merged_into_id` is 3, for both purchases. Guest 4 registered as 5 with nothing to move (no
#: pair) after buying (entry 7). Account 6 bought (entry 8) and was deleted, its 20 to guest 7 (a
#: pair, 9-10), and 7 registered as 8 with nothing left (8 spent them: entry 11), so 7 names 8.
CUSTOMERS = [  # id, wc_id, email, is_guest, deleted, merged_into
    (1, None, "g@example.com", True, False, 3),
    (2, 12, "g.new@example.com", False, False, None),
    (3, 13, "g@example.com", False, False, None),
    (4, None, "z@example.com", True, False, 5),
    (5, 15, "z@example.com", False, False, None),
    (6, 16, "d@example.com", False, True, 7),
    (7, None, "d@example.com", True, False, 8),
    (8, 18, "d@example.com", False, False, None),
]
ENTRIES = [  # customer, kind, reference, points
    (1, "purchase", "order:1", 50),
    (1, "transfer", "transfer:guest:1", -50),
    (2, "transfer", "transfer:guest:1", 50),
    (1, "purchase", "order:2", 30),
    (1, "transfer", "transfer:guest:1", -30),
    (3, "transfer", "transfer:guest:1", 30),
    (4, "purchase", "order:3", 10),
    (6, "purchase", "order:4", 20),
    (6, "transfer", "transfer:deleted:6", -20),
    (7, "transfer", "transfer:deleted:6", 20),
    (8, "adjustment", "adjust:1", -20),
]


@pytest.fixture
def engine(raw_db_url: str) -> Iterator[Engine]:
    engine = create_engine_for(raw_db_url)
    with ledger_at(engine, raw_db_url, BEFORE) as connection:
        insert_store(connection)
        for cid, wc_id, email, guest, deleted, _ in CUSTOMERS:
            connection.execute(
                text("INSERT INTO customers (id, store_id, wc_id, email, is_guest, created_at,"
                     " deleted_at) VALUES (:c, 1, :w, :e, :g, :t, :d)"),
                {"c": cid, "w": wc_id, "e": email, "g": guest, "t": "2026-01-01 00:00:00",
                 "d": "2026-02-01 00:00:00" if deleted else None},
            )  # fmt: skip
        for cid, *_, merged in CUSTOMERS:
            connection.execute(
                text("UPDATE customers SET merged_into_id = :m WHERE id = :c"),
                {"c": cid, "m": merged},
            )
        for n, (cid, kind, ref, points) in enumerate(ENTRIES, start=1):
            connection.execute(
                text("INSERT INTO point_entries (id, store_id, customer_id, points, kind,"
                     " source_ref, idempotency_key, occurred_at, recorded_at, balance_after)"
                     " VALUES (:n, 1, :c, :p, :k, :r, :key, :t, :t, 0)"),
                {"n": n, "c": cid, "p": points, "k": kind, "r": ref, "key": f"{ref}#{n}",
                 "t": "2026-03-01 00:00:00"},
            )  # fmt: skip
    yield engine
    engine.dispose()


def test_each_move_is_recorded_after_the_entries_it_took(raw_db_url: str, engine: Engine) -> None:
    upgrade(raw_db_url)

    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT from_customer_id, to_customer_id, after_entry_id FROM customer_moves"
                 " ORDER BY id")
        ).all()  # fmt: skip
    assert [tuple(row) for row in rows] == [
        (1, 2, 1),  # just before its pair (entries 2, 3)
        (1, 3, 4),  # just before its pair (entries 5, 6)
        (4, 5, 7),  # no pair: after its last entry
        (6, 7, 8),
        (7, 8, 10),  # no pair after the one it received: after its last entry
    ]


def test_each_entry_is_held_by_who_its_points_went_to(raw_db_url: str, engine: Engine) -> None:
    """The first guest's purchase is its first account's (2), the newcomer's the newcomer's (3):
    `merged_into_id` gave both to 3. The deleted account's purchase went to its guest, then to
    the account the guest registered as."""
    upgrade(raw_db_url)

    with session_scope(engine) as session:
        found = heirs(session, 1, [(1, 1), (1, 4), (4, 7), (6, 8), (7, 10), (8, 11)])

    assert found == {(1, 1): 2, (1, 4): 3, (4, 7): 5, (6, 8): 8, (7, 10): 8}


def test_the_downgrade_names_each_customers_last_receiver(raw_db_url: str, engine: Engine) -> None:
    upgrade(raw_db_url)

    with engine.begin() as connection:
        config = alembic_config(raw_db_url)
        config.attributes["connection"] = connection
        command.downgrade(config, BEFORE)
        rows = connection.execute(text("SELECT id, merged_into_id FROM customers")).all()

    assert dict(rows) == {1: 3, 2: None, 3: None, 4: 5, 5: None, 6: 7, 7: 8, 8: None}
