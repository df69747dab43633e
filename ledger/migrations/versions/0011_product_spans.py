"""Points Sources per product over any range from a few rows per product: `product_spans` in place
of the daily `product_rollups`.

Revision ID: 0011_product_spans
Revises: 0010_history_tiers_coupon_lists
Create Date: 2026-12-02

`product_spans` is a segment tree over the calendar per store, product and category (see
`ledger.product_spans`): span `2**22 + day.toordinal()` holds one UTC day's entry lines, span n
the sum of spans 2n and 2n + 1, span 1 all time. A range of days is at most two spans per level,
so the report reads the same few rows per product at 100,000 entries as at 1,000,000, where the
daily rollup read one row per product and day of the range. Its leaves are the daily rollup's
rows, so that table goes.

Filled from the entry lines already there, in SQL (the leaves, then each level from the one
below), so the ledger verifies at once. The downgrade refills `product_rollups` from the lines.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_product_spans"
down_revision: str | None = "0010_history_tiers_coupon_lists"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LEAF = 1 << 22  # as ledger.product_spans.LEAF is today
LEVELS = 22  # spans above the leaves: LEAF >> 22 is the root, span 1


def _store_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=f"fk_{table}_store_id_stores")


def upgrade() -> None:
    op.create_table(
        "product_spans",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("span", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
        sa.Column("category_id", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "store_id", "span", "product_id", "category_id", name="pk_product_spans"
        ),
        _store_fk("product_spans"),
    )
    ordinal = (
        "(day - DATE '0001-01-01' + 1)"
        if op.get_bind().dialect.name == "postgresql"
        else "CAST(julianday(day) - 1721424.5 AS INTEGER)"
    )
    op.execute(
        "INSERT INTO product_spans (store_id, span, product_id, category_id, points)"
        f" SELECT store_id, {LEAF} + {ordinal}, product_id, category_id, SUM(points)"
        " FROM entry_lines GROUP BY store_id, day, product_id, category_id"
    )
    for level in range(LEVELS):
        first = LEAF >> level
        op.execute(
            "INSERT INTO product_spans (store_id, span, product_id, category_id, points)"
            " SELECT store_id, span / 2, product_id, category_id, SUM(points) FROM product_spans"
            f" WHERE span >= {first} AND span < {2 * first}"
            " GROUP BY store_id, span / 2, product_id, category_id"
        )
    op.drop_table("product_rollups")


def downgrade() -> None:
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
    op.execute(
        "INSERT INTO product_rollups (store_id, day, product_id, category_id, points, lines)"
        " SELECT store_id, day, product_id, category_id, SUM(points), COUNT(*) FROM entry_lines"
        " GROUP BY store_id, day, product_id, category_id"
    )
    op.drop_table("product_spans")
