"""Where a merged customer's points went: `customers.merged_into_id`.

Revision ID: 0013_customers_merged_into
Revises: 0012_meta_writes_retried
Create Date: 2026-12-04

A guest that registers, or an account deleted in the store, gives its spendable balance to another
customer (`sync.owners.move_holdings`) and keeps its entries. The ledger read who got them from
today's emails (`ledger.customers.heirs`), which an email change, or an email that changed hands,
turned wrong: an expired order's refund was taken from a stranger, or given back. The move now
records it. The upgrade fills it in for the moves already made: each transfer pair
(`transfer:guest:{id}`, `transfer:deleted:{id}`), in the order they were appended, names its
source and the customer that received (a receiver holds points of its own again); the moves of
a zero balance left none, so a guest, or a deleted account, without one takes the customer its
email names today (the reading before this revision). The downgrade drops the column.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_customers_merged_into"
down_revision: str | None = "0012_meta_writes_retried"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # as the ids it refers to
PREFIXES = ("transfer:guest:", "transfer:deleted:")


def upgrade() -> None:
    op.add_column("customers", sa.Column("merged_into_id", ID, nullable=True))
    connection = op.get_bind()
    customers = sa.table(
        "customers",
        sa.column("id", ID),
        sa.column("store_id", ID),
        sa.column("email", sa.String()),
        sa.column("is_guest", sa.Boolean()),
        sa.column("deleted_at", sa.DateTime(timezone=True)),
        sa.column("merged_into_id", ID),
    )
    entries = sa.table(
        "point_entries",
        sa.column("id", ID),
        sa.column("customer_id", ID),
        sa.column("source_ref", sa.String()),
    )
    # 1. The transfer pairs, in the order they were appended: the source is named in the
    # reference, the receiver is the other customer of the pair (+B, or -B for a debt moved).
    heir: dict[int, int] = {}
    pairs = sa.select(entries.c.source_ref, entries.c.customer_id).where(
        sa.or_(*(entries.c.source_ref.startswith(prefix) for prefix in PREFIXES))
    )
    for ref, customer_id in connection.execute(pairs.order_by(entries.c.id)):
        source = ref.rsplit(":", 1)[1]
        if source.isdigit() and int(customer_id) != int(source):
            heir[int(source)] = int(customer_id)
            heir.pop(int(customer_id), None)  # the receiver holds points of its own again
    if heir:
        connection.execute(
            customers.update()
            .where(customers.c.id == sa.bindparam("source"))
            .values(merged_into_id=sa.bindparam("target")),
            [{"source": source, "target": target} for source, target in sorted(heir.items())],
        )
    # 2. The moves of a zero balance left no pair: a guest, or a deleted account, with none is
    # taken as its email names today (the reading before this revision): the oldest live account
    # of the email, else, for a deleted account, the email's guest. Set-based: no table in memory.
    other = sa.alias(customers, "other")
    same_email = sa.and_(
        other.c.store_id == customers.c.store_id,
        other.c.email == customers.c.email,
        other.c.id != customers.c.id,
    )
    unrecorded = sa.and_(customers.c.merged_into_id.is_(None), customers.c.email.is_not(None))
    live_account = (
        sa.select(sa.func.min(other.c.id))
        .where(same_email, other.c.is_guest.is_(False), other.c.deleted_at.is_(None))
        .scalar_subquery()
    )
    connection.execute(
        customers.update()
        .where(
            unrecorded,
            sa.or_(customers.c.is_guest.is_(True), customers.c.deleted_at.is_not(None)),
        )
        .values(merged_into_id=live_account)
    )
    guest = sa.select(sa.func.min(other.c.id)).where(same_email, other.c.is_guest.is_(True))
    connection.execute(
        customers.update()
        .where(unrecorded, customers.c.is_guest.is_(False), customers.c.deleted_at.is_not(None))
        .values(merged_into_id=guest.scalar_subquery())
    )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN, on SQLite too (3.35 and later): a batch copy of `customers`
    # would drop the table every entry refers to, which its foreign keys refuse.
    op.drop_column("customers", "merged_into_id")
