"""The life of a point: each customer's next expiry, pending points, and the meta last written.

Revision ID: 0009_point_life
Revises: 0008_report_seeks
Create Date: 2026-12-02

- `next_expiries`: per customer, the points that expire next and the day (00:00 UTC), derived
  from the entries by `sync.expiry`; read by the write-back and by `loyalty report expiring`.
  Empty until the first sync or `loyalty expire` with expiry on.
- `meta_writes.written_expiring`: what the write-back last sent for that meta key.
- `balances.pending`: pending purchase points (`[points] pending_days`), moved with the entries
  like the balance; 0 for every existing customer (nothing appended pending entries before).
- `meta_writes.written_pending`: the `loyalty_points_pending` value last written.
- Tiers: `tier_events` (a customer's moves between tiers, events rather than point entries),
  `tracked_orders.tier` (the tier an order earns at, fixed when first decided) and
  `meta_writes.written_tier` (the `loyalty_tier` value last written).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_point_life"
down_revision: str | None = "0008_report_seeks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "next_expiries",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("meta", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_next_expiries"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_next_expiries_customer_id_customers"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_next_expiries_store_id_stores"
        ),
    )
    op.create_index("ix_next_expiries_store_id_day", "next_expiries", ["store_id", "day"])
    op.add_column("meta_writes", sa.Column("written_expiring", sa.String(64), nullable=True))
    op.add_column("meta_writes", sa.Column("written_pending", sa.BigInteger(), nullable=True))
    op.add_column(
        "balances",
        sa.Column("pending", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column("meta_writes", sa.Column("written_tier", sa.String(64), nullable=True))
    op.add_column("tracked_orders", sa.Column("tier", sa.String(64), nullable=True))
    op.create_table(
        "tier_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", sa.String(64), nullable=True),
        sa.Column("after", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tier_events"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_tier_events_customer_id_customers"
        ),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name="fk_tier_events_store_id_stores"),
        sa.UniqueConstraint("customer_id", "at", name="uq_tier_events_customer_id_at"),
    )
    op.create_index("ix_tier_events_store_id_at_id", "tier_events", ["store_id", "at", "id"])


def downgrade() -> None:
    op.drop_index("ix_tier_events_store_id_at_id", table_name="tier_events")
    op.drop_table("tier_events")
    with op.batch_alter_table("tracked_orders") as batch:
        batch.drop_column("tier")
    with op.batch_alter_table("meta_writes") as batch:
        batch.drop_column("written_tier")
    with op.batch_alter_table("balances") as batch:
        batch.drop_column("pending")
    with op.batch_alter_table("meta_writes") as batch:
        batch.drop_column("written_pending")
        batch.drop_column("written_expiring")
    op.drop_index("ix_next_expiries_store_id_day", table_name="next_expiries")
    op.drop_table("next_expiries")
