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
source and the customer that received; the moves of a zero balance left none, so a guest whose
email has a live account, and a deleted account, take the one their email names today (the
reading before this revision). The downgrade drops the column.
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
        sa.column("points", sa.BigInteger()),
    )
    heir: dict[int, int | None] = {}
    received = sa.select(entries.c.source_ref, entries.c.customer_id).where(
        sa.or_(*(entries.c.source_ref.startswith(prefix) for prefix in PREFIXES)),
        entries.c.points > 0,
    )
    for ref, target in connection.execute(received.order_by(entries.c.id)):
        source = ref.rsplit(":", 1)[1]
        if source.isdigit():
            heir[int(source)] = int(target)
            heir[int(target)] = None  # it holds points of its own again
    rows = connection.execute(
        sa.select(
            customers.c.id,
            customers.c.store_id,
            customers.c.email,
            customers.c.is_guest,
            customers.c.deleted_at,
        )
    ).all()
    live = {}  # (store, email): the oldest live account
    guests = {}
    for cid, store_id, email, is_guest, deleted_at in sorted(rows, key=lambda row: -row[0]):
        if email and not is_guest and deleted_at is None:
            live[(store_id, email)] = cid
        if email and is_guest:
            guests[(store_id, email)] = cid
    for cid, store_id, email, is_guest, deleted_at in rows:
        if cid in heir or not email or not (is_guest or deleted_at is not None):
            continue
        found = live.get((store_id, email)) or (None if is_guest else guests.get((store_id, email)))
        if found is not None and found != cid:
            heir[cid] = found
    for cid, target in sorted(heir.items()):
        if target is not None:
            connection.execute(
                customers.update().where(customers.c.id == cid).values(merged_into_id=target)
            )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN, on SQLite too (3.35 and later): a batch copy of `customers`
    # would drop the table every entry refers to, which its foreign keys refuse.
    op.drop_column("customers", "merged_into_id")
