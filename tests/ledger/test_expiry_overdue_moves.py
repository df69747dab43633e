"""A balance that moves (a guest registered) while its expiry is overdue or wrongly recorded, over
a real ledger: the points expire once, charged to whoever holds them when the expiry is recorded,
dated as the mode says; and a correction of an expiry the balance moved with goes with it.

Expected values are worked out by hand from the dates: `days` = 30, so points earned (or last
active) on 1 Jan expire at 00:00 UTC on 31 Jan."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.customers import account_customer, guest_customer
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import Customer, PointEntry, Store
from rules import notes
from rules.expiry import Expiry, Movement
from sync.expiry import _reconciled, run_expiry, unrecorded_expiry
from sync.owners import merge_guest, retire_account
from tests.ledger.test_expiry_run import INACTIVE, PER_LOT, at, balance
from tests.ledger.test_expiry_transfers import _expiries

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _guest_order(session: Session, store: Store) -> Customer:
    """Carol's guest order earned 100 on 1 Jan, 10:00."""
    guest = guest_customer(session, store.id, "carol@example.com")
    order = NewEntry(
        guest.id, 100, SourceKind.PURCHASE, "order:1", "order:1#1", at("2025-01-01T10:00")
    )
    append_entries(session, store.id, [order], now=NOW)
    return guest


def _registers(session: Session, store: Store, guest: Customer, when: str) -> Customer:
    """Carol registers: the sync merges the guest into her account at `when`."""
    account = account_customer(session, store.id, 9, "carol@example.com")
    moved = merge_guest(session, store.id, guest, account.id, bonus=0, now=at(when))
    append_entries(session, store.id, moved, now=NOW)
    return account


# --- inactivity: a balance moved after its deadline, before the run ------------------------------


def test_an_inactive_balance_moved_after_its_deadline_expires_once_on_the_account_on_its_day(
    session: Session, store: Store
) -> None:
    """The guest's last activity is 1 Jan: its 100 are due at 00:00 on 31 Jan. Carol registers
    on 5 Feb, before any run recorded it: the balance moved, 100, is overdue. It expires once, on
    the account that holds it, dated 31 Jan (the deadline the mode says); the guest owes nothing.
    Before: the guest was charged -100 on 31 Jan (it held nothing any more), and the account's
    100, the transfer counting as activity, expired again on 7 Mar: 200 expired for 100."""
    guest = _guest_order(session, store)
    account = _registers(session, store, guest, "2025-02-05T10:00")
    assert (balance(session, guest), balance(session, account)) == (0, 100)
    # what a redemption may not spend on the account before the run comes
    assert unrecorded_expiry(session, store.id, INACTIVE, account.id, as_of=date(2025, 2, 5)) == 100

    first = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 2, 6), now=NOW)
    later = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 3, 31), now=NOW)

    assert (first.expired_points, later.appended) == (100, 0)
    assert _expiries(session, store) == [(account.id, "inactive", -100, at("2025-01-31"))]
    assert (balance(session, guest), balance(session, account)) == (0, 0)


def test_overdue_points_moved_in_are_no_activity_of_the_account(
    session: Session, store: Store
) -> None:
    """As above, and the account earned 50 of its own on 3 Feb (deadline 5 Mar). The overdue 100
    moved in on 5 Feb expire dated 31 Jan; bringing dead points is no earning, so the account's
    50 expire on 5 Mar (not 7 Mar, 30 days after the move)."""
    guest = _guest_order(session, store)
    account = account_customer(session, store.id, 9, "carol@example.com")
    own = NewEntry(
        account.id, 50, SourceKind.PURCHASE, "order:2", "order:2#1", at("2025-02-03T10:00")
    )
    append_entries(session, store.id, [own], now=NOW)
    _registers(session, store, guest, "2025-02-05T10:00")

    run_expiry(session, store.id, INACTIVE, as_of=date(2025, 2, 6), now=NOW)
    assert balance(session, account) == 50
    early = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 3, 4), now=NOW)
    run_expiry(session, store.id, INACTIVE, as_of=date(2025, 3, 5), now=NOW)

    assert early.appended == 0
    assert _expiries(session, store) == [
        (account.id, "inactive", -100, at("2025-01-31")),
        (account.id, "inactive", -50, at("2025-03-05")),
    ]
    assert (balance(session, guest), balance(session, account)) == (0, 0)


def test_an_inactivity_expiry_recorded_on_the_guest_after_it_moved_is_given_back(
    session: Session, store: Store
) -> None:
    """As in the first test, with the expiry a release before this fix recorded on the guest
    after she registered (dated 31 Jan, recorded after the move): the balance moved included
    those points. The next run gives it back to the guest and charges the account."""
    guest = _guest_order(session, store)
    account = _registers(session, store, guest, "2025-02-05T10:00")
    old = NewEntry(
        guest.id,
        -100,
        SourceKind.EXPIRY,
        "inactive",
        f"expiry:{guest.id}:inactive:2025-01-31",
        at("2025-01-31"),
    )
    append_entries(session, store.id, [old], now=NOW)

    run_expiry(session, store.id, INACTIVE, as_of=date(2025, 2, 6), now=NOW)

    assert (balance(session, guest), balance(session, account)) == (0, 0)
    assert sum(points for *_, points, _ in _expiries(session, store)) == -100


# --- a correction of an expiry the balance moved with -------------------------------------------


def _expiry_notes(session: Session, customer: Customer) -> list[str | None]:
    query = (
        select(PointEntry.note)
        .where(PointEntry.customer_id == customer.id, PointEntry.kind == SourceKind.EXPIRY)
        .order_by(PointEntry.id)
    )
    return list(session.execute(query).scalars())


