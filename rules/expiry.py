"""Expiry decisions: a customer's movements and a day in, the points that expire out.

Pure: no clock, no database. The ledger feeds each customer's entries in time order as
`Movement`s, except that a transfer out comes after exactly the entries recorded before it (the
balance it moved; one recorded after it comes after it, dated before it or not); `expiries_due`
says which lots expire on or before `as_of` (one `Expiry` per lot and expiry date, whose `key` is
the idempotency key of its entry), and `next_expiry` says what expires next after `as_of`, for
the storefront's warning.

Per lot (`mode = "per_lot"`):
- every positive movement is a lot, earned on the day of the *earliest* movement of its source
  reference (in the whole ledger when the caller says, `earned`: an order moved to another
  customer keeps its age), so cancelling and re-completing an old order re-awards points as old
  as the order;
- a lot expires at 00:00 UTC of `earned day + days`; a lot that arrives after that day (points
  re-awarded to an order whose lot already expired) expires the day after it arrived;
- a negative movement consumes the oldest lots first; what no lot covers is carried as debt,
  paid first from the next lots;
- points a reference gives back (`Movement.gives_back`: a redemption's coupon lapsed) are the
  lots its spending took, as old as they were (the last taken first), under the reference that
  gives them back; one past its expiry by then expires the day after it came back. Returned as a
  lot of their own, dated that day, redeeming and letting the coupon lapse kept points for good.
  A transfer in brings what the source's spending took (`Movement.spent`): a coupon moved with
  the balance gives back the same lots on the receiver;
- points coming in from another customer (a transfer: a guest registered, an account was
  deleted) are the lots the transfer's other entry took there, as old as they were, under their
  own references (`Movement.carries`, which `transfer_lots` fills in from the customers'
  movements); moved as a lot of their own, dated the day they moved, their age restarted. A
  transfer out takes, with the lots held, the points of lots already due that no expiry entry
  took before it (they were in the balance it moved): they expire on the receiver on their own
  day, at its next run, once; and what an expiry entry recorded before it took beyond what
  expired (a refund dated before the expiry, synced after it ran), of which the balance moved
  was short: it stays expired here, as recorded, and is given back on the receiver, which
  received the debt (`_overtaken`: a lot of negative points, an `Expiry` of negative points);
- expiry movements already in the ledger are ignored: they are re-derived, and their keys make
  appending them again a no-op.

Inactivity (`mode = "inactivity"`): the whole balance expires at 00:00 UTC of
`day of the last activity + days`, where activity is earning or redeeming (`Movement.activity`,
which the ledger sets: a purchase's pending points, no lot, are a movement of no points that is
activity; points coming back to a customer are no redeeming). A transfer out moves, with the
balance, the overdue points no expiry entry took before it (the deadline passed before the run
came) and what one took too many: carried as lots (`INACTIVITY_REF`, expiring on the source's
deadline), the overdue ones expire on the receiver dated that deadline and are no activity there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum


class ExpiryMode(StrEnum):
    PER_LOT = "per_lot"
    INACTIVITY = "inactivity"


@dataclass(frozen=True)
class ExpiryRules:
    """`[expiry]`: whether points expire, how, after how many days, and how early to warn."""

    enabled: bool = False
    mode: ExpiryMode = ExpiryMode.PER_LOT
    days: int = 365
    warn_days: int = 0


@dataclass(frozen=True)
class Lot:
    """`points` of the lot `ref` (earned on `earned_on`, expiring at 00:00 UTC of `expires_on`)
    that one movement took: what a transfer carries to the customer it goes to."""

    ref: str
    earned_on: date
    expires_on: date
    points: int
    #: Points given back (< 0) that an expiry on a customer before the source took too many: the
    #: transfers that brought them to the source (the receiver's note names where they expired).
    came_from: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Movement:
    """One ledger entry as expiry sees it. `at` is aware UTC; feed them in ledger order (time
    order, a transfer out after exactly the entries recorded before it)."""

    points: int
    source_ref: str
    at: datetime
    activity: bool = False  # earning or redeeming: restarts the inactivity clock
    #: Points coming back from what the same reference spent before (a coupon that lapsed or was
    #: refused gives its points back): per lot, they are as old as the lots that spending took.
    gives_back: bool = False
    is_expiry: bool = False  # an expiry entry already in the ledger
    key: str | None = None  # an expiry's or a transfer's idempotency key
    #: Points coming in from another customer (a transfer: a guest registered, an account was
    #: deleted): per lot, the lots the transfer's other entry took there (`transfer_lots`), each
    #: as old as it was (one due already expires on its own day), under its own reference; the
    #: rest is a lot of its own, dated the day it moved.
    carries: tuple[Lot, ...] = ()
    #: Per lot, on a transfer in: what the spending of each reference took there (its reference,
    #: the piece), for what a redemption moved with the balance gives back here (its coupon
    #: lapsed after the move): the lots it took, as old as they were (`transfer_lots`).
    spent: tuple[tuple[str, Lot], ...] = ()
    #: A transfer's entry on the customer it moved from (True) or to (False), whatever its sign
    #: (a balance below zero moves as a positive entry on its source); None: a keyed negative
    #: movement is one out.
    transfer_out: bool | None = None


@dataclass(frozen=True)
class Expiry:
    """`points` of the lot `lot_ref` expire at 00:00 UTC of `on`: > 0, or < 0 for points an
    expiry recorded on another customer took too many, which came here with its balance (they
    are given back here). `came_from`: the references of the transfers that brought what is
    given back (`transfer:guest:{id}`, `transfer:deleted:{id}`), for the entry's note."""

    lot_ref: str
    points: int
    on: date
    came_from: tuple[str, ...] = field(default=(), compare=False)

    @property
    def key(self) -> str:
        return f"expiry:{self.lot_ref}:{self.on.isoformat()}"

    def entry_key(self, customer_id: int) -> str:
        """The idempotency key of its entry, unique in the store: `expiry:{customer}:{lot}:{date}`.
        A lot's reference is not one customer's (an order moved to another customer the day it
        was earned leaves a lot of it with each), nor is the inactivity "lot"; without the
        customer, two entries had one key: the run failed, or one of them never expired."""
        return f"expiry:{customer_id}:{self.lot_ref}:{self.on.isoformat()}"

    @property
    def at(self) -> datetime:
        return day_start(self.on)


