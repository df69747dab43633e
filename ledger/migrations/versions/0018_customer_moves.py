"""Every move of a customer's points to another: `customer_moves`, replacing `merged_into_id`.

Revision ID: 0018_customer_moves
Revises: 0017_refunds_no_order_index
Create Date: 2026-12-05

A guest that registers, or an account deleted in the store, gives its balance to another customer
(`sync.owners.move_holdings`) and keeps its entries. `customers.merged_into_id` recorded one heir
per customer: a second move overwrote it (a guest whose email changed hands, merged again with
the newcomer's points) or cleared it (the guest received a deleted account's balance), and every
entry from before counted as the wrong customer's: a newcomer was charged for an expired order of
the first owner's. Each move is now a row, after the store's last entry when it was made: who
holds an entry's points is found by the moves after it (`ledger.customers.heirs`).

The upgrade fills it in for the moves already made: each transfer pair (`transfer:guest:{id}`,
`transfer:deleted:{id}`) is a move from the customer its reference names to the other customer
of the pair, just before the pair; a customer whose `merged_into_id` names another than its last
pair's receiver (a move of a zero balance leaves no pair) moved there after its last entry (the
reading before this revision, for every entry it has). Then the column is dropped. The downgrade
makes it again from the moves (each customer's last, unless it received a balance since) and
drops the table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_customer_moves"
down_revision: str | None = "0017_refunds_no_order_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # as the ids it refers to
PREFIXES = ("transfer:guest:", "transfer:deleted:")
INDEX = "ix_customer_moves_from_customer_id_after_entry_id_id"

customers = sa.table(
    "customers",
    sa.column("id", ID),
    sa.column("store_id", ID),
    sa.column("merged_into_id", ID),
)
entries = sa.table(
    "point_entries",
    sa.column("id", ID),
    sa.column("store_id", ID),
    sa.column("customer_id", ID),
    sa.column("source_ref", sa.String()),
)
moves = sa.table(
    "customer_moves",
    sa.column("id", ID),
    sa.column("store_id", ID),
    sa.column("from_customer_id", ID),
    sa.column("to_customer_id", ID),
    sa.column("after_entry_id", ID),
)


def upgrade() -> None:
    op.create_table(
        "customer_moves",
        sa.Column("id", ID, nullable=False),
        sa.Column("store_id", ID, nullable=False),
        sa.Column("from_customer_id", ID, nullable=False),
        sa.Column("to_customer_id", ID, nullable=False),
        sa.Column("after_entry_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customer_moves"),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name="fk_customer_moves_store_id_stores"
        ),
        sa.ForeignKeyConstraint(
            ["from_customer_id"],
            ["customers.id"],
            name="fk_customer_moves_from_customer_id_customers",
        ),
        sa.ForeignKeyConstraint(
            ["to_customer_id"], ["customers.id"], name="fk_customer_moves_to_customer_id_customers"
        ),
    )
    op.create_index(INDEX, "customer_moves", ["from_customer_id", "after_entry_id", "id"])
    connection = op.get_bind()
    rows: list[dict[str, int]] = []
    last: dict[int, dict[str, int]] = {}  # each source's latest move
    # 1. The transfer pairs, in the order they were appended: the source is named in the
    # reference, the receiver is the other customer of the pair (+B, or -B for a debt moved).
    source_entry: dict[str, int] = {}  # each reference's latest entry on its source
    pairs = sa.select(
        entries.c.id, entries.c.store_id, entries.c.customer_id, entries.c.source_ref
    ).where(sa.or_(*(entries.c.source_ref.startswith(prefix) for prefix in PREFIXES)))
    for entry_id, store_id, customer_id, ref in connection.execute(pairs.order_by(entries.c.id)):
        source = ref.rsplit(":", 1)[1]
        if not source.isdigit():
            continue
        if int(customer_id) == int(source):
            source_entry[ref] = int(entry_id)
            continue
        move = {
            "store_id": int(store_id),
            "from_customer_id": int(source),
            "to_customer_id": int(customer_id),
            "after_entry_id": source_entry.get(ref, int(entry_id)) - 1,
        }
        rows.append(move)
        last[int(source)] = move
    # 2. A move of a zero balance left no pair: `merged_into_id` names its receiver, and took
    # every entry of the source (the reading before this revision).
    merged = sa.select(
        customers.c.id,
        customers.c.store_id,
        customers.c.merged_into_id,
        sa.select(sa.func.coalesce(sa.func.max(entries.c.id), 0))
        .where(entries.c.customer_id == customers.c.id)
        .scalar_subquery(),
    ).where(customers.c.merged_into_id.is_not(None))
    for source, store_id, target, last_entry in connection.execute(merged.order_by(customers.c.id)):
        latest = last.get(int(source))
        if latest is not None and latest["to_customer_id"] == int(target):
            continue
        after = max(int(last_entry), latest["after_entry_id"] if latest else 0)
        rows.append(
            {
                "store_id": int(store_id),
                "from_customer_id": int(source),
                "to_customer_id": int(target),
                "after_entry_id": after,
            }
        )
    if rows:  # in the order they happened, so that moves at one position keep it (by id)
        rows.sort(key=lambda move: move["after_entry_id"])
        connection.execute(moves.insert(), rows)
    op.drop_column("customers", "merged_into_id")


def downgrade() -> None:
    # ALTER TABLE ... ADD/DROP COLUMN, on SQLite too (3.35 and later): a batch copy of
    # `customers` would drop the table every entry refers to, which its foreign keys refuse.
    op.add_column("customers", sa.Column("merged_into_id", ID, nullable=True))
    connection = op.get_bind()
    heir: dict[int, int] = {}
    ordered = sa.select(moves.c.from_customer_id, moves.c.to_customer_id).order_by(
        moves.c.after_entry_id, moves.c.id
    )
    for source, target in connection.execute(ordered):
        heir[int(source)] = int(target)
        heir.pop(int(target), None)  # the receiver holds points of its own again
    if heir:
        connection.execute(
            customers.update()
            .where(customers.c.id == sa.bindparam("source"))
            .values(merged_into_id=sa.bindparam("target")),
            [{"source": source, "target": target} for source, target in sorted(heir.items())],
        )
    op.drop_index(INDEX, table_name="customer_moves")
    op.drop_table("customer_moves")
