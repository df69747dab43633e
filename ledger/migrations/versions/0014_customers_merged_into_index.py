"""An index on `customers.merged_into_id`, for what came to a customer.

Revision ID: 0014_customers_merged_into_index
Revises: 0013_customers_merged_into
Create Date: 2026-12-04

A signup earns once per lineage of merges: an account registered again after its deletion gets its
old points back through its email's guest, and its signup with them, so it earns no second one
(`ledger.customers.merged_from`, read for each page of new accounts). That looks customers up by
`merged_into_id`, which only the few merged customers hold: a partial index keeps it small.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_customers_merged_into_index"
down_revision: str | None = "0013_customers_merged_into"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ix_customers_merged_into_id"
WHERE = sa.text("merged_into_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        NAME, "customers", ["merged_into_id"], sqlite_where=WHERE, postgresql_where=WHERE
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="customers")