INACTIVITY_REF = "inactive"


def day_start(day: date) -> datetime:
    """00:00 UTC of `day`."""
    return datetime.combine(day, time(0), tzinfo=UTC)


@dataclass
class _Lot:
    ref: str
    earned_on: date
    expires_on: date
    remaining: int


@dataclass
class _State:
    lots: list[_Lot]
    debt: int = 0


def expiries_due(
    movements: Sequence[Movement],
    rules: ExpiryRules,
    as_of: date,
    earned: Mapping[str, date] | None = None,
) -> list[Expiry]:
    """What expires on or before `as_of`, one entry per lot and expiry date, in time order.
    `earned`: each source's earliest day in the whole ledger (its lots are that old wherever
    they are: an order moved to another customer keeps its age)."""
    if not rules.enabled:
        return []
    if rules.mode is ExpiryMode.INACTIVITY:
        return _inactivity(movements, rules, as_of)[0]
    return _per_lot(movements, rules, as_of, earned or {})[0]


def next_expiry(
    movements: Sequence[Movement],
    rules: ExpiryRules,
    as_of: date,
    earned: Mapping[str, date] | None = None,
) -> tuple[int, date] | None:
    """(points, day) of the next expiry after `as_of`, assuming no further movements; or None."""
    if not rules.enabled:
        return None
    if rules.mode is ExpiryMode.INACTIVITY:
        return _inactivity(movements, rules, as_of)[1]
    return _per_lot(movements, rules, as_of, earned or {})[1]


