"""Migration 0012: write-backs the old rule gave up after ten failed runs are owed again; those
the store refused because the account is deleted stay given up."""

from __future__ import annotations

from sqlalchemy import text

from ledger.migrate import upgrade
from ledger.session import create_engine_for
from tests.ledger.schema_at import insert_store, ledger_at

LAST_ERRORS = {
    1: "2026-12-01T00:00:00+00:00 POST customers/batch: HTTP 503",  # a store that was down
    2: "2026-12-01T00:00:00+00:00 customer 12: woocommerce_rest_invalid_id: Invalid ID.",
    3: "2026-12-01T00:00:00+00:00 customer 13: rest_invalid_param: meta refused",
    4: None,
}


def test_write_backs_given_up_for_anything_but_a_deleted_account_are_owed_again(
    raw_db_url: str,
) -> None:
    engine = create_engine_for(raw_db_url)
    try:
        with ledger_at(engine, raw_db_url, "0011_product_spans") as connection:
            insert_store(connection)
            for customer, error in LAST_ERRORS.items():
                connection.execute(
                    text("INSERT INTO customers (id, store_id, wc_id, is_guest, created_at)"
                         " VALUES (:c, 1, :w, false, :t)"),
                    {"c": customer, "w": 10 + customer, "t": "2026-01-01 00:00:00"},
                )  # fmt: skip
                connection.execute(
                    text("INSERT INTO meta_writes (customer_id, attempts, last_error, gave_up)"
                         " VALUES (:c, 10, :e, true)"),
                    {"c": customer, "e": error},
                )  # fmt: skip
            connection.execute(
                text("INSERT INTO customers (id, store_id, wc_id, is_guest, created_at)"
                     " VALUES (5, 1, 15, false, :t)"),
                {"t": "2026-01-01 00:00:00"},
            )  # fmt: skip
            connection.execute(
                text(
                    "INSERT INTO meta_writes (customer_id, attempts, last_error, gave_up)"
                    " VALUES (5, 2, 'HTTP 503', false)"
                )
            )

        upgrade(raw_db_url)

        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT customer_id, gave_up, attempts, last_error FROM meta_writes"
                     " ORDER BY customer_id")
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    assert [(c, bool(g)) for c, g, _, _ in rows] == [
        (1, False), (2, True), (3, False), (4, False), (5, False)
    ]  # fmt: skip
    # What the admin reads of each is kept.
    assert [(a, e) for c, _, a, e in rows if c in LAST_ERRORS] == [
        (10, LAST_ERRORS[c]) for c in sorted(LAST_ERRORS)
    ]
