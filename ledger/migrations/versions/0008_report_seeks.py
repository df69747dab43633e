"""Reports that seek instead of scanning: a stored running balance, per-customer earnings by day,
per-product customers, category names.

Revision ID: 0008_report_seeks
Revises: 0007_activity
Create Date: 2026-12-02

- `point_entries.balance_after`: the customer's spendable balance right after the entry, in id
  order. Points History pages by id and reads it, instead of summing every earlier entry.
- `customer_earnings`: per customer and UTC day, the lifetime kinds' points and their running
  total. Top Earning Customers over a range reads the totals at the range's two ends.
- `product_customers`: entry lines summed per product and customer, with the number of orders.
- `categories`: category names, for the sources report.
- Index `(store_id, id)` on the entries: the store's history pages by it.

Everything is filled from the entries and lines already there, in SQL, so the ledger verifies at
once. The kind lists are spelled out as they stand today.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_report_seeks"
down_revision: str | None = "0007_activity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LIFETIME_KINDS = ("purchase", "first_order", "review", "comment", "signup", "bonus", "transfer")
OUTSIDE_BALANCE_KINDS = ("pending",)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def upgrade() -> None:
    op.add_column(
        "point_entries",
        sa.Column("balance_after", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.create_index("ix_point_entries_store_id_id", "point_entries", ["store_id", "id"])
    op.create_table(
        "customer_earnings",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("earned", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "day", name="pk_customer_earnings"),
        _fk("customer_earnings", "customer_id", "customers"),
        _fk("customer_earnings", "store_id", "stores"),
    )
    op.create_table(
        "product_customers",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("purchases", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "store_id", "product_id", "customer_id", name="pk_product_customers"
        ),
        _fk("product_customers", "store_id", "stores"),
        _fk("product_customers", "customer_id", "customers"),
    )
    op.create_index(
        "ix_product_customers_store_id_product_id_points_customer_id",
        "product_customers",
        ["store_id", "product_id", "points", "customer_id"],
    )
    op.create_table(
        "categories",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "category_id", name="pk_categories"),
        _fk("categories", "store_id", "stores"),
    )
    _backfill()
    if op.get_bind().dialect.name == "postgresql":  # SQLite cannot drop a default in place
        op.alter_column("point_entries", "balance_after", server_default=None)


def _backfill() -> None:
    dialect = op.get_bind().dialect.name
    day = (
        "CAST((occurred_at AT TIME ZONE 'UTC') AS DATE)"
        if dialect == "postgresql"
        else "date(occurred_at)"
    )
    outside = ", ".join(f"'{kind}'" for kind in OUTSIDE_BALANCE_KINDS)
    lifetime = ", ".join(f"'{kind}'" for kind in LIFETIME_KINDS)
    op.execute(
        "UPDATE point_entries SET balance_after = running.balance FROM ("
        f" SELECT id, SUM(CASE WHEN kind IN ({outside}) THEN 0 ELSE points END)"
        "  OVER (PARTITION BY customer_id ORDER BY id) AS balance FROM point_entries"
        ") AS running WHERE point_entries.id = running.id"
    )
    op.execute(
        "INSERT INTO customer_earnings (customer_id, day, store_id, earned, total)"
        " SELECT customer_id, day, store_id, earned,"
        "  SUM(earned) OVER (PARTITION BY customer_id ORDER BY day)"
        f" FROM (SELECT customer_id, {day} AS day, store_id, SUM(points) AS earned"
        f"  FROM point_entries WHERE kind IN ({lifetime})"
        f"  GROUP BY customer_id, {day}, store_id) AS days"
    )
    op.execute(
        "INSERT INTO product_customers (store_id, product_id, customer_id, points, purchases)"
        " SELECT store_id, product_id, customer_id, SUM(points), COUNT(DISTINCT source_ref)"
        " FROM entry_lines GROUP BY store_id, product_id, customer_id"
    )


def downgrade() -> None:
    op.drop_table("categories")
    op.drop_index(
        "ix_product_customers_store_id_product_id_points_customer_id",
        table_name="product_customers",
    )
    op.drop_table("product_customers")
    op.drop_table("customer_earnings")
    op.drop_index("ix_point_entries_store_id_id", table_name="point_entries")
    with op.batch_alter_table("point_entries") as batch:
        batch.drop_column("balance_after")
