"""Migration 0013: where each merged customer's points went, from its transfer pair, or, for a
move of a zero balance (no pair), from the email as the ledger read it before."""

from __future__ import annotations

from sqlalchemy import text

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


def migrated(
    raw_db_url: str,
    customers: list[tuple[int, int | None, str, bool, bool]],
    transfers: list[tuple[int, str, int]],
) -> dict[int, int | None]:
    """Each customer's `merged_into_id` once a ledger at 0012 holding them is upgraded to 0013
    (0018 replaced the column with `customer_moves`)."""
    engine = create_engine_for(raw_db_url)
    try:
        with ledger_at(engine, raw_db_url, "0012_meta_writes_retried") as connection:
            insert_store(connection)
            for cid, wc_id, email, guest, deleted in customers:
                connection.execute(
                    text("INSERT INTO customers (id, store_id, wc_id, email, is_guest,"
                         " created_at, deleted_at) VALUES (:c, 1, :w, :e, :g, :t, :d)"),
                    {"c": cid, "w": wc_id, "e": email, "g": guest, "t": "2026-01-01 00:00:00",
                     "d": "2026-02-01 00:00:00" if deleted else None},
                )  # fmt: skip
            for n, (cid, ref, points) in enumerate(transfers, start=1):
                connection.execute(
                    text("INSERT INTO point_entries (id, store_id, customer_id, points, kind,"
                         " source_ref, idempotency_key, occurred_at, recorded_at, balance_after)"
                         " VALUES (:n, 1, :c, :p, 'transfer', :r, :k, :t, :t, 0)"),
                    {"n": n, "c": cid, "p": points, "r": ref, "k": f"{ref}#{n}",
                     "t": "2026-03-01 00:00:00"},
                )  # fmt: skip

        with ledger_at(engine, raw_db_url, "0013_customers_merged_into") as connection:
            rows = connection.execute(text("SELECT id, merged_into_id FROM customers")).all()
    finally:
        engine.dispose()
    return dict(rows)


def test_each_merged_customer_names_who_received_its_points(raw_db_url: str) -> None:
    assert migrated(raw_db_url, CUSTOMERS, TRANSFERS) == {
        1: 2, 2: None, 3: 4, 4: None, 5: 6, 6: None, 7: None
    }  # fmt: skip


def test_a_move_of_a_debt_names_the_customer_that_took_it(raw_db_url: str) -> None:
    """A guest in debt (-30) registered; a deleted account's debt went to its email's guest: the
    pair is +30 on the source and -30 on the receiver. Reading only the +30 side took each
    source for its own receiver (found by a review)."""
    customers = [
        (1, None, "g@example.com", True, False),
        (2, 12, "g@example.com", False, False),
        (3, 13, "d@example.com", False, True),
        (4, None, "d@example.com", True, False),
    ]
    transfers = [(1, "transfer:guest:1", 30), (2, "transfer:guest:1", -30)]
    transfers += [(3, "transfer:deleted:3", 30), (4, "transfer:deleted:3", -30)]

    assert migrated(raw_db_url, customers, transfers) == {1: 2, 2: None, 3: 4, 4: None}


def test_moves_without_a_pair_after_one_with_a_pair_follow_the_email(raw_db_url: str) -> None:
    """Guest 1 moved 50 to account 2 (a pair); 2 spent them and was deleted with nothing left,
    and the person registered again as 3 with nothing: no pair for either. The guest's points
    are the live account's (through 2), not a deleted account's (found by a review)."""
    customers = [
        (1, None, "g@example.com", True, False),
        (2, 12, "g@example.com", False, True),
        (3, 13, "g@example.com", False, False),
    ]
    transfers = [(1, "transfer:guest:1", -50), (2, "transfer:guest:1", 50)]

    assert migrated(raw_db_url, customers, transfers) == {1: 2, 2: 3, 3: None}


def test_a_guest_that_got_its_points_back_holds_its_own(raw_db_url: str) -> None:
    """Guest 1 registered as 2 (a pair), 2 was deleted and its points came back to guest 1 (a
    pair): 1 holds its own, 2's went to 1."""
    customers = [(1, None, "g@example.com", True, False), (2, 12, "g@example.com", False, True)]
    transfers = [(1, "transfer:guest:1", -50), (2, "transfer:guest:1", 50)]
    transfers += [(2, "transfer:deleted:2", -50), (1, "transfer:deleted:2", 50)]

    assert migrated(raw_db_url, customers, transfers) == {1: None, 2: 1}