def transfer_lots(
    movements: Mapping[int, Sequence[Movement]],
    sources: Mapping[str, tuple[int, str]],
    rules: ExpiryRules,
    earned: Mapping[str, date] | None = None,
) -> dict[int, list[Movement]]:
    """Each customer's `movements` with what each transfer in carries: the lots its other entry
    took from the customer it came from, as old as they were (`sources`: the key of a transfer
    in -> (that customer, the key of its entry there); that customer's movements must be in
    `movements`), and, as lots of negative points, what expiries recorded there took too many
    (the balance moved was short of them). Moved as a lot of its own, dated the day it moved, a
    balance restarted its points' age: an order's points expired under the transfer's
    reference, not the order's, and a later move of the order moved points that had expired.
    In inactivity mode the lots are the overdue points the balance moved (`INACTIVITY_REF`,
    expiring on the source's deadline). A transfer that other transfers carried in before
    carries them on."""
    if not rules.enabled or not sources:
        return {customer: list(moves) for customer, moves in movements.items()}
    taken: dict[str, tuple[Lot, ...]] = {}
    spent: dict[str, tuple[tuple[str, Lot], ...]] = {}
    active: set[str] = set()

    def filled(move: Movement) -> Movement:
        source = None if move.is_expiry or _moves_out(move) else sources.get(move.key or "")
        if source is None:
            return move
        carries = lots_of(*source)
        return replace(move, carries=carries, spent=spent.get(source[1], ()))

    def lots_of(customer: int, key: str) -> tuple[Lot, ...]:
        if key not in taken and key not in active:  # a loop of transfers carries nothing
            active.add(key)
            moves = list(movements.get(customer, ()))
            end = next((n for n, move in enumerate(moves) if move.key == key), None)
            if end is not None:
                before = [filled(move) for move in moves[: end + 1]]
                day = max(move.at.astimezone(UTC).date() for move in before)
                if rules.mode is ExpiryMode.INACTIVITY:
                    found = _inactive_run(before, rules, day).taken
                else:
                    run = _run(before, rules, day, earned or {})
                    found = run.taken
                    spent[key] = run.spent.get(key, ())
                taken[key] = found.get(key, ())
            active.discard(key)
        return taken.get(key, ())

    return {customer: [filled(move) for move in moves] for customer, moves in movements.items()}


def is_warned(upcoming: tuple[int, date] | None, rules: ExpiryRules, as_of: date) -> bool:
    """True when `warn_days` is set and the next expiry falls within it after `as_of`."""
    if upcoming is None or rules.warn_days <= 0:
        return False
    return upcoming[1] <= as_of + timedelta(days=rules.warn_days)


@dataclass
class _Run:
    state: _State
    expired: list[Expiry]
    #: The lots each movement with a key (a transfer out) took.
    taken: dict[str, tuple[Lot, ...]]
    #: What the spending of each reference had taken when each transfer out moved the balance.
    spent: dict[str, tuple[tuple[str, Lot], ...]] = field(default_factory=dict)


def _per_lot(
    movements: Sequence[Movement], rules: ExpiryRules, as_of: date, earned: Mapping[str, date]
) -> tuple[list[Expiry], tuple[int, date] | None]:
    run = _run(movements, rules, as_of, earned)
    return _folded(run.expired), _next_lot_expiry(run.state)


def _moves_out(move: Movement) -> bool:
    """A transfer's entry on the customer it moved the balance from."""
    if move.transfer_out is not None:
        return move.transfer_out
    return move.key is not None and move.points < 0 and not move.is_expiry


