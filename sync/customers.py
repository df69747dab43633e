"""Customers, as the sync reads them: new registrations, newest first, down to the last one known.

WooCommerce has no date filter on customers and lists by name by default (so the same customer can
appear on two pages); ids grow with registration, so `orderby=id&order=desc` from the top finds the
new ones and stops at the first id already known. `role=all` because shops register customers under
other roles too (subscribers, wholesale roles).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sync.client import StoreClient

PER_PAGE = 100


def fetch_new_customers(client: StoreClient, *, above_id: int) -> Iterator[list[dict[str, Any]]]:
    """Pages of customers with id > `above_id`, newest first."""
    page_number = 1
    while True:
        page = client.get_list(
            "customers",
            {
                "role": "all",
                "orderby": "id",
                "order": "desc",
                "per_page": PER_PAGE,
                "page": page_number,
            },
        )
        fresh = [c for c in page.items if int(c.get("id", 0)) > above_id]
        yield fresh
        if len(fresh) < len(page.items) or len(page.items) < PER_PAGE:
            return
        page_number += 1


def fetch_customer_email(client: StoreClient, wc_id: int) -> str | None:
    """A customer's account email (`GET customers/{id}`), None if the answer has none."""
    item = client.get(f"customers/{wc_id}").items
    email = item.get("email") if isinstance(item, dict) else None
    return email.strip().lower() if isinstance(email, str) and email.strip() else None
