"""Tier moves in Points History, and coupons listed in `loyalty_coupons` exactly once.

Revision ID: 0010_history_tiers_coupon_lists
Revises: 0009_point_life
Create Date: 2026-12-02

- `tier_events.entry_id`: the entry a move sits after in Points History (the customer's last
  entry at the move's moment; 0 when none), with the `(store_id, entry_id, id)` and
  `(customer_id, entry_id, id)` indexes that page the moves beside the entries. Filled for the
  moves already recorded from the entries, as `ledger.tiers.record_moves` does for new ones.
- `redemptions.listed_at`: when the coupon reached the customer's `loyalty_coupons` meta. Empty
  for every existing redemption: the next sync lists the issued coupons of the channels the
  storefront shows (storefront, auto, stamps) that the list lacks, and marks them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_history_tiers_coupon_lists"
down_revision: str | None = "0009_point_life"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column(
        "tier_events",
        sa.Column("entry_id", ID, nullable=False, server_default=sa.text("0")),
    )
    op.execute(
        """
        UPDATE tier_events SET entry_id = COALESCE((
            SELECT MAX(e.id) FROM point_entries e
            WHERE e.customer_id = tier_events.customer_id AND e.occurred_at <= tier_events.at
        ), 0)
        """
    )
    op.create_index(
        "ix_tier_events_store_id_entry_id_id", "tier_events", ["store_id", "entry_id", "id"]
    )
    op.create_index(
        "ix_tier_events_customer_id_entry_id_id", "tier_events", ["customer_id", "entry_id", "id"]
    )
    op.add_column("redemptions", sa.Column("listed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("redemptions") as batch:
        batch.drop_column("listed_at")
    op.drop_index("ix_tier_events_customer_id_entry_id_id", table_name="tier_events")
    op.drop_index("ix_tier_events_store_id_entry_id_id", table_name="tier_events")
    with op.batch_alter_table("tier_events") as batch:
        batch.drop_column("entry_id")
