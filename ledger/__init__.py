"""The ledger: the append-only, auditable record of every point, on SQLite or PostgreSQL.

- `models`: the tables; `types.UTCDateTime`: aware-UTC timestamps on both databases.
- `session`: `create_engine_for`, `session_scope`, `check_schema_current`.
- `migrate`: Alembic configured in code (`upgrade`, `current_revision`, `head_revision`).
- `entries`: `append_entries` (idempotent, moves cached balances), `ref_holdings`.
- `customers`: stores, account and guest customers (race-safe get-or-create).
- `balances`: `verify_balances`, `list_balances`; `admin`: manual `adjust`.
"""
