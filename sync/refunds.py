"""Refund details: what each refund itemises, which the order itself only sums up.

An order embeds `refunds: [{id, reason, total}]`; which lines, shipping or fees a refund covers is only
in the refund resource. Recent WooCommerce lists refunds across orders at `GET refunds`, so a sync
fetches them a page (`[store] per_page`, 100) at a time instead of one request per order. Older
stores lack the route (404 `rest_no_route`): then each order's refunds are read from
`orders/{id}/refunds`.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from datetime import datetime
from typing import Any

from sync.client import StoreClient
from sync.errors import StoreRejected
from sync.fields import is_id
from sync.order_data import REFUND_FIELDS
from sync.paging import item_id
from sync.window import wc_time


def fetch_refunds_created(
    client: StoreClient, *, after: datetime | None, before: datetime
) -> Generator[list[dict[str, Any]], None, None]:
    """Pages of refunds created in (after, before); `after=None` means since the beginning.

    A refund deleted meanwhile may shift one past a page boundary; the sync fetches any refund an
    order names that it has not seen by id, so paging by number is safe here. The listing is
    always read to its end, so its pages are asked for `client.concurrency` at a time.
    """
    params: dict[str, Any] = {
        "before": wc_time(before),
        "dates_are_gmt": "true",
        "orderby": "id",
        "order": "asc",
        "_fields": REFUND_FIELDS,
    }
    if after is not None:
        params["after"] = wc_time(after)
    yield from client.listing("refunds").numbered(params, ahead=client.concurrency)


def fetch_refunds_by_ids(
    client: StoreClient, refund_ids_by_order: dict[int, set[int]]
) -> list[dict[str, Any]]:
    """The named refunds, 100 ids a request; per order where the store has no `refunds` route."""
    wanted = {rid for ids in refund_ids_by_order.values() for rid in ids}
    try:
        # A refund without a usable id holds back only the order that names it (quarantined).
        params = {"_fields": REFUND_FIELDS}
        return client.get_by_ids("refunds", wanted, params, unusable_missing=True)
    except StoreRejected as rejected:
        if rejected.code != "rest_no_route":
            raise
        return _fetch_per_order(client, refund_ids_by_order)


def _fetch_per_order(
    client: StoreClient, refund_ids_by_order: dict[int, set[int]]
) -> list[dict[str, Any]]:
    """Each order's refunds from `orders/{id}/refunds`, page after page until the ones named are
    found or a short page ends them (an order with more than a hundred refunds lost the rest).
    By id: WooCommerce's default order, by date, leaves refunds made in the same second in no
    fixed order, so one could be on two pages and another on none."""
    found: list[dict[str, Any]] = []
    params = {"orderby": "id", "order": "asc", "_fields": REFUND_FIELDS}
    for order_id in sorted(refund_ids_by_order):
        wanted = set(refund_ids_by_order[order_id])
        with closing(client.listing(f"orders/{order_id}/refunds").numbered(params)) as pages:
            for items in pages:
                for refund in items:
                    if (refund_id := item_id(refund)) in wanted:
                        found.append({**refund, "parent_id": order_id})
                        wanted.discard(refund_id)
                if not wanted:
                    break
    return found


def refund_order_id(refund: dict[str, Any]) -> int | None:
    """The order a refund belongs to: `parent_id` where present, else its `up` link (None: neither
    names an id the ledger can hold, 1 to the BIGINT maximum)."""
    parent = refund.get("parent_id")
    if isinstance(parent, int) and is_id(parent):
        return parent
    links = refund.get("_links")
    ups = links.get("up") if isinstance(links, dict) else None  # PHP sends an empty one as []
    for link in ups if isinstance(ups, list) else []:
        href = link.get("href") if isinstance(link, dict) else None
        if not isinstance(href, str):
            continue
        tail = href.rstrip("/").rsplit("/", 1)[-1]
        if tail.isascii() and tail.isdigit() and len(tail) < 20 and is_id(int(tail)):
            return int(tail)
    return None
