"""The ledger as `rules.expiry` reads it: each customer's entries as movements, in time order.

Pending points (not spendable yet) are no lot, only activity; a transfer in (a guest registered,
an account was deleted) carries the lots its other entry took from the customer it came from,
read too (`rules.expiry.transfer_lots`); and each source's earliest day in the whole ledger, for
the age of its lots wherever they are. Used by `sync.expiry` (runs, next expiries, what a
redemption may not spend).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from datetime import UTC, date
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger.batches import chunks, rows_in
from ledger.customers import MAX_MOVES
from ledger.kinds import LIFETIME_KINDS, OUTSIDE_BALANCE_KINDS, SourceKind
from ledger.models import Customer, PointEntry
from ledger.pending import ORDER_PREFIX, pending_ref
from rules.expiry import ExpiryMode, ExpiryRules, Movement, transfer_lots

_EARNING = frozenset(kind.value for kind in LIFETIME_KINDS)
_OUTSIDE_BALANCE = sorted(kind.value for kind in OUTSIDE_BALANCE_KINDS)  # pending: not spendable
_PENDING_ORDER = pending_ref(ORDER_PREFIX)  # an order's own pending points (not `pending:recalc:`)
_KEYED = frozenset({SourceKind.EXPIRY.value, SourceKind.TRANSFER.value})  # Movement.key read
_TRANSFER = "transfer:"


class Who(NamedTuple):
    """A customer as a run reports it: the ledger's id, the account's id, the email."""

    id: int
    wc_id: int | None
    email: str | None


def earned_days(
    session: Session, store_id: int, rules: ExpiryRules, customer_ids: Sequence[int] | None
) -> dict[str, date]:
    """Each source's earliest day in the ledger, whoever holds it (per lot only), for the
    sources of `customer_ids` (all when None): a lot is as old as its source, so an order moved
    to another customer keeps its age (its points expired 30 days after the move)."""
    if rules.mode is not ExpiryMode.PER_LOT:
        return {}
    skipped = [SourceKind.EXPIRY.value, *_OUTSIDE_BALANCE]
    base = (
        select(PointEntry.source_ref, func.min(PointEntry.occurred_at))
        .where(PointEntry.store_id == store_id, PointEntry.kind.not_in(skipped))
        .group_by(PointEntry.source_ref)
    )
    queries = (
        [base]
        if customer_ids is None
        else [
            base.where(
                PointEntry.source_ref.in_(
                    select(PointEntry.source_ref).where(
                        PointEntry.store_id == store_id, PointEntry.customer_id.in_(chunk)
                    )
                )
            )
            for chunk in chunks(customer_ids)
        ]
    )
    earned: dict[str, date] = {}
    for query in queries:
        for ref, first in session.execute(query):
            earned[ref] = first.astimezone(UTC).date()
    return earned


def movements_by_customer(
    session: Session,
    store_id: int,
    rules: ExpiryRules,
    earned: dict[str, date],
    customer_ids: Sequence[int] | None = None,
) -> Iterator[tuple[Who, list[Movement]]]:
    """Each customer with entries (or each of `customer_ids`), with their entries in ledger time
    order (a transfer out after exactly the entries recorded before it, in both modes): pending
    points, not spendable yet, are no lot, only activity (with no points); a transfer in carries
    the lots it took from the customer it came from (`_carrying`, which adds that customer's
    sources to `earned`)."""
    for chunk in [None] if customer_ids is None else chunks(customer_ids):
        grouped = _movements_of(session, store_id, chunk)
        filled = _carrying(session, store_id, rules, earned, grouped)
        customers = customers_by_id(session, list(grouped))
        for customer_id in grouped:
            yield customers[customer_id], filled[customer_id]


def _movements_of(
    session: Session, store_id: int, customer_ids: Sequence[int] | None
) -> dict[int, list[Movement]]:
    query = (
        select(
            PointEntry.customer_id,
            PointEntry.points,
            PointEntry.kind,
            PointEntry.source_ref,
            PointEntry.occurred_at,
            PointEntry.idempotency_key,
            PointEntry.id,
        )
        .where(PointEntry.store_id == store_id)
        .order_by(PointEntry.customer_id, PointEntry.occurred_at, PointEntry.id)
        .execution_options(yield_per=5000)
    )
    if customer_ids is not None:
        query = query.where(PointEntry.customer_id.in_(customer_ids))
    # The rows are read to the end before any customer row is loaded (one open cursor at a time).
    grouped: dict[int, list[tuple[int, Movement]]] = {}
    outs: dict[int, list[int]] = {}  # each customer's transfers out, by entry id
    for customer_id, points, kind, ref, occurred_at, key, entry_id in session.execute(query):
        movements = grouped.setdefault(customer_id, [])
        if kind in _OUTSIDE_BALANCE:  # pending: no lot; a purchase's own is earning all the same
            purchase = points > 0 and ref.startswith(_PENDING_ORDER)  # not a recalculation's
            movements.append((entry_id, Movement(0, ref, occurred_at, activity=purchase)))
            continue
        moves_out = kind == SourceKind.TRANSFER and _names(ref, customer_id)
        if moves_out:  # whatever its sign: a balance below zero moves as a positive entry here
            outs.setdefault(customer_id, []).append(entry_id)
        movement = Movement(
            points=points,
            source_ref=ref,
            at=occurred_at,
            # earning or redeeming; points coming back (a coupon lapsed, refused) are neither
            activity=points > 0
            if kind in _EARNING
            else kind == SourceKind.REDEMPTION and points < 0,
            is_expiry=kind == SourceKind.EXPIRY,
            key=key if kind in _KEYED else None,
            gives_back=kind == SourceKind.REDEMPTION and points > 0,
            transfer_out=moves_out if kind == SourceKind.TRANSFER else None,
        )
        movements.append((entry_id, movement))
    return {
        customer: _around_moves(movements, sorted(outs.get(customer, ())))
        for customer, movements in grouped.items()
    }


def _around_moves(movements: list[tuple[int, Movement]], outs: list[int]) -> list[Movement]:
    """A customer's movements (entry id, movement) in time order, each transfer out (`outs`, by
    entry id) placed after exactly the entries recorded before it: it moved the balance they
    made, no more (`ledger.customers.heirs` reads the moves in the same order). An entry dated
    before the move but recorded after it (an order the store dated earlier, synced later; an
    expiry recorded by a later run) is the customer's own, after the move; placed before it,
    the transfer carried its lot and left an older one behind, or carried its expiry. In
    inactivity mode too: whether an expiry was recorded before the move says whether the balance
    moved held its points (read in time order, an overdue balance moved before the run was
    expired on the guest and again on the account). A transfer out is the entry whose
    reference names the customer, whatever its sign (a balance below zero moves as +B here)."""
    if not outs:
        return [move for _, move in movements]
    moves = set(outs)

    def place(item: tuple[int, Movement]) -> tuple[int, int]:
        entry_id = item[0]
        return bisect_left(outs, entry_id), 1 if entry_id in moves else 0

    return [move for _, move in sorted(movements, key=place)]  # stable: time order within


def _carrying(
    session: Session,
    store_id: int,
    rules: ExpiryRules,
    earned: dict[str, date],
    grouped: dict[int, list[Movement]],
) -> dict[int, list[Movement]]:
    """`grouped` with the lots each transfer in carries (`rules.expiry.transfer_lots`): a
    transfer's entries are a pair at consecutive positions (`sync.owners.move_holdings`), the
    source's (named in the reference: `transfer:guest:{id}`, `transfer:deleted:{id}`) first. The
    sources' movements are read too, and theirs (a chain `MAX_MOVES` long at most)."""
    known = dict(grouped)
    sources: dict[str, tuple[int, str]] = {}  # a transfer in's key: (its source, the source's)
    fresh = grouped
    for _ in range(MAX_MOVES):
        wanted = {  # the source's entry's key: (the source, the transfer in's key)
            pair: (source, move.key)
            for customer, moves in fresh.items()
            for move in moves
            if move.key is not None and move.points and not move.is_expiry
            for source, pair in [_pair_of(move.key)]
            if source not in (None, customer)
        }
        found = rows_in(
            session,
            wanted,
            lambda chunk: select(PointEntry.idempotency_key, PointEntry.customer_id).where(
                PointEntry.store_id == store_id, PointEntry.idempotency_key.in_(chunk)
            ),
        )
        for key, customer_id in found:
            source, into = wanted[key]
            if int(customer_id) == source and into is not None:
                sources[into] = (source, key)
        missing = sorted({source for source, _ in sources.values()} - known.keys())
        if not missing:
            break
        fresh = {}
        for chunk in chunks(missing):
            fresh |= _movements_of(session, store_id, chunk)
        earned |= earned_days(session, store_id, rules, missing)
        known |= {customer: fresh.get(customer, []) for customer in missing}
    carried = transfer_lots(known, sources, rules, earned)
    return {customer: carried[customer] for customer in grouped}


def _names(ref: str, customer_id: int) -> bool:
    """A transfer's reference names the customer it moved from (`transfer:guest:{id}`,
    `transfer:deleted:{id}`)."""
    return ref.startswith(_TRANSFER) and ref.rpartition(":")[2] == str(customer_id)


def _pair_of(key: str) -> tuple[int | None, str]:
    """The customer a transfer's reference names as its source, and the key of the entry before
    `key` in the pair (`transfer:guest:5#2` -> 5, `transfer:guest:5#1`); None for another key."""
    ref, _, n = key.rpartition("#")
    source = ref.rpartition(":")[2]
    if not ref.startswith(_TRANSFER) or not source.isdigit() or not n.isdigit() or int(n) < 2:
        return None, key
    return int(source), f"{ref}#{int(n) - 1}"


def customers_by_id(session: Session, ids: list[int]) -> dict[int, Who]:
    """These ledger customers, as a run reports them."""
    found: dict[int, Who] = {}
    for chunk in chunks(ids):
        query = select(Customer.id, Customer.wc_id, Customer.email).where(Customer.id.in_(chunk))
        for row in session.execute(query):
            found[row[0]] = Who(row[0], row[1], row[2])
    return found
