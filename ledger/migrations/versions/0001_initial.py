"""The initial ledger schema: stores, customers, append-only point entries, cached balances and the
sync's bookkeeping tables.

Revision ID: 0001
Revises:
Create Date: 2024-11-23

Self-contained on purpose (plain SQLAlchemy types, names spelled out as the models' naming
convention gives them): later model changes must not change what this revision creates.
`sa.DateTime(timezone=True)` renders as the models' `UTCDateTime` does on both dialects.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: INTEGER PK aliases the rowid
TS = sa.DateTime(timezone=True)


def _store_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["store_id"], ["stores.id"], name=f"fk_{table}_store_id_stores")


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["customer_id"], ["customers.id"], name=f"fk_{table}_customer_id_customers"
    )


def upgrade() -> None:
    _create_stores_and_customers()
    _create_entries_and_balances()
    _create_sync_tables()


def _create_stores_and_customers() -> None:
    op.create_table(
        "stores",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stores"),
        sa.UniqueConstraint("key", name="uq_stores_key"),
    )
    op.create_table(
        "customers",
        sa.Column("id", ID, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("wc_id", sa.BigInteger(), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("is_guest", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint(
            "(is_guest AND wc_id IS NULL AND email IS NOT NULL) OR (NOT is_guest AND wc_id IS NOT NULL)",
            name="ck_customers_identity",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        _store_fk("customers"),
    )
    where_account = sa.text("wc_id IS NOT NULL")
    op.create_index(
        "ux_customers_store_id_wc_id",
        "customers",
        ["store_id", "wc_id"],
        unique=True,
        sqlite_where=where_account,
        postgresql_where=where_account,
    )
    where_guest = sa.text("is_guest")
    op.create_index(
        "ux_customers_store_id_guest_email",
        "customers",
        ["store_id", "email"],
        unique=True,
        sqlite_where=where_guest,
        postgresql_where=where_guest,
    )


def _create_entries_and_balances() -> None:
    op.create_table(
        "point_entries",
        sa.Column("id", ID, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.String(255), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("rule_version", sa.String(64), nullable=True),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint("points <> 0", name="ck_point_entries_nonzero_points"),
        sa.PrimaryKeyConstraint("id", name="pk_point_entries"),
        sa.UniqueConstraint(
            "store_id", "idempotency_key", name="uq_point_entries_store_id_idempotency_key"
        ),
        _store_fk("point_entries"),
        _customer_fk("point_entries"),
    )
    op.create_index(
        "ix_point_entries_store_id_source_ref", "point_entries", ["store_id", "source_ref"]
    )
    op.create_index("ix_point_entries_customer_id_id", "point_entries", ["customer_id", "id"])
    op.create_table(
        "balances",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("lifetime", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_balances"),
        _customer_fk("balances"),
        _store_fk("balances"),
    )
    op.create_index("ix_balances_store_id_balance", "balances", ["store_id", "balance"])


def _create_sync_tables() -> None:
    _create_cursor_quarantine_and_runs()
    _create_order_tracking()


def _create_cursor_quarantine_and_runs() -> None:
    op.create_table(
        "sync_cursors",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("position", TS, nullable=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("store_id", "resource", name="pk_sync_cursors"),
        _store_fk("sync_cursors"),
    )
    op.create_table(
        "quarantined_items",
        sa.Column("id", ID, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("resource", sa.String(64), nullable=False),
        sa.Column("item_ref", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("field", sa.String(255), nullable=True),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_quarantined_items"),
        sa.UniqueConstraint(
            "store_id",
            "resource",
            "item_ref",
            name="uq_quarantined_items_store_id_resource_item_ref",
        ),
        _store_fk("quarantined_items"),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
        _store_fk("sync_runs"),
    )
    op.create_index("ix_sync_runs_store_id_started_at", "sync_runs", ["store_id", "started_at"])


def _create_order_tracking() -> None:
    op.create_table(
        "tracked_orders",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", ID, nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("modified_at", TS, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("rule_version", sa.String(64), nullable=True),
        sa.Column("refund_ids", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(128), nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("store_id", "order_id", name="pk_tracked_orders"),
        _store_fk("tracked_orders"),
        _customer_fk("tracked_orders"),
    )
    op.create_index("ix_tracked_orders_customer_id", "tracked_orders", ["customer_id"])
    op.create_table(
        "refund_details",
        sa.Column("store_id", ID, nullable=False),
        sa.Column("refund_id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("fetched_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("store_id", "refund_id", name="pk_refund_details"),
        _store_fk("refund_details"),
    )
    op.create_index(
        "ix_refund_details_store_id_order_id", "refund_details", ["store_id", "order_id"]
    )
    op.create_table(
        "meta_writes",
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("written_balance", sa.BigInteger(), nullable=True),
        sa.Column("written_lifetime", sa.BigInteger(), nullable=True),
        sa.Column("written_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("gave_up", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name="pk_meta_writes"),
        _customer_fk("meta_writes"),
    )


TABLES_IN_DROP_ORDER = (
    "meta_writes",
    "refund_details",
    "tracked_orders",
    "sync_runs",
    "quarantined_items",
    "sync_cursors",
    "balances",
    "point_entries",
    "customers",
    "stores",
)


def downgrade() -> None:
    for table in TABLES_IN_DROP_ORDER:
        op.drop_table(table)  # its indexes go with it
