"""Writing balances back to customer meta, `client.per_page` customers a request (100).

Only customers whose balance or lifetime differs from what was last written are sent. Each batch
answer is checked item by item: a written item records its values; a per-item error, or an item
that shows the balance meta with another value than the one sent, is recorded and retried next
run however often it failed, except for a customer that no longer exists in the store, which is
given up (it would fail forever) and handed to `on_gone` in the same transaction (the sync gives
its points back to its email). Accounts known to be deleted are never written again. A batch
that fails as a whole leaves its customers pending for next run.

Other parts of the sync add their own meta to the same batch items (`MetaUpdate`, e.g. the stamp
cards' `loyalty_stamps`): a customer whose balance did not change but whose cards did is written
with that meta only, and each update records itself (`on_written`) in the transaction that records
the answer, so it is sent again until the store has taken it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ledger.batches import rows_in
from ledger.models import Balance, Customer, MetaWrite
from sync.ahead import in_order
from sync.client import Page, StoreClient
from sync.errors import StoreAnswerTooComplex, StoreError
from sync.quarantine import valid_id
from sync.redaction import redact

#: Pending writes read from the ledger at a time (ten batches of a hundred).
READ_CHUNK = 1_000
#: Per-item error codes meaning "this customer does not exist": retrying cannot help.
GONE_CODES = frozenset(
    {"woocommerce_rest_invalid_id", "wc_user_invalid_id", "rest_user_invalid_id"}
)
#: How much of a batch item's error code and message is kept (a store's text has no bound).
MAX_CODE, MAX_MESSAGE = 100, 500
#: How much of a meta value the store kept instead of the one sent is quoted.
MAX_SHOWN = 40
#: Called with the ledger ids of customers the store says do not exist, in the write's transaction.
OnGone = Callable[[Session, Sequence[int]], None]


@dataclass(frozen=True)
class MetaUpdate:
    """More meta for one account, sent in the write-back's batch item for that account."""

    customer_id: int  # the ledger's
    wc_id: int
    meta: tuple[dict[str, Any], ...]  # key-only entries: {"key", "value"}
    on_written: Callable[[Session], None]  # records what the store now holds


#: Gives the write-back the updates pending in the ledger (called in a read transaction).
MoreMeta = Callable[[Session], Sequence[MetaUpdate]]


@dataclass(frozen=True)
class PendingWrite:
    customer_id: int  # the ledger's
    wc_id: int
    balance: int | None  # None: the balance is written already, only `more` is pending
    lifetime: int | None
    more: tuple[MetaUpdate, ...] = ()


@dataclass
class WriteBackResult:
    written: int = 0
    failed: int = 0
    gave_up: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)


def pending_writes(
    session: Session, store_id: int, *, after: int = 0, limit: int | None = None
) -> list[PendingWrite]:
    """Accounts whose meta in the store is behind the ledger, by WooCommerce id: those after
    WooCommerce id `after`, at most `limit` of them."""
    rows = session.execute(
        select(Customer.id, Customer.wc_id, Balance.balance, Balance.lifetime)
        .join(Balance, Balance.customer_id == Customer.id)
        .outerjoin(MetaWrite, MetaWrite.customer_id == Customer.id)
        .where(
            Customer.store_id == store_id,
            Customer.wc_id.is_not(None),
            Customer.deleted_at.is_(None),
            Customer.wc_id > after,
            or_(MetaWrite.gave_up.is_(None), MetaWrite.gave_up.is_(False)),
            or_(
                and_(
                    MetaWrite.customer_id.is_(None),
                    or_(Balance.balance != 0, Balance.lifetime != 0),
                ),
                MetaWrite.written_balance.is_(None),
                MetaWrite.written_balance != Balance.balance,
                MetaWrite.written_lifetime != Balance.lifetime,
            ),
        )
        .order_by(Customer.wc_id)
        .limit(limit)
    )
    return [PendingWrite(cid, int(wc or 0), int(b), int(lt)) for cid, wc, b, lt in rows]


def push_balances(
    client: StoreClient,
    unit_of_work: Callable[[], AbstractContextManager[Session]],
    store_id: int,
    *,
    balance_key: str,
    lifetime_key: str,
    now: Callable[[], datetime],
    dry_run: bool = False,
    on_gone: OnGone | None = None,
    more_meta: Sequence[MoreMeta] = (),
) -> WriteBackResult:
    """Send every pending write; one request and one transaction per batch (`client.per_page`
    customers), the requests `client.concurrency` at a time. The writes are read `READ_CHUNK` at
    a time and each batch's body is built as its request goes: what is held is the batches in
    flight, however many customers there are to write."""
    result = WriteBackResult()
    batches = _pending_batches(unit_of_work, store_id, more_meta, client.per_page)
    if dry_run:
        result.pending = sum(len(batch) for batch in batches)
        return result
    # Batches go `client.concurrency` at a time; their answers are recorded in order, each in its
    # own transaction on this thread, as when they went one by one.
    calls = (partial(_send, client, batch, balance_key, lifetime_key) for batch in batches)
    answers = (part for parts in in_order(calls, client.concurrency) for part in parts)
    for batch, answer in answers:
        result.pending += len(batch)
        if isinstance(answer, StoreError):
            error = answer
            result.failed += len(batch)
            result.errors.append(redact(f"customers/batch: {error}"))
            with unit_of_work() as session:
                states = _load_states(session, [w.customer_id for w in batch])
                for write in batch:
                    _record_failure(session, states, write, str(error), gone=False, now=now())
            continue
        with unit_of_work() as session:
            gone = _record_answer(
                session, batch, answer.items, result, now(), keys=(balance_key, lifetime_key)
            )
            if gone and on_gone is not None:
                on_gone(session, gone)
    return result


