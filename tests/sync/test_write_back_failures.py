"""A write that keeps failing is still owed: only a customer the store says is deleted is given up.

Found by a review (3 Dec): every failure counted toward ten attempts, a whole batch's too, so a
store down for ten runs (a fortnight of daily syncs) had every balance given up for good, and the
summary called those live customers "deleted in the store".
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select

from ledger.models import MetaWrite
from ledger.session import session_scope
from sync.client import Page
from sync.customer_meta import MetaUpdate, _more_meta
from sync.errors import StoreUnavailable
from tests.sync.test_write_back_memory import BatchStore, _push, _shop

RUNS = 15


class FailingStore(BatchStore):
    """Fails every batch as a whole (`whole`) or item by item with `code`, until `healed`."""

    def __init__(self, *, whole: bool, code: str = "rest_cannot_edit") -> None:
        super().__init__([])
        self.whole = whole
        self.code = code
        self.healed = False

    def post(self, endpoint: str, body: dict[str, Any]) -> Page:
        if self.healed:
            return super().post(endpoint, body)
        if self.whole:
            raise StoreUnavailable("customers/batch: HTTP 503 after 4 attempts")
        error = {"code": self.code, "message": "refused"}
        return Page({"update": [{"id": i["id"], "error": error} for i in body["update"]]}, None,
                    None, 200)  # fmt: skip


def states(engine: Engine) -> list[tuple[int, bool]]:
    with session_scope(engine) as session:
        rows = session.execute(select(MetaWrite.attempts, MetaWrite.gave_up)).all()
        return sorted((int(a), bool(g)) for a, g in rows)


@pytest.mark.parametrize("whole", [True, False], ids=["whole batch fails", "each item fails"])
def test_a_write_failing_run_after_run_is_retried_until_the_store_takes_it(
    engine: Engine, whole: bool
) -> None:
    store_id, _ = _shop(engine, "down-shop", 150, 150)
    store = FailingStore(whole=whole)

    for _ in range(RUNS):
        result = _push(store, engine, store_id)
        assert (result.failed, result.gave_up, result.pending) == (150, 0, 150)

    assert states(engine) == [(RUNS, False)] * 150
    store.healed = True
    assert _push(store, engine, store_id).written == 150
    assert states(engine) == [(0, False)] * 150
    assert _push(store, engine, store_id).pending == 0


def test_a_customer_the_store_says_is_deleted_is_given_up_at_once(engine: Engine) -> None:
    store_id, _ = _shop(engine, "gone-shop", 150, 150)
    store = FailingStore(whole=False, code="woocommerce_rest_invalid_id")

    result = _push(store, engine, store_id)

    assert (result.failed, result.gave_up) == (0, 150)
    assert states(engine) == [(1, True)] * 150
    assert _push(store, engine, store_id).pending == 0


def test_the_other_meta_pending_for_seventy_thousand_customers_is_read(engine: Engine) -> None:
    """One IN list of every customer with other meta pending failed the write-back on PostgreSQL
    past 65,535 of them (found by a review, 3 Dec)."""
    _, ids = _shop(engine, "stamps-shop", 2, 0)
    many = range(10**6, 10**6 + 70_000)
    with session_scope(engine) as session:
        session.add(MetaWrite(customer_id=ids[1], attempts=1, gave_up=True))

    def stamps(session: Any) -> list[MetaUpdate]:
        return [MetaUpdate(c, c, ({"key": "k", "value": "v"},), lambda s: None) for c in
                [ids[1], ids[2], *many]]  # fmt: skip

    with session_scope(engine) as session:
        more = _more_meta(session, [stamps])

    assert sorted(more) == [ids[2], *many]


class NullUpdateStore(BatchStore):
    """Answers `customers/batch` with 200 and `{"update": null}`."""

    def post(self, endpoint: str, body: dict[str, Any]) -> Page:
        return Page({"update": None}, None, None, 200)


def test_a_batch_answered_with_update_null_is_each_customers_failure(engine: Engine) -> None:
    """From a review (4 Dec): `{"update": null}` raised a TypeError out of the write-back, which
    ended the run; each customer of the batch is a failure, retried next run."""
    store_id, _ = _shop(engine, "null-update-shop", 3, 3)

    result = _push(NullUpdateStore([]), engine, store_id)

    assert (result.written, result.failed) == (0, 3)
