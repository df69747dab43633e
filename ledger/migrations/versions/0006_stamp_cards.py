"""Stamp cards: per order and card the stamps it carries, per customer and card their sum; and
redemptions that cost no points (a full card's reward) with their own coupon shape.

Revision ID: 0006_stamp_cards
Revises: 0005_reports
Create Date: 2026-12-02

- `stamp_orders`: (store, card, order) -> the customer holding that order's stamps and how many,
  the target last decided (reconciled like points: a replay changes nothing).
- `stamp_cards`: (customer, card) -> the sum of its orders' stamps, moved in the same transaction,
  and `written`, the JSON last written to the customer's meta for that card.
- `redemptions.coupon`: the coupon's own fields (JSON) when it is not the points' fixed_cart
  coupon, e.g. a free item's 100 % discount limited to the card's products; and `points` may be
  0 (a reward costs no points), so its check becomes `points >= 0`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_stamp_cards"
down_revision: str | None = "0005_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "stamp_orders",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("card", sa.String(64), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("stamps", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_stamp_orders_store_id_stores"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_stamp_orders_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("store_id", "card", "order_id", name="pk_stamp_orders"),
        sa.CheckConstraint("stamps > 0", name="ck_stamp_orders_positive_stamps"),
    )
    op.create_index("ix_stamp_orders_customer_id_card", "stamp_orders", ["customer_id", "card"])
    op.create_table(
        "stamp_cards",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("card", sa.String(64), nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("stamps", sa.BigInteger(), nullable=False),
        sa.Column("written", sa.Text(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name="fk_stamp_cards_store_id_stores"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_stamp_cards_customer_id_customers"
        ),
        sa.PrimaryKeyConstraint("customer_id", "card", name="pk_stamp_cards"),
    )
    op.create_index("ix_stamp_cards_store_id", "stamp_cards", ["store_id"])
    with op.batch_alter_table("redemptions") as batch:
        batch.add_column(sa.Column("coupon", sa.Text(), nullable=True))
        # 0003 named it through the naming convention: ck_redemptions_ck_redemptions_positive_points.
        batch.drop_constraint("ck_redemptions_positive_points", type_="check")
        batch.create_check_constraint(op.f("ck_redemptions_points_not_negative"), "points >= 0")


def downgrade() -> None:
    with op.batch_alter_table("redemptions") as batch:
        batch.drop_constraint(op.f("ck_redemptions_points_not_negative"), type_="check")
        batch.create_check_constraint("ck_redemptions_positive_points", "points > 0")  # as 0003
        batch.drop_column("coupon")
    op.drop_index("ix_stamp_cards_store_id", table_name="stamp_cards")
    op.drop_table("stamp_cards")
    op.drop_index("ix_stamp_orders_customer_id_card", table_name="stamp_orders")
    op.drop_table("stamp_orders")
