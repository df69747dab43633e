"""Quarantine from every source, and accounts deleted in the store.

Revision ID: 0004_quarantine
Revises: 0003_redemptions
Create Date: 2026-12-01

- `quarantined_items.raw_size`: the size of the item as received; the stored payload is redacted
  and cut to a bound, and this says how much there was. Open items are listed per store, so
  `(store_id, resolved_at)` is indexed.
- `customers.deleted_at`: when the sync learned the account no longer exists in the store. Its
  points went back to its email; nothing is written to it again.
- `tracked_orders.wc_customer_id`: the order's `customer_id` as the store last sent it, so an order
  of an account that comes back as a guest order (WordPress deleted the account) is noticed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_quarantine"
down_revision: str | None = "0003_redemptions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("quarantined_items", sa.Column("raw_size", sa.Integer(), nullable=True))
    op.create_index(
        "ix_quarantined_items_store_id_resolved_at",
        "quarantined_items",
        ["store_id", "resolved_at"],
    )
    op.add_column("customers", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tracked_orders", sa.Column("wc_customer_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tracked_orders") as batch:
        batch.drop_column("wc_customer_id")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("deleted_at")
    op.drop_index("ix_quarantined_items_store_id_resolved_at", table_name="quarantined_items")
    with op.batch_alter_table("quarantined_items") as batch:
        batch.drop_column("raw_size")
