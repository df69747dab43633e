"""Redemptions: points turned into store coupons, exactly once.

Revision ID: 0003_redemptions
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_redemptions"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PK aliases the rowid
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "redemptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("request_key", sa.String(255), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("tier", sa.String(255), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.String(32), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("coupon_id", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("claimed_until", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("used_order_id", sa.BigInteger(), nullable=True),
        sa.Column("refunded_order_id", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name="fk_redemptions_store_id_stores"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_redemptions_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_redemptions"),
        sa.UniqueConstraint("store_id", "request_key", name="uq_redemptions_store_id_request_key"),
        sa.UniqueConstraint("store_id", "code", name="uq_redemptions_store_id_code"),
        sa.CheckConstraint("points > 0", name="ck_redemptions_positive_points"),
    )
    op.create_index("ix_redemptions_store_id_status", "redemptions", ["store_id", "status"])
    op.create_index("ix_redemptions_customer_id", "redemptions", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_redemptions_customer_id", table_name="redemptions")
    op.drop_index("ix_redemptions_store_id_status", table_name="redemptions")
    op.drop_table("redemptions")