def _pending_batches(
    unit_of_work: Callable[[], AbstractContextManager[Session]],
    store_id: int,
    more_meta: Sequence[MoreMeta],
    size: int,
) -> Iterator[list[PendingWrite]]:
    """The pending writes in batches of `size`, in WooCommerce id order, each with the other meta
    pending for its customer; read `READ_CHUNK` at a time, each read in a unit of work of its own
    (the answers of the batches before are recorded in between: they are behind the keyset)."""
    with unit_of_work() as session:
        more = _more_meta(session, more_meta)
    batch: list[PendingWrite] = []
    after = 0
    while True:
        with unit_of_work() as session:
            chunk = pending_writes(session, store_id, after=after, limit=READ_CHUNK)
        last = chunk[-1].wc_id if len(chunk) == READ_CHUNK else None  # None: the last chunk
        for write in _with_more(chunk, more, through=last):
            batch.append(write)
            if len(batch) == size:
                yield batch
                batch = []
        if last is None:
            break
        after = last
    if batch:
        yield batch


def _send(
    client: StoreClient, batch: list[PendingWrite], balance_key: str, lifetime_key: str
) -> list[tuple[list[PendingWrite], Page | StoreError]]:
    """One batch's request, its body built now; the batch with its answer.

    The answer holds every written customer whole, meta and all: one customer's meta too deep or
    too big to decode (a plugin's) made the whole batch's answer unusable, run after run, and its
    hundred balances were never recorded as written. Such a batch is sent again in halves (the
    writes are the same values: sending one twice changes nothing), down to the one customer,
    whose write is recorded as failed and retried next run (at most 2n - 1 requests for n)."""
    body = {"update": [_meta_update(write, balance_key, lifetime_key) for write in batch]}
    answer = _post(client, body)
    if not isinstance(answer, StoreAnswerTooComplex) or len(batch) == 1:
        return [(batch, answer)]
    half = len(batch) // 2
    return [
        *_send(client, batch[:half], balance_key, lifetime_key),
        *_send(client, batch[half:], balance_key, lifetime_key),
    ]


def _post(client: StoreClient, body: dict[str, Any]) -> Page | StoreError:
    """One batch request; its failure is an answer too (recorded, the other batches go on)."""
    try:
        return client.post("customers/batch", body)
    except StoreError as error:
        return error


def _more_meta(session: Session, more_meta: Sequence[MoreMeta]) -> dict[int, list[MetaUpdate]]:
    """The other meta pending, by customer, without the customers given up on."""
    more: dict[int, list[MetaUpdate]] = {}
    for source in more_meta:
        for update in source(session):
            more.setdefault(update.customer_id, []).append(update)
    if more:
        given_up = rows_in(
            session,
            more,
            lambda chunk: select(MetaWrite.customer_id).where(
                MetaWrite.customer_id.in_(chunk), MetaWrite.gave_up.is_(True)
            ),
        )
        for (customer_id,) in given_up:
            del more[customer_id]
    return more


def _with_more(
    chunk: list[PendingWrite], more: dict[int, list[MetaUpdate]], *, through: int | None
) -> list[PendingWrite]:
    """A chunk of balance writes, each with the other meta pending for its customer (taken out of
    `more`), and the customers with only other meta pending up to WooCommerce id `through` (None:
    all that are left), in WooCommerce id order."""
    if not more:
        return chunk
    merged = [replace(w, more=tuple(more.pop(w.customer_id, ()))) for w in chunk]
    alone = [
        customer_id
        for customer_id, updates in more.items()
        if through is None or updates[0].wc_id <= through
    ]
    merged += [
        PendingWrite(
            customer_id, more[customer_id][0].wc_id, None, None, tuple(more.pop(customer_id))
        )
        for customer_id in alone
    ]
    return sorted(merged, key=lambda w: w.wc_id)


def _meta_update(write: PendingWrite, balance_key: str, lifetime_key: str) -> dict[str, Any]:
    # Key-only entries: WooCommerce updates the first row with that key and removes duplicates.
    meta = [entry for update in write.more for entry in update.meta]
    if write.balance is not None:
        meta[:0] = [
            {"key": balance_key, "value": str(write.balance)},
            {"key": lifetime_key, "value": str(write.lifetime)},
        ]
    return {"id": write.wc_id, "meta_data": meta}