def _run(
    movements: Sequence[Movement], rules: ExpiryRules, as_of: date, earned: Mapping[str, date]
) -> _Run:
    state = _State(lots=[])
    first_seen: dict[str, date] = {}
    taken: dict[str, list[_Lot]] = {}  # what each reference's spending took from which lots
    by_key: dict[str, tuple[Lot, ...]] = {}
    spent_by_key: dict[str, tuple[tuple[str, Lot], ...]] = {}
    due: list[_Lot] = []  # the lots expired so far, each with the points it expired
    given: list[Expiry] = []  # what expiries on the customers the balance came from took too many
    recorded: dict[tuple[str, date], int] = {}  # the expiries the ledger held so far, by lot
    for move in movements:
        day = move.at.astimezone(UTC).date()
        if move.is_expiry:
            lot_day = (move.source_ref, day)
            recorded[lot_day] = recorded.get(lot_day, 0) - move.points
            continue
        if day > as_of:  # what happens after `as_of` is not known on `as_of` (an entry placed
            continue  # after a transfer out, recorded after it, may be dated before it)
        due.extend(_expire_lots(state, until=day))
        earned_on = first_seen.setdefault(
            move.source_ref, min(day, earned.get(move.source_ref, day))
        )
        nominal = earned_on + timedelta(days=rules.days)
        expires_on = nominal if nominal > day else day + timedelta(days=1)
        if _moves_out(move) and move.key is not None:
            # the balance moved: what expired and no expiry entry took yet moves with it, and
            # so does what an expiry entry took too many (the balance was short of it)
            _unexpire(state, due, recorded)
            over = _overtaken(due, given, recorded, first_seen)
            # the lots it took, less the debt it moved with them: the debt goes too (left
            # here, the due lots paid it by expiring here, on a customer whose balance moved)
            need = sum(-lot.points for lot in over) - move.points + state.debt
            state.debt = 0
            spent = _consume(state, need) if need > 0 else []
            if need < 0:  # it moved more debt than there was: a positive entry here pays it
                _add_lot(state, _Lot(move.source_ref, earned_on, expires_on, -need))
            taken.setdefault(move.source_ref, []).extend(spent)
            moved = [Lot(p.ref, p.earned_on, p.expires_on, p.remaining) for p in spent]
            by_key[move.key] = tuple(lot for lot in moved if lot.points) + over
            spent_by_key[move.key] = tuple(
                (ref, Lot(p.ref, p.earned_on, p.expires_on, p.remaining))
                for ref, pieces in taken.items()
                for p in pieces
                if p.remaining and ref != move.source_ref
            )
            continue
        for ref, piece in move.spent:  # a coupon moved with the balance gives back these
            taken.setdefault(ref, []).append(
                _Lot(piece.ref, piece.earned_on, piece.expires_on, piece.points)
            )
        back = [lot for lot in move.carries if lot.points < 0]
        given.extend(
            Expiry(lot.ref, lot.points, lot.expires_on, lot.came_from or (move.source_ref,))
            for lot in back
        )
        points = move.points - sum(lot.points for lot in back)
        carried = [lot for lot in move.carries if lot.points > 0]
        if carried:  # every lot it took; the debt it moved (points below them) comes after
            points -= _carry_in(state, due, carried, day)
        if points > 0:
            pieces = taken.get(move.source_ref, []) if move.gives_back else []
            returning = min(points, sum(piece.remaining for piece in pieces))
            if points > returning:  # first: it pays the debt its spending ran into
                lot = _Lot(move.source_ref, earned_on, expires_on, points - returning)
                _add_lot(state, lot)
            _give_back(state, move.source_ref, pieces, returning, day)
        elif points:
            spent = _consume(state, -points)
            taken.setdefault(move.source_ref, []).extend(spent)
    due.extend(_expire_lots(state, until=as_of))
    expired = [Expiry(lot.ref, lot.remaining, lot.expires_on) for lot in due if lot.remaining]
    return _Run(state, expired + given, by_key, spent_by_key)


