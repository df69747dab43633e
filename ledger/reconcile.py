"""The one reconcile: what a source object should carry, minus what the ledger holds, as entries.

For every source of points (orders, first-order bonuses, guest transfers, and any source the sync
grows): the caller decides a `Target` per object (owner, source reference, kind, target points)
and `reconcile` returns the entries that bring the ledger there, keyed `{source_ref}#{n}` by
`ledger.entries.reconcile_key`, so that two writers deciding on the same ledger state produce the
same keys and only one lands. The caller appends them (`append_entries`), in its unit of work, with
whatever else that unit appends.

A target may name a `previous_owner`: when the points are held by someone else (an admin moved an
order to another customer, a guest registered), what the previous owner holds goes out and the
owner gets the full target, as two entries at consecutive positions. A reference some of whose
points expired is reconciled per holder (`_per_holder`), each entry's points counted on the
customer holding them now (`ledger.customers.heirs`: the moves after the entry): its points are
past their expiry wherever they go, so a move moves nothing, and a reduction is taken from
whoever holds the points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from ledger.customers import heirs, moved_customers
from ledger.entries import (
    Holder,
    NewEntry,
    RefHolding,
    line_changes,
    reconcile_key,
    ref_entries,
    ref_holdings,
    ref_lines,
)
from ledger.kinds import OUTSIDE_BALANCE_KINDS, SourceKind
from ledger.rollups import LinePoints

#: Per-product target shares, keyed by (product id, category id); 0, 0 for points on no product.
Shares = Mapping[tuple[int, int], int]


@dataclass(frozen=True)
class Target:
    """What one source object should carry in the ledger: `points` on `owner` under `source_ref`.

    `lines` are the per-product shares of `points` (None: the points are not split by product).
    `held` overrides what the previous owner holds (a transfer moves a balance, not the
    reference's own points); `moved_note` is the note of the entry that takes it away.
    """

    owner: int
    source_ref: str
    kind: SourceKind
    points: int
    occurred_at: datetime
    note: str | None = None
    rule_version: str | None = None
    lines: Shares | None = None
    previous_owner: int | None = None
    held: int | None = None
    moved_note: str | None = None


def reconcile(session: Session, store_id: int, targets: Sequence[Target]) -> list[NewEntry]:
    """The entries that bring each target's reference to its points, on the right owner.

    Reads what the references hold in one query per 500 (and their per-product shares when a
    target is split); appends nothing.
    """
    if not targets:
        return []
    holdings = ref_holdings(session, store_id, [t.source_ref for t in targets])
    split = {t.source_ref for t in targets if t.lines is not None}
    shares = ref_lines(session, store_id, {r: h for r, h in holdings.items() if r in split})
    expired = {  # references some of whose points expired: each entry's points are counted on
        t.source_ref  # whoever holds them now, if any holder's moved since (a move of a
        for t in targets  # balance leaves pending points where they were)
        if t.held is None
        and t.kind not in OUTSIDE_BALANCE_KINDS
        and t.source_ref in holdings
        and holdings[t.source_ref].expired
    }
    if expired:
        holders = {h.customer_id for r in expired for h in holdings[r].holders}
        movers = moved_customers(session, store_id, holders)
        folded = {r for r in expired if any(h.customer_id in movers for h in holdings[r].holders)}
        if folded:
            holdings |= _by_heir(session, store_id, {r: holdings[r] for r in folded})
    entries: list[NewEntry] = []
    for target in targets:
        holding = holdings.get(target.source_ref)
        entries += _entries(target, holding, shares.get(target.source_ref, {}))
    return entries


def _by_heir(
    session: Session, store_id: int, holdings: Mapping[str, RefHolding]
) -> dict[str, RefHolding]:
    """The holdings with each entry counted on the customer holding its points now: one whose
    points went to another customer after it (a guest who registered, a deleted account:
    `sync.owners` moved them as a balance) is that one's (`ledger.customers.heirs`)."""
    rows = ref_entries(session, store_id, holdings)
    heir = heirs(session, store_id, {(c, i) for found in rows.values() for c, i, _, _ in found})
    out: dict[str, RefHolding] = {}
    for ref, holding in holdings.items():
        by_holder: dict[int, Holder] = {}
        for customer_id, entry_id, points, is_expiry in rows.get(ref, ()):
            who = heir.get((customer_id, entry_id), customer_id)
            was = by_holder.get(who, Holder(who, 0, 0))
            by_holder[who] = (
                Holder(who, was.points, was.expired - points)
                if is_expiry
                else Holder(who, was.points + points, was.expired)
            )
        out[ref] = replace(holding, holders=tuple(by_holder[c] for c in sorted(by_holder)))
    return out


def _entries(
    target: Target, holding: RefHolding | None, shares: dict[tuple[int, int], int]
) -> list[NewEntry]:
    if target.held is not None:
        return _moved(target, target.held, holding, shares)
    if holding is not None and _per_holder_wanted(target, holding):
        return _per_holder(target, holding, shares)
    # The previous owner gives all the reference holds: whoever else holds entries of it is a
    # guest or a deleted account whose balance went to the previous owner (`sync.owners`).
    return _moved(target, holding.points if holding else 0, holding, shares)


def _per_holder_wanted(target: Target, holding: RefHolding) -> bool:
    """Some of the reference's points expired (they are past their expiry wherever they go), or
    its points are pending (a guest's or a deleted account's move leaves them where they are: it
    moves the balance, so the previous owner does not hold all the reference holds); and it is
    held by others, or moving."""
    if target.kind not in OUTSIDE_BALANCE_KINDS and not holding.expired:
        return False
    return _held_by_others(target, holding) or _moving(target)


def _moving(target: Target) -> bool:
    return target.previous_owner is not None and target.previous_owner != target.owner


def _moved(
    target: Target, held: int, holding: RefHolding | None, shares: dict[tuple[int, int], int]
) -> list[NewEntry]:
    """The reference holds `held` (a transfer: the balance given): moved from a previous owner,
    it gives them and the owner gets the target, as two entries; else the difference."""
    if held and _moving(target):
        assert target.previous_owner is not None  # for mypy: `_moving` says so
        moved_out = _entry(
            target,
            target.previous_owner,
            -held,
            holding,
            line_changes({}, shares),
            target.moved_note or target.note,
        )
        if not target.points:
            return [moved_out]
        after = RefHolding(points=0, entries=(holding.entries if holding else 0) + 1)
        wanted = dict(target.lines or {})
        moved_in = _entry(target, target.owner, target.points, after, line_changes(wanted, {}))
        return [moved_out, moved_in]
    delta = target.points - held
    if not delta:
        return []
    lines = line_changes(dict(target.lines or {}), shares)
    return [_entry(target, target.owner, delta, holding, lines)]


def _held_by_others(target: Target, holding: RefHolding) -> bool:
    """Someone besides the owner holds the reference's points, or had some expire."""
    return any(h.customer_id != target.owner and (h.points or h.expired) for h in holding.holders)


def _per_holder(
    target: Target, holding: RefHolding, shares: dict[tuple[int, int], int]
) -> list[NewEntry]:
    """A reference some of whose points expired, wherever they were, held by others than its
    owner, or moved to it (an order moved to another customer, away and perhaps back). A lot is
    as old as its source, so all its points are past their expiry wherever they go: none of
    them moves. Each other holder keeps what it has of them (spent, expired, or expiring the
    day after it arrived), the owner gets the target less what the others keep, and nothing
    comes back to anyone: a move away and back changes nothing. A reduction beyond what the
    owner would get is taken from the others, who had the points (an expired order moved and
    then cancelled or refunded charged its new owner, who never held a point of it; found by a
    review). The entries are at consecutive positions, the others by id, then the owner.

    Pending points (`pending:order:N`) held by others are reconciled here too, without expiry:
    the others give all they hold and the owner gets the target (a guest's move to the account
    it registered moves its balance and leaves its pending points where they were)."""
    held = {h.customer_id: h for h in holding.holders}
    others = sorted(c for c in held if c != target.owner)
    kept = {c: held[c].points if holding.expired else 0 for c in others}  # pending: all move
    share = target.points - sum(kept.values())
    excess = max(-share, 0)
    for customer_id in others:  # the reduction the owner cannot take
        taken = min(max(kept[customer_id], 0), excess)
        kept[customer_id] -= taken
        excess -= taken
    owner_gets = max(share, 0) - excess
    changes = [(c, kept[c] - held[c].points) for c in others]
    owner_held = held[target.owner].points if target.owner in held else 0
    changes.append((target.owner, owner_gets - owner_held))
    moves = [(c, points) for c, points in changes if points]
    lines = _holder_lines(target, moves, shares)
    entries: list[NewEntry] = []
    gives = target.moved_note if not holding.expired else None  # a move of pending points
    for (customer_id, points), moved_lines in zip(moves, lines, strict=True):
        position = RefHolding(points=0, entries=holding.entries + len(entries))
        note = gives if customer_id != target.owner and gives else target.note
        entries.append(_entry(target, customer_id, points, position, moved_lines, note))
    return entries


def _holder_lines(
    target: Target, moves: list[tuple[int, int]], shares: dict[tuple[int, int], int]
) -> list[tuple[LinePoints, ...]]:
    """Each per-holder entry's lines: together exactly what brings the reference's shares to the
    target's (a refund of one product revokes that product, wherever the points are); each but
    the last in proportion to what it moves (the reference's shares out, the target's in), the
    last the rest. None for a reference not split by product."""
    if target.lines is None:
        return [() for _ in moves]
    rest = {key: -value for key, value in shares.items()}
    for key, value in target.lines.items():
        rest[key] = rest.get(key, 0) + value
    found: list[tuple[LinePoints, ...]] = []
    for index, (customer_id, points) in enumerate(moves):
        if index == len(moves) - 1:
            part = rest
        elif customer_id == target.owner and points > 0:
            part = _scaled(dict(target.lines), points)
        else:
            part = {key: -value for key, value in _scaled(shares, -points).items()}
        found.append(line_changes(part, {}))
        for key, value in part.items():
            rest[key] = rest.get(key, 0) - value
    return found


def _scaled(shares: dict[tuple[int, int], int], total: int) -> dict[tuple[int, int], int]:
    """`shares` in proportion, adding up to `total` exactly (the rounding on the largest share);
    all on no product (0, 0) when there are none to follow."""
    whole = sum(shares.values())
    if not shares or not whole:
        return {(0, 0): total} if total else {}
    scaled = {key: value * total // whole for key, value in shares.items()}
    largest = max(shares, key=lambda key: (abs(shares[key]), key))
    scaled[largest] += total - sum(scaled.values())
    return {key: value for key, value in scaled.items() if value}


def _entry(
    target: Target,
    customer_id: int,
    points: int,
    holding: RefHolding | None,
    lines: tuple[LinePoints, ...],
    note: str | None = None,
) -> NewEntry:
    return NewEntry(
        customer_id=customer_id,
        points=points,
        kind=target.kind,
        source_ref=target.source_ref,
        idempotency_key=reconcile_key(target.source_ref, holding),
        occurred_at=target.occurred_at,
        rule_version=target.rule_version,
        note=note if note is not None else target.note,
        lines=lines,
    )
