"""Meta data rows as WooCommerce keeps them: which keys it hides, and how a PUT's `meta_data` applies.

For the store's customer, order and coupon writes. Nothing here holds state.
"""

from __future__ import annotations

from collections.abc import Callable

from sandbox.formats import Json

# WooCommerce never returns these customer meta keys (WC_Customer_Data_Store::exclude_internal_meta_keys).
HIDDEN_META_PREFIXES = (
    "_woocommerce_persistent_cart",
    "closedpostboxes_",
    "metaboxhidden_",
    "manageedit-",
)
TABLE_PREFIX = "wp_"


def is_hidden_customer_meta(key: str) -> bool:
    """True for customer meta keys WooCommerce stores but never returns over the API."""
    return (
        key.startswith(HIDDEN_META_PREFIXES)
        or TABLE_PREFIX in key
        or key.lower().startswith(TABLE_PREFIX)
    )


def apply_meta_updates(
    visible: list[Json],
    hidden: list[Json],
    updates: list[Json],
    next_id: Callable[[], int],
    is_hidden: Callable[[str], bool],
) -> list[Json]:
    """Apply a PUT's `meta_data` as WC_Data::update_meta_data + save_meta_data do.

    - an entry with an `id` found among the returned rows updates that row (key and value);
    - an entry without one updates the first returned row with that key and removes the other
      rows of that key; with none found (or an unknown `id`) every row of that key is removed
      and one new row added (add_meta_data with $unique);
    - `value: null` (or no value) deletes; a hidden key is never among the returned rows, so a
      key-only write of it adds one more row each time.
    Returns the new visible rows; new hidden rows are appended to `hidden`.
    """
    rows = [dict(row) for row in visible]
    for entry in updates:
        key, value, meta_id = entry["key"], entry.get("value"), entry.get("id")
        if meta_id:
            target = next((row for row in rows if row["id"] == meta_id), None)
        else:
            matches = [row for row in rows if row["key"] == key]
            for row in matches[1:]:
                row["value"] = None
            target = matches[0] if matches else None
        if target is None:
            for row in rows:
                if row["key"] == key:
                    row["value"] = None
            rows.append({"id": None, "key": key, "value": value})
        else:
            target.update(key=key, value=value)
    kept: list[Json] = []
    for row in rows:
        if row["value"] is None:
            continue  # a saved row is deleted; an unsaved one is simply never written
        if row["id"] is None:
            row["id"] = next_id()
        (hidden if is_hidden(row["key"]) else kept).append(row)
    return kept
