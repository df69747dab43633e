"""The one reconcile: what a source object should carry, minus what the ledger holds, as entries.

For every source of points (orders, first-order bonuses, guest transfers, and any source the sync
grows): the caller decides a `Target` per object (owner, source reference, kind, target points)
and `reconcile` returns the entries that bring the ledger there, keyed `{source_ref}#{n}` by
`ledger.entries.reconcile_key`, so that two writers deciding on the same ledger state produce the
same keys and only one lands. The caller appends them (`append_entries`), in its unit of work, with
whatever else that unit appends.

A target may name a `previous_owner`: when the points are held by someone else (an admin moved an
order to another customer, a guest registered), what the previous owner holds goes out and the
owner gets the full target, as two entries at consecutive positions; of a reference whose points
partly expired, only what is left moves (`_moved_after_expiry`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ledger.entries import (
    NewEntry,
    RefHolding,
    line_changes,
    reconcile_key,
    ref_holdings,
    ref_lines,
)
from ledger.kinds import SourceKind
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
    entries: list[NewEntry] = []
    for target in targets:
        holding = holdings.get(target.source_ref)
        entries += _entries(target, holding, shares.get(target.source_ref, {}))
    return entries


def _entries(
    target: Target, holding: RefHolding | None, shares: dict[tuple[int, int], int]
) -> list[NewEntry]:
    held = target.held if target.held is not None else (holding.points if holding else 0)
    wanted = dict(target.lines or {})
    moving = target.previous_owner is not None and target.previous_owner != target.owner
    expired = holding.expired if holding is not None and target.held is None else 0
    if held and moving and expired:
        return _moved_after_expiry(target, holding, held, expired, shares)
    if held and moving:
        assert target.previous_owner is not None  # for mypy: `moving` says so
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
        moved_in = _entry(target, target.owner, target.points, after, line_changes(wanted, {}))
        return [moved_out, moved_in]
    delta = target.points - held
    if not delta:
        return []
    return [_entry(target, target.owner, delta, holding, line_changes(wanted, shares))]


def _moved_after_expiry(
    target: Target,
    holding: RefHolding | None,
    held: int,
    expired: int,
    shares: dict[tuple[int, int], int],
) -> list[NewEntry]:
    """A move of a reference some of whose points expired where they were: the previous owner
    gives what it has left of them, the owner gets the target less what expired, so the
    reference still holds its target and no expired point comes back (an expired order moved
    to another customer took 100 points its owner no longer had, into debt, and gave the new
    one 100 fresh points; found by a review). Each entry's lines are the reference's shares
    (and the target's) in proportion to what it moves, so per-product figures still add up."""
    assert target.previous_owner is not None
    entries: list[NewEntry] = []
    position = holding
    leaving = held - expired
    if leaving:
        out = line_changes({}, _scaled(shares, leaving))
        note = target.moved_note or target.note
        entries.append(_entry(target, target.previous_owner, -leaving, holding, out, note))
        position = RefHolding(points=0, entries=(holding.entries if holding else 0) + 1)
    arriving = target.points - expired
    if arriving:
        into = line_changes(_scaled(dict(target.lines or {}), arriving), {})
        entries.append(_entry(target, target.owner, arriving, position, into))
    return entries


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
