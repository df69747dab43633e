"""Whose signup points a customer's balance carries: `customers.signup_of`.

Revision ID: 0015_customers_signup_of
Revises: 0014_customers_merged_into_index
Create Date: 2026-12-04

A signup earns once, not once per account: an account deleted in the store gives its balance back
to its email's guest, and the account registered again with that email takes it, signup points
among them. The account whose signup a balance carries is recorded on the customer holding it
(set when a signup is earned, handed on with the balance by every move, `sync.owners
.move_holdings`), and an account that carries another's earns no signup of its own.

The upgrade records it for what is in the ledger: each customer whose signup entries add up to
more than 0 carries its own (one UPDATE), and each of those whose points moved on
(`merged_into_id`, a few: deleted accounts) hands it along its recorded moves to the customer
holding its points now, unless that one carries a signup already (its own is not taken back
for what happened before this version). 0014's index on `merged_into_id`, which served the reading
of signups through the moves that this column replaces, is dropped. The downgrade drops the
column and makes the index again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_customers_signup_of"
down_revision: str | None = "0014_customers_merged_into_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # as the ids it refers to
MAX_MOVES = 32  # as `ledger.customers.MAX_MOVES`: a chain of moves is followed this far


MERGED_INDEX = "ix_customers_merged_into_id"
MERGED = sa.text("merged_into_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index(MERGED_INDEX, table_name="customers")
    op.add_column("customers", sa.Column("signup_of", ID, nullable=True))
    connection = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id", ID),
        sa.column("merged_into_id", ID),
        sa.column("signup_of", ID),
    )
    entries = sa.table(
        "point_entries",
        sa.column("customer_id", ID),
        sa.column("kind", sa.String()),
        sa.column("points", sa.BigInteger()),
    )
    earned = (
        sa.select(entries.c.customer_id)
        .where(entries.c.kind == "signup")
        .group_by(entries.c.customer_id)
        .having(sa.func.sum(entries.c.points) > 0)
    )
    connection.execute(
        customers.update().where(customers.c.id.in_(earned)).values(signup_of=customers.c.id)
    )
    moved = (
        connection.execute(
            sa.select(customers.c.id)
            .where(customers.c.signup_of == customers.c.id, customers.c.merged_into_id.is_not(None))
            .order_by(customers.c.id)
        )
        .scalars()
        .all()
    )
    for source in moved:
        holder = int(source)
        for _ in range(MAX_MOVES):
            step = connection.execute(
                sa.select(customers.c.merged_into_id).where(customers.c.id == holder)
            ).scalar_one_or_none()
            if step is None:
                break
            holder = int(step)
        if holder == source:
            continue
        connection.execute(
            customers.update().where(customers.c.id == source).values(signup_of=None)
        )
        connection.execute(  # an account holding a signup of its own keeps it: no surprise
            customers.update()  # revocation for what is already in the ledger
            .where(customers.c.id == holder, customers.c.signup_of.is_(None))
            .values(signup_of=source)
        )


def downgrade() -> None:
    op.drop_column("customers", "signup_of")
    op.create_index(
        MERGED_INDEX, "customers", ["merged_into_id"], sqlite_where=MERGED, postgresql_where=MERGED
    )
