"""The customer's `loyalty_coupons` meta: every coupon issued through a storefront request, the
auto-issue tier or a full stamp card is listed there exactly once, whichever path finished it.

A coupon can be finished by the run that asked for it, by a later sync after a crash or an
unreachable store (`Redeemer.finish_pending`), or by a storefront request read again. So no path
pushes the meta on its own account: the ledger records when a redemption's coupon reached the
meta (`redemptions.listed_at`), and
- a storefront answer lists its coupon in the write that clears the request (`sync.storefront`),
  then records it;
- the sync's `list_coupons` step (after the storefront and the stamp rewards, before the balance
  write-back) lists every other coupon created in the store and not recorded yet: it reads those
  customers by id (`include=`, 100 a request), appends what their list lacks, writes the list
  back (`PUT customers/{id}`) and records the coupons. A write that fails leaves them for the next
  sync.
Entries are matched by `redemption_id`, so a coupon the list already holds (a write whose answer
was lost) is never appended twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from ledger import redemptions as ledger
from ledger.models import Redemption
from rules.stamps import RewardKind
from sync.client import StoreClient
from sync.errors import StoreError
from sync.paging import UNREADABLE, is_unreadable
from sync.quarantine import valid_id
from sync.redaction import redact

log = logging.getLogger("sync.coupon_lists")

UnitOfWork = Callable[[], AbstractContextManager[Session]]
COUPONS_KEY = "loyalty_coupons"


def read_customers(
    client: StoreClient, ids: Sequence[int], errors: list[str]
) -> list[dict[str, Any]]:
    """The customers among `ids` with their meta (`include=`, 100 a request). One whose answer
    cannot be decoded (a plugin's meta nested past the bound, or too big: `Listing.by_ids` reads
    its batch again in halves down to it) is left out and named in `errors` and the log: it
    waits, and the others are answered."""
    params = {"role": "all", "orderby": "id"}
    found = client.get_by_ids("customers", ids, params, unusable_missing=True)
    customers, asked = [], set(ids)
    for customer in found:
        if valid_id(customer) not in asked:  # an id as text, say: whose it is, nothing tells
            shown = customer.get("id") if isinstance(customer, dict) else type(customer).__name__
            message = redact(
                f"a customer answered without a usable id ({shown!r:.60}) was left out"
            )
            errors.append(message)
            log.warning("%s", message)
        elif is_unreadable(customer):
            why = customer[UNREADABLE]
            message = redact(f"customer {customer['id']} could not be read, left for later: {why}")
            errors.append(message)
            log.warning("%s", message)
        elif isinstance(customer, dict):
            customers.append(customer)
    return customers


def meta_value(customer: dict[str, Any], key: str) -> Any:
    rows = customer.get("meta_data")
    for row in rows if isinstance(rows, list) else ():
        if isinstance(row, dict) and row.get("key") == key:
            return row.get("value")
    return None


def coupons_list(customer: dict[str, Any]) -> list[Any]:
    """The customer's `loyalty_coupons` list as read (a JSON text or a list; [] otherwise)."""
    value = meta_value(customer, COUPONS_KEY)
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: brackets nested a thousand deep
            return []
    return list(value) if isinstance(value, list) else []


def coupon_entry(row: Redemption) -> dict[str, Any]:
    """The list's entry for a redemption: `{code, amount, expires, redemption_id}`, and for a
    stamp card's reward which card, which reward and the discount type (the amount of a free
    item is then its percentage, 100.00)."""
    entry: dict[str, Any] = {
        "code": row.code,
        "amount": f"{Decimal(row.amount):.2f}",
        "expires": row.expires_at.isoformat(),
        "redemption_id": row.id,
    }
    if row.channel == ledger.STAMPS_CHANNEL:
        kind = json.loads(row.coupon or "{}").get("discount_type", "fixed_cart")
        reward = RewardKind.FREE_ITEM if kind == "percent" else RewardKind.AMOUNT
        entry |= {"stamp_card": row.tier, "reward": reward.value, "discount_type": kind}
    return entry


def appended(known: list[Any], entries: Sequence[dict[str, Any]]) -> list[Any]:
    """`known` with the entries whose redemption it does not list yet, at the end."""
    listed = {  # only ids a set can hold: a list or object there (anyone may write the meta)
        rid  # stopped every sync with TypeError, the coupon made and its request replayed
        for c in known
        if isinstance(c, dict) and isinstance(rid := c.get("redemption_id"), int | str)
    }
    return [*known, *(e for e in entries if e["redemption_id"] not in listed)]


def entry_of(unit_of_work: UnitOfWork, redemption_id: int) -> dict[str, Any]:
    with unit_of_work() as session:
        row = session.get(Redemption, redemption_id)
        assert row is not None, redemption_id
        return coupon_entry(row)


def mark_listed(
    unit_of_work: UnitOfWork, redemption_ids: Collection[int], *, now: datetime
) -> None:
    with unit_of_work() as session:
        ledger.mark_listed(session, redemption_ids, now=now)


@dataclass
class ListCounts:
    listed: int = 0  # coupons recorded as listed this run
    customers_written: int = 0
    errors: list[str] = field(default_factory=list)


def list_coupons(
    client: StoreClient, unit_of_work: UnitOfWork, store_id: int, *, now: datetime
) -> ListCounts:
    """List every created coupon the ledger has not recorded as listed (see the module)."""
    counts = ListCounts()
    with unit_of_work() as session:
        waiting: dict[int, list[dict[str, Any]]] = {}
        for row, wc_id in ledger.unlisted(session, store_id):
            waiting.setdefault(wc_id, []).append(coupon_entry(row))
    ids = sorted(waiting)
    for start in range(0, len(ids), client.per_page):
        chunk = ids[start : start + client.per_page]
        for customer in read_customers(client, chunk, counts.errors):
            if customer.get("id") not in waiting:
                continue
            wc_id = int(customer["id"])
            entries = waiting[wc_id]
            known = coupons_list(customer)
            coupons = appended(known, entries)
            if len(coupons) > len(known):
                try:
                    client.put(
                        f"customers/{wc_id}",
                        {"meta_data": [{"key": COUPONS_KEY, "value": json.dumps(coupons)}]},
                    )
                except StoreError as error:  # listed by the next sync
                    counts.errors.append(redact(f"customer {wc_id}: {error}"))
                    log.warning("could not list the coupons of customer %d: %s", wc_id, error)
                    continue
                counts.customers_written += 1
            mark_listed(unit_of_work, [e["redemption_id"] for e in entries], now=now)
            counts.listed += len(entries)
    return counts