def _unexpire(state: _State, due: list[_Lot], recorded: Mapping[tuple[str, date], int]) -> None:
    """The points of the `due` lots that no expiry entry took before this point (`recorded`,
    by lot and day) are in the balance a transfer out moves: back among the lots held, as old as
    they were, past their expiry (they expire on the customer they go to, on their own day,
    once). Left to expire here, the customer they came from was charged for points it had given
    away, and the receiver kept them as a lot dated the day they moved. They pay no debt: what
    the transfer does not take expires here again, as it would have."""
    left = dict(recorded)
    for lot in due:  # what was recorded of a lot and day covers its first lots
        key = (lot.ref, lot.expires_on)
        covered = min(lot.remaining, max(left.get(key, 0), 0))
        left[key] = left.get(key, 0) - covered
        back = lot.remaining - covered
        if back:
            lot.remaining -= back
            state.lots.append(_Lot(lot.ref, lot.earned_on, lot.expires_on, back))
    state.lots.sort(key=lambda held: held.earned_on)


def _overtaken(
    due: list[_Lot],
    given: Sequence[Expiry],
    recorded: Mapping[tuple[str, date], int],
    first_seen: Mapping[str, date],
) -> tuple[Lot, ...]:
    """What the expiry entries recorded before a transfer out took beyond what expired (a refund
    dated before the expiry, synced after it ran): the balance the transfer moved was short of
    it, so it moved as debt to the receiver, who gets it back (a lot of negative points, given
    back there on its day). It stays expired here, as recorded (added to `due`): corrected here
    too, the points came back to a customer that had given its balance away, and expired on it
    again, while the receiver kept the debt. Every lot and day is read, recorded or not: what was
    given back here (it came with a balance) that no entry recorded yet, the balance moved on
    was short of too (read only where an expiry was recorded, it came back here, after the
    balance had moved on, and the receiver kept the debt)."""
    expected: dict[tuple[str, date], int] = {}
    for lot in due:
        expected[lot.ref, lot.expires_on] = (
            expected.get((lot.ref, lot.expires_on), 0) + lot.remaining
        )
    for item in given:
        expected[item.lot_ref, item.on] = expected.get((item.lot_ref, item.on), 0) + item.points
    over: list[Lot] = []
    for ref, day in sorted(recorded.keys() | expected.keys()):  # not only those recorded:
        extra = recorded.get((ref, day), 0) - expected.get((ref, day), 0)  # one given back
        if extra > 0:
            earned_on = first_seen.get(ref, day)
            due.append(_Lot(ref, earned_on, day, extra))
            origin = _origin(given, ref, day, recorded.get((ref, day), 0))
            over.append(Lot(ref, earned_on, day, -extra, origin))
    return tuple(over)


def _origin(given: Sequence[Expiry], ref: str, day: date, recorded: int) -> tuple[str, ...]:
    """Where the expiry that took too many was, when none was recorded here (`recorded`): the
    transfers that brought what was given back here (a chain: the guest's, not the deleted
    account's it went through); () when it was this customer's (the receiver names it)."""
    if recorded > 0:
        return ()
    found = {
        o
        for item in given
        if item.points < 0 and (item.lot_ref, item.on) == (ref, day)
        for o in item.came_from
    }
    return tuple(sorted(found))


def _carry_in(state: _State, due: list[_Lot], carried: Sequence[Lot], day: date) -> int:
    """The `carried` lots as lots of this customer's, as old as they were; how many points they
    came to. One already past its expiry on `day` (it expired unrecorded where it came from)
    expires here on its own day (added to `due`): it pays no debt of this customer's (it did,
    and expired points came back to life)."""
    for lot in carried:
        held = _Lot(lot.ref, lot.earned_on, lot.expires_on, lot.points)
        if lot.expires_on <= day:
            due.append(held)
        else:
            _add_lot(state, held)
    return sum(lot.points for lot in carried)


def _add_lot(state: _State, lot: _Lot) -> None:
    paid = min(state.debt, lot.remaining)
    state.debt -= paid
    lot.remaining -= paid
    if lot.remaining:
        state.lots.append(lot)
        state.lots.sort(key=lambda held: held.earned_on)  # stable: same day keeps arrival order


