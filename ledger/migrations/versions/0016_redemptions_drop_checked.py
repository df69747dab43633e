"""When the store was last asked about a coupon whose order dropped: `redemptions.drop_checked`.

Revision ID: 0016_redemptions_drop_checked
Revises: 0015_customers_signup_of
Create Date: 2026-12-04

A redemption used by an order that was then cancelled, trashed or deleted outright may have had
its use given back by the store (WooCommerce gives it back on a cancel). The sync asks the store
(the coupon's `usage_count`) while the order's tracked row was seen so after the last answer:
the column holds the `tracked_orders.last_seen_at` the store last answered for, so a check the
store did not answer is made again by the next run, and one it answered is not made again until
the order is seen again. Empty for every redemption before this version: those used by a dropped
order are asked about once by the next sync.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_redemptions_drop_checked"
down_revision: str | None = "0015_customers_signup_of"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "redemptions", sa.Column("drop_checked", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("redemptions") as batch:
        batch.drop_column("drop_checked")
