"""Reports: the daily rollup of entries, per-product lines of purchase entries, product names, and
the indexes Points History pages by.

Revision ID: 0005_reports
Revises: 0004_quarantine
Create Date: 2026-12-01

The rollups are filled from the entries already there, in SQL, so an existing ledger verifies at
once. Purchase entries recorded before lines existed get one line on product 0 ("not a product").
The kind-to-source mapping is spelled out here as it stands today: later kinds have no entries yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_reports"
down_revision: str | None = "0004_quarantine"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SOURCE_OF_KIND = {
    "purchase": "purchase",
    "first_order": "bonus",
    "review": "review",
    "comment": "comment",
    "signup": "signup",
    "bonus": "bonus",
    "adjustment": "adjustment",
    "transfer": "transfer",
    "redemption": "redemption",
    "expiry": "expiry",
    "pending": "purchase",
}


def _store_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=f"fk_{table}_store_id_stores")


def upgrade() -> None:
    op.create_index(
        "ix_point_entries_store_id_occurred_at_id",
        "point_entries",
        ["store_id", "occurred_at", "id"],
    )
    op.create_index(
        "ix_point_entries_customer_id_occurred_at_id_kind_points",
        "point_entries",
        ["customer_id", "occurred_at", "id", "kind", "points"],
    )
    op.create_index("ix_balances_store_id_lifetime", "balances", ["store_id", "lifetime"])
    op.create_table(
        "point_rollups",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("credit", sa.BigInteger(), nullable=False),
        sa.Column("debit", sa.BigInteger(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "day", "kind", "source", name="pk_point_rollups"),
        _store_fk("point_rollups"),
    )
    op.create_table(
        "entry_lines",
        sa.Column("id", ID, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("entry_key", sa.String(255), nullable=False),
        sa.Column("source_ref", sa.String(255), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entry_lines"),
        sa.UniqueConstraint(
            "store_id",
            "entry_key",
            "product_id",
            "category_id",
            name="uq_entry_lines_store_id_entry_key_product_id_category_id",
        ),
        _store_fk("entry_lines"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_entry_lines_customer_id_customers"
        ),
    )
    op.create_index("ix_entry_lines_store_id_source_ref", "entry_lines", ["store_id", "source_ref"])
    op.create_index(
        "ix_entry_lines_store_id_product_id_customer_id",
        "entry_lines",
        ["store_id", "product_id", "customer_id"],
    )
    op.create_table(
        "product_rollups",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "store_id", "day", "product_id", "category_id", name="pk_product_rollups"
        ),
        _store_fk("product_rollups"),
    )
    op.create_table(
        "products",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "product_id", name="pk_products"),
        _store_fk("products"),
    )
    _backfill()


def _backfill() -> None:
    dialect = op.get_bind().dialect.name
    day = (
        "CAST((occurred_at AT TIME ZONE 'UTC') AS DATE)"
        if dialect == "postgresql"
        else "date(occurred_at)"
    )
    source = "CASE kind " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in SOURCE_OF_KIND.items())
    source += " ELSE kind END"
    op.execute(
        f"INSERT INTO point_rollups (store_id, day, kind, source, credit, debit, entries) "
        f"SELECT store_id, {day}, kind, {source}, "
        "SUM(CASE WHEN points > 0 THEN points ELSE 0 END), "
        "SUM(CASE WHEN points < 0 THEN points ELSE 0 END), COUNT(*) "
        f"FROM point_entries GROUP BY store_id, {day}, kind"
    )
    op.execute(
        "INSERT INTO entry_lines (store_id, entry_key, source_ref, customer_id, day, product_id,"
        " category_id, points) "
        f"SELECT store_id, idempotency_key, source_ref, customer_id, {day}, 0, 0, points "
        "FROM point_entries WHERE kind = 'purchase'"
    )
    op.execute(
        "INSERT INTO product_rollups (store_id, day, product_id, category_id, points, lines) "
        "SELECT store_id, day, 0, 0, SUM(points), COUNT(*) FROM entry_lines"
        " GROUP BY store_id, day"
    )


def downgrade() -> None:
    op.drop_table("products")
    op.drop_table("product_rollups")
    op.drop_index("ix_entry_lines_store_id_product_id_customer_id", table_name="entry_lines")
    op.drop_index("ix_entry_lines_store_id_source_ref", table_name="entry_lines")
    op.drop_table("entry_lines")
    op.drop_table("point_rollups")
    op.drop_index("ix_balances_store_id_lifetime", table_name="balances")
    op.drop_index(
        "ix_point_entries_customer_id_occurred_at_id_kind_points", table_name="point_entries"
    )
    op.drop_index("ix_point_entries_store_id_occurred_at_id", table_name="point_entries")