def _consume(state: _State, points: int) -> list[_Lot]:
    """Take `points` from the oldest lots (what they do not cover is debt); the pieces taken."""
    pieces = []
    for lot in state.lots:
        taken = min(lot.remaining, points)
        lot.remaining -= taken
        points -= taken
        pieces.append(_Lot(lot.ref, lot.earned_on, lot.expires_on, taken))
        if not points:
            break
    state.lots = [lot for lot in state.lots if lot.remaining]
    state.debt += points
    return pieces


def _give_back(state: _State, ref: str, pieces: list[_Lot], points: int, day: date) -> None:
    """`points` of the `pieces` `ref` spent, back as lots of `ref` as old as they were (the last
    taken first; one past its expiry expires the day after `day`)."""
    given = 0
    while pieces and given < points:
        piece = pieces[-1]
        amount = min(piece.remaining, points - given)
        piece.remaining -= amount
        if not piece.remaining:
            pieces.pop()
        expires_on = max(piece.expires_on, day + timedelta(days=1))
        _add_lot(state, _Lot(ref, piece.earned_on, expires_on, amount))
        given += amount


def _expire_lots(state: _State, *, until: date) -> list[_Lot]:
    due = [lot for lot in state.lots if lot.expires_on <= until]
    if due:
        state.lots = [lot for lot in state.lots if lot.expires_on > until]
    return due


def _folded(expired: Iterable[Expiry]) -> list[Expiry]:
    """Lots of one reference expiring the same day are one entry (one key per lot per date)."""
    by_key: dict[str, Expiry] = {}
    for item in expired:
        seen = by_key.get(item.key)
        by_key[item.key] = (
            item
            if seen is None
            else Expiry(
                item.lot_ref,
                seen.points + item.points,
                item.on,
                tuple(sorted({*seen.came_from, *item.came_from})),
            )
        )
    return sorted((e for e in by_key.values() if e.points), key=lambda e: (e.on, e.lot_ref))


def _next_lot_expiry(state: _State) -> tuple[int, date] | None:
    if not state.lots:
        return None
    first = min(lot.expires_on for lot in state.lots)
    return sum(lot.remaining for lot in state.lots if lot.expires_on == first), first


def _inactivity(
    movements: Sequence[Movement], rules: ExpiryRules, as_of: date
) -> tuple[list[Expiry], tuple[int, date] | None]:
    run = _inactive_run(movements, rules, as_of)
    return _folded(run.expired), run.upcoming


@dataclass
class _InactiveRun:
    expired: list[Expiry]
    upcoming: tuple[int, date] | None
    #: The overdue points (and what expiries took too many) each transfer out moved.
    taken: dict[str, tuple[Lot, ...]]


