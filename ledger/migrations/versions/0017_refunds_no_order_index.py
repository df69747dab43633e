"""Drop `ix_refund_details_store_id_order_id`: written with every refund, read by no query.

Revision ID: 0017_refunds_no_order_index
Revises: 0016_redemptions_drop_checked
Create Date: 2026-12-04

The refund cache is read by refund id only (its primary key): an order's refunds come listed in
the order (`refunds`). Measured while looking for the sync's CPU (issue 12): no query plan used
the index. The downgrade creates it again.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017_refunds_no_order_index"
down_revision: str | None = "0016_redemptions_drop_checked"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_refund_details_store_id_order_id"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="refund_details")


def downgrade() -> None:
    op.create_index(INDEX, "refund_details", ["store_id", "order_id"])
