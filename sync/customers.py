"""Customers, as the sync reads them: new registrations, newest first, down to the last one known.

WooCommerce has no date filter on customers and lists by name by default (so the same customer can
appear on two pages); ids grow with registration, so `orderby=id&order=desc` from the top finds the
new ones and stops at the first id already known. An item without a usable id is passed on with the
new ones around it (the sync quarantines it). `role=all` because shops register customers under
other roles too (subscribers, wholesale roles).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from itertools import takewhile
from typing import Any

from sync.client import StoreClient
from sync.errors import InvalidSourceData, StoreAnswerUnusable
from sync.fields import holdable_email
from sync.order_data import CUSTOMER_FIELDS
from sync.paging import UNREADABLE, ListingStalled, is_unreadable
from sync.quarantine import valid_id


def fetch_new_customers(
    client: StoreClient, *, above_id: int
) -> Generator[list[dict[str, Any]], None, None]:
    """Pages of customers with id > `above_id`, newest first."""
    params = {
        "role": "all",
        "orderby": "id",
        "order": "desc",
        "_fields": CUSTOMER_FIELDS,
    }
    # From the top (a full sync, a first run) every page is read: they are asked for
    # `client.concurrency` at a time. Otherwise the walk stops at the first known id, usually on
    # its first page, and pages sent ahead would be requests wasted.
    ahead = client.concurrency if above_id <= 0 else 1
    for page in client.listing("customers").numbered(params, ahead=ahead):
        fresh = list(takewhile(lambda c: (valid_id(c) or above_id + 1) > above_id, page))
        yield fresh  # items without a usable id among the new ones come along: quarantined
        if len(fresh) < len(page):
            return


def fetch_customers_by_registration(
    client: StoreClient,
) -> Generator[list[dict[str, Any]], None, None]:
    """Pages of every customer, the most recently registered first (`orderby=registered_date`);
    the caller stops once it reached the accounts it needs (a backfill since a date)."""
    params = {
        "role": "all",
        "orderby": "registered_date",
        "order": "desc",
        "_fields": CUSTOMER_FIELDS,
    }
    yield from client.listing("customers").numbered(params)


def fetch_customers_by_ids(
    client: StoreClient, ids: Iterable[int]
) -> Generator[list[dict[str, Any]], None, None]:
    """Pages of the customers among `ids` that the store has (`Listing.by_ids`)."""
    params = {"role": "all", "orderby": "id", "_fields": CUSTOMER_FIELDS}
    yield from client.listing("customers").by_ids(ids, params)


def fetch_customer_email(client: StoreClient, wc_id: int) -> str | None:
    """A customer's account email (`GET customers/{id}`), None if the answer has none the ledger
    can hold (a NUL in it, over 320 characters: PostgreSQL refused the redemption's row, an
    internal error; no coupon can be restricted to it either)."""
    item = client.get(f"customers/{wc_id}").items
    email = item.get("email") if isinstance(item, dict) else None
    if not isinstance(email, str) or not email.strip():
        return None
    try:
        return holdable_email(email.strip().lower(), "email")
    except InvalidSourceData:
        return None


def fetch_existing_customer_ids(
    client: StoreClient, ids: Iterable[int], *, unproven_exist: bool = True
) -> set[int]:
    """Which of `ids` the store still has, `client.per_page` a request (`Listing.by_ids`); the
    rest were deleted.

    An answer that proves nothing (customers that were not asked for: a store or proxy ignoring
    `include`; an item without a usable id) leaves its batch counted as still there: an account is
    only ever retired on evidence; so does an item the store could not deliver readably even
    alone (`unreadable_item`). Where the store must vouch for an account instead
    (`unproven_exist=False`: `loyalty adjust` of an account the ledger does not know), such an
    answer raises a StoreError (the `ListingStalled`, or StoreAnswerUnusable): taken as a yes,
    it booked points to an id the store never confirmed (reviews, 4 Dec).
    """
    listing = client.listing("customers")
    params = {"role": "all", "orderby": "id", "_fields": "id"}  # only whether each is there
    wanted = sorted(set(ids))
    found: set[int] = set()
    for start in range(0, len(wanted), listing.per_page):
        batch = wanted[start : start + listing.per_page]
        try:
            for items in listing.by_ids(batch, params):
                unread = [item for item in items if is_unreadable(item)]
                if unread and not unproven_exist:
                    raise StoreAnswerUnusable(
                        f"customer {unread[0]['id']} could not be read: {unread[0][UNREADABLE]}"
                    )
                found |= {i for i in map(valid_id, items) if i is not None}
        except ListingStalled:
            if not unproven_exist:
                raise
            found |= set(batch)
    return found
