"""Write-backs given up for any reason but a deleted account are owed again.

Revision ID: 0012_meta_writes_retried
Revises: 0011_product_spans
Create Date: 2026-12-04

Until the write-back gave up only on customers the store says are deleted (`GONE_CODES` in
`sync.customer_meta`), it also gave up after ten failed runs of any kind: a store down for ten
runs left every live customer's row `gave_up`, and nothing ever wrote their balances again. The
rows whose last error names none of those codes are set back to owed (their attempts and last
error kept for the admin), so the next sync writes them. The downgrade changes nothing: which
rows the old rule had given up is not known any more, and owing them is right under either.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_meta_writes_retried"
down_revision: str | None = "0011_product_spans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The store's error codes for an account that does not exist, as `sync.customer_meta.GONE_CODES`
#: is today; a failure is recorded as `{when} customer {id}: {code}: {message}`.
GONE_CODES = ("woocommerce_rest_invalid_id", "wc_user_invalid_id", "rest_user_invalid_id")


def upgrade() -> None:
    meta_writes = sa.table(
        "meta_writes", sa.column("gave_up", sa.Boolean()), sa.column("last_error", sa.Text())
    )
    gone = sa.or_(*(meta_writes.c.last_error.contains(f": {code}: ") for code in GONE_CODES))
    op.execute(
        meta_writes.update()
        .where(
            meta_writes.c.gave_up.is_(True),
            sa.or_(meta_writes.c.last_error.is_(None), sa.not_(gone)),
        )
        .values(gave_up=False)
    )


def downgrade() -> None:
    pass