def _refunded_after_expiry_then_registers(
    session: Session, store: Store, rules_mode: str
) -> tuple[Customer, Customer]:
    """Carol's guest order earned 100 on 1 Jan; the run of 31 Jan expired them (-100). A refund
    of 40 dated 20 Jan is synced on 3 Feb (so 60 should have expired); she registers on 5 Feb,
    before any run corrected it: the guest's balance, -40, moves to the account as debt."""
    rules = PER_LOT if rules_mode == "per_lot" else INACTIVE
    guest = _guest_order(session, store)
    run_expiry(session, store.id, rules, as_of=date(2025, 1, 31), now=NOW)
    refund = NewEntry(
        guest.id, -40, SourceKind.PURCHASE, "order:1", "order:1#2", at("2025-01-20T10:00")
    )
    append_entries(session, store.id, [refund], now=NOW)
    account = _registers(session, store, guest, "2025-02-05T10:00")
    assert (balance(session, guest), balance(session, account)) == (0, -40)
    return guest, account


def test_a_correction_of_an_expiry_the_balance_moved_with_goes_to_the_account(
    session: Session, store: Store
) -> None:
    """100 earned, 40 refunded, 60 expired: nothing remains anywhere. The 40 the expiry took too
    many moved with the balance (the account's -40); the correction gives them back there
    (+40, dated 31 Jan) and the guest's expiry stays as recorded. Before: the account kept -40,
    the guest got +40 back, and those expired on it on 7 Mar: 100 expired for 60."""
    guest, account = _refunded_after_expiry_then_registers(session, store, "per_lot")

    run = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 2, 6), now=NOW)
    later = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 3, 31), now=NOW)

    assert (run.expired_points, later.appended) == (60, 0)
    assert _expiries(session, store) == [
        (guest.id, "order:1", -100, at("2025-01-31")),
        (account.id, "order:1", 40, at("2025-01-31")),
    ]
    assert (balance(session, guest), balance(session, account)) == (0, 0)
    assert _expiry_notes(session, account) == [
        "40 points given back: the expiry of 2025-01-31 on guest carol@example.com took them in"
        " excess before its balance moved here"
    ]


def test_a_correction_of_an_inactivity_expiry_the_balance_moved_with_goes_to_the_account(
    session: Session, store: Store
) -> None:
    """The same in inactivity mode (a refund is no activity: the deadline stays 31 Jan)."""
    guest, account = _refunded_after_expiry_then_registers(session, store, "inactivity")

    run = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 2, 6), now=NOW)
    later = run_expiry(session, store.id, INACTIVE, as_of=date(2025, 3, 31), now=NOW)

    assert (run.expired_points, later.appended) == (60, 0)
    assert _expiries(session, store) == [
        (guest.id, "inactive", -100, at("2025-01-31")),
        (account.id, "inactive", 40, at("2025-01-31")),
    ]
    assert (balance(session, guest), balance(session, account)) == (0, 0)
    assert _expiry_notes(session, account) == [
        notes.EXPIRY_GIVEN_BACK_GUEST(points=40, day="2025-01-31", email="carol@example.com")
    ]


def test_points_given_back_for_a_deleted_accounts_expiry_name_the_account(
    session: Session, store: Store
) -> None:
    """As above with an account (WooCommerce id 7) deleted in the store on 5 Feb instead of a
    guest registering: its -40 go to the guest of its email, where the correction gives them
    back (+40, dated 31 Jan), its note naming the deleted account."""
    account = account_customer(session, store.id, 7, "dana@example.com")
    order = NewEntry(
        account.id, 100, SourceKind.PURCHASE, "order:1", "order:1#1", at("2025-01-01T10:00")
    )
    append_entries(session, store.id, [order], now=NOW)
    run_expiry(session, store.id, PER_LOT, as_of=date(2025, 1, 31), now=NOW)
    refund = NewEntry(
        account.id, -40, SourceKind.PURCHASE, "order:1", "order:1#2", at("2025-01-20T10:00")
    )
    append_entries(session, store.id, [refund], now=NOW)
    moved = retire_account(session, store.id, account, bonus=0, now=at("2025-02-05T10:00"))
    append_entries(session, store.id, moved, now=NOW)
    heir = guest_customer(session, store.id, "dana@example.com")

    run_expiry(session, store.id, PER_LOT, as_of=date(2025, 2, 6), now=NOW)

    assert (balance(session, account), balance(session, heir)) == (0, 0)
    assert _expiry_notes(session, heir) == [
        "40 points given back: the expiry of 2025-01-31 on deleted account 7 took them in excess"
        " before its balance moved here"
    ]


def test_a_change_to_points_given_back_says_how_many_are_given_back_now() -> None:
    """40 given back for 31 Jan are recorded; 80 are due back now (the source's expiry took 40
    more in excess): 40 more, the note saying 80 given back, not 40 (not "-80 points expired,
    not -40")."""
    recorded = Movement(
        points=40,
        source_ref="order:1",
        at=at("2025-01-31"),
        is_expiry=True,
        key="expiry:9:order:1:2025-01-31#1",
    )
    due = [Expiry("order:1", -80, date(2025, 1, 31), ("transfer:guest:5",))]

    [entry] = _reconciled(9, due, [recorded], date(2025, 2, 6))

    assert (entry.points, entry.idempotency_key) == (40, "expiry:9:order:1:2025-01-31#2")
    assert entry.note == "points given back for an expiry of 2025-01-31 corrected: 80, not 40"