def _record_answer(
    session: Session,
    batch: list[PendingWrite],
    answer: Any,
    result: WriteBackResult,
    now: datetime,
    *,
    keys: tuple[str, str],
) -> list[int]:
    """Record each item of a batch answer; returns the customers the store says do not exist."""
    items = answer.get("update") if isinstance(answer, dict) else None
    if not isinstance(items, list):  # `{"update": null}`: no item answered (a TypeError before)
        items = []
    by_id = {valid_id(item): item for item in items if isinstance(item, dict)}
    missing = {"code": "missing", "message": "no answer"}
    errors = [
        (
            write,
            (item.get("error") or _not_kept(item, write, keys))
            if (item := by_id.get(write.wc_id)) is not None
            else missing,
        )
        for write in batch
    ]
    # The other meta updates record what they wrote first (they may add a customer's state),
    # so that one query then finds every state of the batch.
    for write, error in errors:
        if not error:
            for update in write.more:
                update.on_written(session)
    states = _load_states(session, [w.customer_id for w in batch])
    gone_ids: list[int] = []
    for write, error in errors:
        if not error:
            _record_success(session, states, write, now)
            result.written += 1
            continue
        code, said = _error_of(error)
        gone = code in GONE_CODES
        message = redact(f"customer {write.wc_id}: {code}: {said}")
        gave_up = _record_failure(session, states, write, message, gone=gone, now=now)
        result.gave_up += int(gave_up)
        result.failed += int(not gave_up)
        result.errors.append(message)
        if gone:
            gone_ids.append(write.customer_id)
    return gone_ids


def _not_kept(item: Mapping[str, Any], write: PendingWrite, keys: tuple[str, str]) -> Any:
    """An error when the answer shows the balance or lifetime meta with another value than the
    one sent (a plugin that rounds, caps or ignores it), else None. The answer is the customer as
    the store holds it after the write; a key it does not show (WooCommerce leaves some out, such
    as keys holding the table prefix `wp_`) is not evidence either way."""
    shown = item.get("meta_data")
    if write.balance is None or not isinstance(shown, list):
        return None
    values: dict[str, Any] = {}
    for entry in shown:  # the first row of a key is the one WooCommerce updated
        if isinstance(entry, Mapping) and isinstance(entry.get("key"), str):
            values.setdefault(entry["key"], entry.get("value"))
    for key, sent in zip(keys, (str(write.balance), str(write.lifetime)), strict=True):
        if key in values and values[key] != sent:
            kept = str(values[key])[:MAX_SHOWN]
            return {
                "code": "meta_not_kept",
                "message": f"the store kept {key} = {kept!r}, not {sent!r}",
            }
    return None


def _error_of(error: Any) -> tuple[str, str]:
    """A batch item's error as (code, message): WooCommerce's `{"code", "message"}` object, or
    whatever else a store put there (text, `true`), as text; each bounded, as a store's text is."""
    if isinstance(error, Mapping):
        return str(error.get("code", ""))[:MAX_CODE], str(error.get("message", ""))[:MAX_MESSAGE]
    return "", str(error)[:MAX_MESSAGE]


def _load_states(session: Session, customer_ids: list[int]) -> dict[int, MetaWrite]:
    """One query for a batch's states, by customer (those without one yet are absent)."""
    rows = session.execute(select(MetaWrite).where(MetaWrite.customer_id.in_(customer_ids)))
    return {state.customer_id: state for state in rows.scalars()}


def _state(session: Session, states: dict[int, MetaWrite], customer_id: int) -> MetaWrite:
    # Loaded after the other meta updates' `on_written`: a customer absent here has no state.
    state = states.get(customer_id)
    if state is None:
        state = states[customer_id] = MetaWrite(customer_id=customer_id, attempts=0, gave_up=False)
        session.add(state)
    return state


def _record_success(
    session: Session, states: dict[int, MetaWrite], write: PendingWrite, now: datetime
) -> None:
    if write.balance is None:
        return  # the balance was written before: its record stands
    state = _state(session, states, write.customer_id)
    state.written_balance = write.balance
    state.written_lifetime = write.lifetime
    state.written_at = now
    state.attempts = 0
    state.last_error = None


def _record_failure(
    session: Session,
    states: dict[int, MetaWrite],
    write: PendingWrite,
    message: str,
    *,
    gone: bool,
    now: datetime,
) -> bool:
    state = _state(session, states, write.customer_id)
    state.attempts = (state.attempts or 0) + 1
    state.last_error = f"{now.isoformat()} {redact(message)}"  # the store's words: no secrets
    # Given up only when the store says the account does not exist: a write that keeps failing
    # otherwise (a store down for weeks, a plugin refusing the meta) is still owed, and is
    # retried every run, its attempts and last error kept for the admin.
    state.gave_up = gone
    return gone
