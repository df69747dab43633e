"""Orders, as the sync reads them: a modified-date window (live and trashed), and by id.

WooCommerce's `status=any` covers every status but trash, and `any` anywhere in a list wins, so
trashed orders are listed on their own. An order deleted outright vanishes from every listing: only
asking for known ids (`include=`) reveals it.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sync.client import StoreClient
from sync.order_data import ORDER_FIELDS
from sync.window import ModifiedWindow, WindowPage

LIVE = "any"
TRASH = "trash"


def fetch_orders_window(
    client: StoreClient,
    *,
    status: str,
    lo: datetime,
    hi: datetime,
    per_page: int,
    concurrency: int,
    on_total: Callable[[int], None] | None = None,
) -> Generator[WindowPage, None, None]:
    """Pages of orders with `status` modified between `lo` and `hi` (inclusive, whole seconds)."""
    window = ModifiedWindow(
        client,
        "orders",
        {"status": status, "_fields": ORDER_FIELDS},
        lo=lo,
        hi=hi,
        per_page=per_page,
        concurrency=concurrency,
        on_total=on_total,
    )
    return window.pages()


def fetch_known_orders(
    client: StoreClient, last_status: Mapping[int, str]
) -> Generator[tuple[list[dict[str, Any]], set[int]], None, None]:
    """For known orders (id -> the status last seen), `client.per_page` at a time: (found, gone).

    Each batch is asked for in the listing it was last seen in (live or trash); ids not there are
    asked for in the other one (trashed or restored since); ids in neither were deleted outright.
    """
    for status, other in ((LIVE, TRASH), (TRASH, LIVE)):
        wanted = sorted(
            oid for oid, last in last_status.items() if (last == TRASH) == (status == TRASH)
        )
        for start in range(0, len(wanted), client.per_page):
            batch = set(wanted[start : start + client.per_page])
            found = fetch_orders_by_ids(client, batch, status=status)
            missing = batch - {int(o["id"]) for o in found}
            if missing:
                found += fetch_orders_by_ids(client, missing, status=other)
            yield found, batch - {int(o["id"]) for o in found}


def fetch_orders_by_ids(
    client: StoreClient, ids: Iterable[int], *, status: str
) -> list[dict[str, Any]]:
    """The orders among `ids` that exist with `status` (`any` or `trash`), `client.per_page` ids a
    request."""
    params = {"status": status, "orderby": "id", "_fields": ORDER_FIELDS}
    return client.get_by_ids("orders", ids, params)


def fetch_customer_orders(
    client: StoreClient, wc_id: int, *, status: str
) -> Iterator[list[dict[str, Any]]]:
    """Every order of one account with `status` (`any` or `trash`), lowest id first, a page at a
    time (`Listing.numbered`: to a short page, X-WP-TotalPages never trusted)."""
    params = {
        "customer": wc_id,
        "status": status,
        "orderby": "id",
        "order": "asc",
        "_fields": ORDER_FIELDS,
    }
    for items in client.listing("orders").numbered(params):
        if items:
            yield items
