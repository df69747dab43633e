"""Points go only to accounts that exist: an account the ledger has never seen is asked of the store.

A manual adjustment (`loyalty adjust`, the dashboard's form) names a WooCommerce customer id. The
ledger learns accounts from the sync; one it does not know yet may be a customer who signed up
since the last sync, or a mistyped id. Booked to a mistyped id, the points would sit in an account
nobody holds until the write-back found the store has no such customer. So the store is asked
first, one request (`GET customers?include=<id>`, with the client's timeout and retries), and only
an account the store has, or that the ledger already holds, is adjusted.
"""

from __future__ import annotations

from loyalty.config import StoreConfig
from loyalty.errors import UnknownAccount
from loyalty.sync_settings import make_client
from rules import notes
from sync.customers import fetch_existing_customer_ids
from sync.errors import StoreError


def require_store_account(store: StoreConfig, wc_id: int) -> None:
    """Return when the store has account `wc_id`; else UnknownAccount, which says why.

    A store that cannot be asked (down, refusing, answering nonsense) is not taken as a yes: the
    adjustment waits until it answers, or until a sync has brought the account into the ledger.
    """
    client = make_client(store)
    try:
        found = fetch_existing_customer_ids(client, [wc_id], unproven_exist=False)
    except StoreError as error:
        raise UnknownAccount(notes.ADJUST_UNASKED(customer=wc_id, error=error)) from None
    finally:
        client.close()
    if wc_id not in found:
        raise UnknownAccount(notes.ADJUST_UNKNOWN_ACCOUNT(customer=wc_id))
