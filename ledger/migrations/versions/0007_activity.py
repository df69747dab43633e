"""Reviews and blog comments as the sync tracks them.

Revision ID: 0007_activity
Revises: 0006_stamp_cards
Create Date: 2026-12-02

- `tracked_activity`: one row per review or comment the sync has seen (or found deleted), with its
  owner, what it is about, its status, creation date, text length and flags, and the points last
  decided. Activity rules decide over an owner's whole set, so the set is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_activity"
down_revision: str | None = "0006_stamp_cards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # as the ids it refers to
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tracked_activity",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("item_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("subject", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("text_length", sa.Integer(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("parent", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_tracked_activity_store_id_stores"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_tracked_activity_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("store_id", "source", "item_id", name="pk_tracked_activity"),
    )
    op.create_index(
        "ix_tracked_activity_store_id_source_customer_id",
        "tracked_activity",
        ["store_id", "source", "customer_id"],
    )
    op.create_index(
        "ix_tracked_activity_store_id_source_created_at",
        "tracked_activity",
        ["store_id", "source", "created_at"],
    )
    op.create_index("ix_tracked_activity_customer_id", "tracked_activity", ["customer_id"])


def downgrade() -> None:
    op.drop_table("tracked_activity")
