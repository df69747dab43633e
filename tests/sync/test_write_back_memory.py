"""The write-back holds the bodies of the batches in flight, not one for every customer to write."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine

from ledger.customers import account_customer, get_or_create_store
from ledger.models import Balance
from ledger.session import session_scope
from sync import customer_meta
from sync.client import Page

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CUSTOMERS = 450  # five batches of at most a hundred


class BatchStore:
    """Answers every `customers/batch` update as written, noting how many bodies existed then."""

    concurrency = 1
    per_page = 100

    def __init__(self, built: list[int]) -> None:
        self.built = built
        self.built_at_post: list[int] = []

    def post(self, endpoint: str, body: dict[str, Any]) -> Page:
        assert endpoint == "customers/batch"
        self.built_at_post.append(len(self.built))
        items = [{"id": item["id"], "meta_data": item["meta_data"]} for item in body["update"]]
        return Page({"update": items}, None, None, 200)


def _shop(engine: Engine, name: str, accounts: int, balances: int) -> tuple[int, dict[int, int]]:
    """A store with `accounts` accounts (WooCommerce ids 1, 2, ...), the first `balances` of them
    holding as many points as their id; its ledger id, and the ledger id of each account."""
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, name).id
        ids: dict[int, int] = {}
        for wc_id in range(1, accounts + 1):
            customer = account_customer(session, store_id, wc_id, f"c{wc_id}@example.com")
            session.flush()
            ids[wc_id] = customer.id
            if wc_id <= balances:
                balance = Balance(
                    customer_id=customer.id,
                    store_id=store_id,
                    balance=wc_id,
                    lifetime=wc_id,
                    updated_at=NOW,
                )
                session.add(balance)
    return store_id, ids


def _push(
    store: BatchStore, engine: Engine, store_id: int, **more: Any
) -> customer_meta.WriteBackResult:
    return customer_meta.push_balances(
        store,  # type: ignore[arg-type]
        lambda: session_scope(engine),
        store_id,
        balance_key="loyalty_points",
        lifetime_key="loyalty_points_lifetime",
        now=lambda: NOW,
        **more,
    )


def test_each_batch_body_is_built_when_its_request_goes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_id, _ = _shop(engine, "memory-shop", CUSTOMERS, CUSTOMERS)
    built: list[int] = []
    real = customer_meta._meta_update

    def counted(*args: Any) -> dict[str, Any]:
        built.append(1)
        return real(*args)

    monkeypatch.setattr(customer_meta, "_meta_update", counted)
    store = BatchStore(built)
    result = _push(store, engine, store_id)
    assert result.written == CUSTOMERS
    # One request at a time: when a batch goes, the bodies built so far are its own and those of
    # the batches before it (answered and let go), never one of a batch after it.
    assert store.built_at_post == [100, 200, 300, 400, 450]
    again = _push(store, engine, store_id)
    assert again.written == 0


def test_writes_read_a_chunk_at_a_time_keep_their_order_and_batches_with_the_other_meta(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read 130 at a time, 450 balances and 40 customers with only other meta pending (between
    and after them) go out once each, in WooCommerce id order, in five full batches."""
    monkeypatch.setattr(customer_meta, "READ_CHUNK", 130)
    store_id, ids = _shop(engine, "chunked-shop", CUSTOMERS + 40, CUSTOMERS)
    # Other meta for every tenth account with a balance, and for 40 accounts without one.
    others = [wc_id for wc_id in range(1, CUSTOMERS + 41) if wc_id % 10 == 0 or wc_id > CUSTOMERS]
    written_more: list[int] = []

    def stamps(session: Any) -> list[customer_meta.MetaUpdate]:
        return [
            customer_meta.MetaUpdate(
                ids[wc_id],
                wc_id,
                ({"key": "loyalty_stamps", "value": str(wc_id)},),
                lambda session, wc_id=wc_id: written_more.append(wc_id),
            )
            for wc_id in reversed(others)  # in no particular order
        ]

    class Recording(BatchStore):
        def __init__(self) -> None:
            super().__init__([])
            self.sent: list[list[dict[str, Any]]] = []

        def post(self, endpoint: str, body: dict[str, Any]) -> Page:
            self.sent.append(body["update"])
            return super().post(endpoint, body)

    reads: list[int] = []
    real_read = customer_meta.pending_writes

    def read(*args: Any, **kwargs: Any) -> list[customer_meta.PendingWrite]:
        found = real_read(*args, **kwargs)
        reads.append(len(found))
        return found

    monkeypatch.setattr(customer_meta, "pending_writes", read)
    store = Recording()
    result = _push(store, engine, store_id, more_meta=(stamps,))
    assert result.written == CUSTOMERS + 40
    assert [len(batch) for batch in store.sent] == [100, 100, 100, 100, 90]
    sent = [item["id"] for batch in store.sent for item in batch]
    assert sent == list(range(1, CUSTOMERS + 41))
    keys = {item["id"]: [m["key"] for m in item["meta_data"]] for b in store.sent for item in b}
    assert keys[10] == ["loyalty_points", "loyalty_points_lifetime", "loyalty_stamps"]
    assert keys[11] == ["loyalty_points", "loyalty_points_lifetime"]
    assert keys[CUSTOMERS + 1] == ["loyalty_stamps"]
    assert sorted(written_more) == others
    assert reads == [130, 130, 130, 60]  # never more than a chunk of writes read at once
