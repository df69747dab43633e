"""The ledger: the append-only, auditable record of every point, on SQLite or PostgreSQL.

- `models`: the tables; `types.UTCDateTime`: aware-UTC timestamps on both databases.
- `session`: `create_engine_for`, `session_scope`, `check_schema_current`.
- `migrate`: Alembic configured in code (`upgrade`, `current_revision`, `head_revision`).
- `entries`: `append_entries` (idempotent, moves cached balances, writes each entry's running
  balance, moves the rollups), `ref_holdings`, `remember_products`, `remember_categories`.
- `rollups`, `customer_rollups`: the report rollups, moved with the entries; `rollup_checks`:
  `verify_rollups`, their proof against the entries.
- `customers`: stores, account and guest customers (race-safe get-or-create).
- `balances`: `verify_balances`, `list_balances`; `admin`: manual `adjust`.
"""
