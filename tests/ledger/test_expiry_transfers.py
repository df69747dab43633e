"""Expiry of points a transfer moved (a guest registered, an account was deleted), over a real
ledger: they are the lots the transfer took, as old as they were, under their own references,
whether the run reads every customer, only the receiver (the sync's run over the customers with
new entries), or a redemption asks what expired unrecorded."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.customers import account_customer, guest_customer
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import Customer, PointEntry, Store
from sync.expiry import run_expiry, unrecorded_expiry
from sync.owners import merge_guest, retire_account
from tests.ledger.test_expiry_run import PER_LOT, at, balance

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _registered(session: Session, store: Store) -> tuple[Customer, Customer]:
    """Carol's guest order earned 100 on 1 Jan; she registered on 21 Jan (its 100 moved to her
    account as a transfer pair). (guest, account)."""
    guest = guest_customer(session, store.id, "carol@example.com")
    order = NewEntry(guest.id, 100, SourceKind.PURCHASE, "order:1", "order:1#1", at("2025-01-01"))
    append_entries(session, store.id, [order], now=NOW)
    account = account_customer(session, store.id, 9, "carol@example.com")
    moved = merge_guest(session, store.id, guest, account.id, bonus=0, now=at("2025-01-21T10:00"))
    append_entries(session, store.id, moved, now=NOW)
    return guest, account


def _expiries(session: Session, store: Store) -> list[tuple[int, str, int, datetime]]:
    query = (
        select(
            PointEntry.customer_id,
            PointEntry.source_ref,
            PointEntry.points,
            PointEntry.occurred_at,
        )
        .where(PointEntry.store_id == store.id, PointEntry.kind == SourceKind.EXPIRY)
        .order_by(PointEntry.id)
    )
    return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def test_a_registered_guests_points_expire_on_the_account_as_old_as_the_order(
    session: Session, store: Store
) -> None:
    """As a lot of their own they expired on 20 Feb, under `transfer:guest:N`."""
    guest, account = _registered(session, store)

    run = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 2, 1), now=NOW)

    assert run.expired_points == 100
    assert _expiries(session, store) == [(account.id, "order:1", -100, at("2025-01-31"))]
    assert (balance(session, guest), balance(session, account)) == (0, 0)


def test_the_receivers_run_alone_reads_where_its_points_came_from(
    session: Session, store: Store
) -> None:
    """The sync's run over the customers with new entries (the account alone), and a
    redemption's check of what expired unrecorded, read the guest's lots too."""
    _guest, account = _registered(session, store)

    assert unrecorded_expiry(session, store.id, PER_LOT, account.id, as_of=date(2025, 2, 1)) == 100
    run_expiry(
        session, store.id, PER_LOT, as_of=date(2025, 2, 1), now=NOW, customer_ids=[account.id]
    )

    assert _expiries(session, store) == [(account.id, "order:1", -100, at("2025-01-31"))]


def test_points_moved_twice_keep_the_orders_age(session: Session, store: Store) -> None:
    """Carol's account is deleted on 25 Jan (its 100 to the guest of her email), and she
    registers again on 26 Jan: the order's 100 still expire on 31 Jan, on the last account."""
    guest, account = _registered(session, store)
    moved = retire_account(session, store.id, account, bonus=0, now=at("2025-01-25T10:00"))
    append_entries(session, store.id, moved, now=NOW)
    again = account_customer(session, store.id, 10, "carol@example.com")
    moved = merge_guest(session, store.id, guest, again.id, bonus=0, now=at("2025-01-26T10:00"))
    append_entries(session, store.id, moved, now=NOW)
    assert balance(session, again) == 100

    run_expiry(session, store.id, PER_LOT, as_of=date(2025, 2, 1), now=NOW, customer_ids=[again.id])

    assert _expiries(session, store) == [(again.id, "order:1", -100, at("2025-01-31"))]


def test_points_due_when_the_guest_registered_expire_once_on_the_account_on_their_day(
    session: Session, store: Store
) -> None:
    """Carol's guest order earned 100 on 1 Jan: due at 00:00 on 31 Jan (30 days). She registers
    on 5 Feb, before any expiry run recorded it: the guest's balance, 100, moves to the account.
    The points expire once, charged to the account that holds them, on 31 Jan as their lot
    says. The guest expired them (its balance -100, owed for points it no longer had) and the
    account kept them as a lot dated 5 Feb, expiring on 7 Mar: 200 expired for 100 earned."""
    guest = guest_customer(session, store.id, "carol@example.com")
    order = NewEntry(guest.id, 100, SourceKind.PURCHASE, "order:1", "order:1#1", at("2025-01-01"))
    append_entries(session, store.id, [order], now=NOW)
    account = account_customer(session, store.id, 9, "carol@example.com")
    moved = merge_guest(session, store.id, guest, account.id, bonus=0, now=at("2025-02-05T10:00"))
    append_entries(session, store.id, moved, now=NOW)
    assert (balance(session, guest), balance(session, account)) == (0, 100)
    # what a redemption may not spend on the account before the run comes
    assert unrecorded_expiry(session, store.id, PER_LOT, account.id, as_of=date(2025, 2, 5)) == 100

    first = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 2, 6), now=NOW)
    later = run_expiry(session, store.id, PER_LOT, as_of=date(2025, 3, 31), now=NOW)

    assert (first.expired_points, later.appended) == (100, 0)
    assert _expiries(session, store) == [(account.id, "order:1", -100, at("2025-01-31"))]
    assert (balance(session, guest), balance(session, account)) == (0, 0)


def test_an_expiry_recorded_by_a_run_after_the_registration_is_given_back_to_the_guest(
    session: Session, store: Store
) -> None:
    """As above, with the expiry the release before this fix recorded on the guest after she
    registered (dated 31 Jan, recorded after the move): it is the guest's own entry, which the
    balance moved did not include. The next run gives it back to the guest (a correction) and
    charges the account, which holds the points: each ends at 0, 100 expired in all."""
    guest = guest_customer(session, store.id, "carol@example.com")
    order = NewEntry(guest.id, 100, SourceKind.PURCHASE, "order:1", "order:1#1", at("2025-01-01"))
    append_entries(session, store.id, [order], now=NOW)
    account = account_customer(session, store.id, 9, "carol@example.com")
    moved = merge_guest(session, store.id, guest, account.id, bonus=0, now=at("2025-02-05T10:00"))
    append_entries(session, store.id, moved, now=NOW)
    old = NewEntry(
        guest.id,
        -100,
        SourceKind.EXPIRY,
        "order:1",
        f"expiry:{guest.id}:order:1:2025-01-31",
        at("2025-01-31"),
    )
    append_entries(session, store.id, [old], now=NOW)

    run_expiry(session, store.id, PER_LOT, as_of=date(2025, 2, 6), now=NOW)

    assert (balance(session, guest), balance(session, account)) == (0, 0)
    assert sum(points for *_, points, _ in _expiries(session, store)) == -100
