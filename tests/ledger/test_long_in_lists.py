"""A lookup by an IN list of any length: PostgreSQL binds at most 65,535 parameters a statement.

Found by a review (3 Dec): the write-back's check of the customers given up, the accounts a run
suspects deleted and the orders whose pending points matured each sent one IN list of every id;
70,000 of them failed the whole step on PostgreSQL ("number of parameters must be between 0 and
65535").
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.batches import rows_in
from ledger.models import Customer, Store

MANY = 70_000


def test_rows_in_looks_up_seventy_thousand_ids_on_both_databases(
    session: Session, store: Store, alice: Customer
) -> None:
    wanted = [*range(10**6, 10**6 + MANY), alice.id, alice.id]

    rows = rows_in(session, wanted, lambda chunk: select(Customer.id).where(Customer.id.in_(chunk)))

    assert rows == [(alice.id,)]
