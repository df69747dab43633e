"""The admin reports: Points Status, Points Sources, Top Earning Customers, Points History, and
points per product. Read-only SQL aggregates over the ledger; nothing here writes.

- `status.points_status` and `sources.points_sources` read the daily rollups, never the entries.
- `customers.top_customers` ranks by points earned in a range; `history.history` pages entries
  and tier moves with a keyset cursor and a running balance.
- `products.product_customers`: which customers earned points on which product.

Every report takes a `Period` (inclusive UTC days; either end open) and returns frozen dataclasses
that the CLI prints as a table, JSON or CSV, and the HTML outputs render.
"""