def _inactive_run(movements: Sequence[Movement], rules: ExpiryRules, as_of: date) -> _InactiveRun:
    """The whole balance expires on its deadline. A transfer out moves, with the balance, the
    overdue points no expiry entry took before it (they expire on the receiver, dated the
    deadline, once) and what an expiry entry took too many (given back on the receiver); points
    moved in overdue expire at once, dated their deadline, and are no activity."""
    balance = 0
    deadline: date | None = None
    expired: list[Expiry] = []  # positive: expired here; negative: given back here
    recorded: dict[date, int] = {}  # the inactivity expiries the ledger held so far, by day
    taken: dict[str, tuple[Lot, ...]] = {}

    def expire_if_due(day: date) -> None:
        nonlocal balance, deadline
        if deadline is not None and deadline <= day:
            if balance > 0:
                expired.append(Expiry(INACTIVITY_REF, balance, deadline))
                balance = 0
            deadline = None

    for move in movements:
        day = move.at.astimezone(UTC).date()
        if move.is_expiry:
            if move.source_ref == INACTIVITY_REF:
                recorded[day] = recorded.get(day, 0) - move.points
            continue
        if day > as_of:  # placed after a transfer out, recorded after it: maybe dated before
            continue
        expire_if_due(day)
        if _moves_out(move) and move.key is not None:
            back = _unexpire_inactive(expired, recorded)
            over = _overtaken_inactive(expired, recorded, rules)
            need = sum(-lot.points for lot in over) - move.points
            # every overdue point moves, whatever the balance (a refund after the deadline into
            # debt): left here, they expired on a customer whose balance moved, owing them
            overdue = _take_overdue(back, sum(item.points for item in back), expired, rules)
            balance -= need - sum(lot.points for lot in overdue)
            taken[move.key] = overdue + over
            continue
        returned = [lot for lot in move.carries if lot.points < 0]
        expired.extend(
            Expiry(INACTIVITY_REF, lot.points, lot.expires_on, lot.came_from or (move.source_ref,))
            for lot in returned
        )
        points = move.points - sum(lot.points for lot in returned)
        balance += points
        dead = 0
        for lot in move.carries:  # overdue where they came from: they expire on their day,
            if lot.points > 0:  # and pay no debt here (expired points came back to life)
                expired.append(Expiry(INACTIVITY_REF, lot.points, lot.expires_on))
                balance -= lot.points
                dead += lot.points
        if move.activity and (points > dead or not move.carries):
            fresh = day + timedelta(days=rules.days)
            deadline = fresh if deadline is None else max(deadline, fresh)
    expire_if_due(as_of)
    upcoming = (balance, deadline) if deadline is not None and balance > 0 else None
    return _InactiveRun(expired, upcoming, taken)


def _unexpire_inactive(expired: list[Expiry], recorded: Mapping[date, int]) -> list[Expiry]:
    """The points of the `expired` deadlines no expiry entry took before a transfer out: taken
    out of `expired` (the balance moved holds them), returned oldest first."""
    left = dict(recorded)
    back: list[Expiry] = []
    for n, item in enumerate(expired):
        if item.points <= 0:
            continue
        covered = min(item.points, max(left.get(item.on, 0), 0))
        left[item.on] = left.get(item.on, 0) - covered
        if item.points > covered:
            back.append(Expiry(INACTIVITY_REF, item.points - covered, item.on))
            expired[n] = Expiry(INACTIVITY_REF, covered, item.on)
    return back


def _overtaken_inactive(
    expired: list[Expiry], recorded: Mapping[date, int], rules: ExpiryRules
) -> tuple[Lot, ...]:
    """`_overtaken` for inactivity: what the expiries recorded took beyond what expired stays
    expired here (added to `expired`) and moves as points given back on the receiver."""
    expected: dict[date, int] = {}
    for item in expired:
        expected[item.on] = expected.get(item.on, 0) + item.points
    over: list[Lot] = []
    for day in sorted(recorded.keys() | expected.keys()):  # as `_overtaken`, every day
        extra = recorded.get(day, 0) - expected.get(day, 0)
        if extra > 0:
            expired.append(Expiry(INACTIVITY_REF, extra, day))
            origin = _origin(expired, INACTIVITY_REF, day, recorded.get(day, 0))
            earned_on = day - timedelta(days=rules.days)
            over.append(Lot(INACTIVITY_REF, earned_on, day, -extra, origin))
    return tuple(over)


def _take_overdue(
    back: list[Expiry], points: int, expired: list[Expiry], rules: ExpiryRules
) -> tuple[Lot, ...]:
    """Up to `points` of the overdue `back`, as lots the transfer carries; the rest expires here
    again, as it would have."""
    lots: list[Lot] = []
    for item in back:
        amount = min(item.points, points - sum(lot.points for lot in lots))
        if amount > 0:
            lots.append(Lot(INACTIVITY_REF, item.on - timedelta(days=rules.days), item.on, amount))
        if item.points > amount:
            expired.append(Expiry(INACTIVITY_REF, item.points - amount, item.on))
    return tuple(lots)
