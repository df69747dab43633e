"""Stores and customers: accounts by WooCommerce id, guests by billing email, created once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, event, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger.customers import (
    MAX_MOVES,
    account_customer,
    account_customers,
    account_ids,
    find_account_by_email,
    get_or_create_store,
    guest_customer,
    guest_customers,
    heirs,
    normalise_store_key,
    record_move,
)
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import Customer, PointEntry, Store, utcnow
from ledger.session import session_scope


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("shop.example.com", "shop.example.com"),
        ("https://Shop.Example.com/", "shop.example.com"),
        ("http://shop.example.com:80/base/", "shop.example.com/base"),
        ("https://shop.example.com:443/Base", "shop.example.com/Base"),
        ("https://shop.example.com:8443/base", "shop.example.com:8443/base"),
        ("  shop.example.com/base?x=1#top ", "shop.example.com/base"),
    ],
)
def test_a_store_url_is_normalised_to_host_and_base_path(given: str, key: str) -> None:
    assert normalise_store_key(given) == key


@pytest.mark.parametrize("given", ["", "   ", "https://"])
def test_a_store_url_without_a_host_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="store key"):
        normalise_store_key(given)


def test_get_or_create_store_returns_the_same_store_for_the_same_shop(session: Session) -> None:
    first = get_or_create_store(session, "https://shop.example.com/")
    again = get_or_create_store(session, "shop.example.com")

    assert first.id == again.id
    assert first.key == "shop.example.com"


def test_an_account_customer_is_created_once_per_wc_id(session: Session, store: Store) -> None:
    first = account_customer(session, store.id, 42, "Ann@Example.com ")
    again = account_customer(session, store.id, 42, "ann@example.com")

    assert first.id == again.id
    assert (again.wc_id, again.email, again.is_guest) == (42, "ann@example.com", False)
    assert session.execute(select(func.count()).select_from(Customer)).scalar_one() == 1


def test_an_account_customer_takes_a_changed_email_and_keeps_it_when_none_is_given(
    session: Session, store: Store
) -> None:
    account_customer(session, store.id, 42, "old@example.com")

    assert account_customer(session, store.id, 42, "NEW@example.com").email == "new@example.com"
    assert account_customer(session, store.id, 42, None).email == "new@example.com"
    assert account_customer(session, store.id, 42, "  ").email == "new@example.com"


def test_the_same_wc_id_in_two_stores_is_two_customers(session: Session, store: Store) -> None:
    other = get_or_create_store(session, "other.example.com")

    assert (
        account_customer(session, store.id, 42, None).id
        != account_customer(session, other.id, 42, None).id
    )


@pytest.mark.parametrize("wc_id", [0, -3, True])
def test_an_account_customer_needs_a_positive_wc_id(
    session: Session, store: Store, wc_id: int
) -> None:
    with pytest.raises(ValueError, match=r"wc_id must be a positive WooCommerce customer id"):
        account_customer(session, store.id, wc_id, "a@example.com")


def test_a_guest_is_held_by_normalised_email_once(session: Session, store: Store) -> None:
    first = guest_customer(session, store.id, " Guest@Example.COM")
    again = guest_customer(session, store.id, "guest@example.com")

    assert first.id == again.id
    assert (again.wc_id, again.email, again.is_guest) == (None, "guest@example.com", True)


@pytest.mark.parametrize("email", ["", "   "])
def test_a_guest_needs_an_email(session: Session, store: Store, email: str) -> None:
    with pytest.raises(ValueError, match=r"email of a guest customer must be a non-empty"):
        guest_customer(session, store.id, email)


def test_a_guest_and_an_account_with_the_same_email_are_different_customers(
    session: Session, store: Store
) -> None:
    account = account_customer(session, store.id, 42, "ann@example.com")

    assert guest_customer(session, store.id, "ann@example.com").id != account.id


def test_find_account_by_email_ignores_guests_and_case(session: Session, store: Store) -> None:
    guest_customer(session, store.id, "guest@example.com")
    account = account_customer(session, store.id, 42, "ann@example.com")

    assert find_account_by_email(session, store.id, " ANN@example.com") is account
    assert find_account_by_email(session, store.id, "guest@example.com") is None
    assert find_account_by_email(session, store.id, "") is None


def test_the_database_refuses_a_guest_without_an_email(session: Session, store: Store) -> None:
    with pytest.raises(IntegrityError):
        session.execute(
            insert(Customer).values(store_id=store.id, wc_id=None, email=None, is_guest=True)
        )


def test_get_or_create_in_separate_units_of_work_finds_the_committed_rows(
    engine: Engine,
) -> None:
    def ids() -> tuple[int, int, int]:
        with session_scope(engine) as session:
            store = get_or_create_store(session, "shop.example.com")
            account = account_customer(session, store.id, 1, None)
            guest = guest_customer(session, store.id, "g@example.com")
            return store.id, account.id, guest.id

    assert ids() == ids()


def _inserts(session: Session) -> list[str]:
    """The INSERT statements the session's connection runs (collected until the test ends)."""
    seen: list[str] = []

    def on_execute(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            seen.append(statement)

    event.listen(session.connection().engine, "before_cursor_execute", on_execute)
    return seen


def test_account_ids_creates_the_unknown_accounts_and_only_reads_the_known_ones(
    session: Session, store: Store
) -> None:
    known = account_customer(session, store.id, 7, "seven@example.com")
    gone = account_customer(session, store.id, 8, None)
    gone.deleted_at = utcnow()
    session.flush()
    inserts = _inserts(session)
    assert account_ids(session, store.id, [7, 8]) == {7: (known.id, False), 8: (gone.id, True)}
    assert inserts == []  # all known: one query, nothing written
    found = account_ids(session, store.id, [7, 9])
    assert len(inserts) == 1  # the unknown one only
    created = session.execute(select(Customer).where(Customer.wc_id == 9)).scalar_one()
    assert found == {7: (known.id, False), 9: (created.id, False)}
    assert created.email is None
    assert not created.is_guest
    assert known.email == "seven@example.com"  # emails are left as they are
    with pytest.raises(ValueError, match="wc_id"):
        account_ids(session, store.id, [0])


def test_account_customers_creates_new_accounts_updates_changed_emails_and_only_reads_the_rest(
    session: Session, store: Store
) -> None:
    kept = account_customer(session, store.id, 7, "seven@example.com")
    moved = account_customer(session, store.id, 8, "old@example.com")
    session.commit()
    inserts = _inserts(session)
    found = account_customers(
        session, store.id, [(7, None), (8, " New@Example.com"), (9, "n@x.io")]
    )
    assert len(inserts) == 1  # account 9 only
    created = session.execute(select(Customer).where(Customer.wc_id == 9)).scalar_one()
    assert found == {7: kept.id, 8: moved.id, 9: created.id}
    assert (created.email, created.is_guest) == ("n@x.io", False)
    session.expire_all()
    emails = dict(session.execute(select(Customer.wc_id, Customer.email)).all())
    assert emails == {7: "seven@example.com", 8: "new@example.com", 9: "n@x.io"}  # None: kept
    assert account_customers(session, store.id, [(7, ""), (8, "new@example.com")]) == {
        7: kept.id,
        8: moved.id,
    }
    assert len(inserts) == 1  # all known: nothing inserted
    assert account_customers(session, store.id, []) == {}
    with pytest.raises(ValueError, match="wc_id"):
        account_customers(session, store.id, [(0, "a@example.com")])


def test_guest_customers_reads_known_guests_and_inserts_only_new_emails(
    session: Session, store: Store
) -> None:
    first = guest_customers(session, store.id, ["A@example.com ", "b@example.com"])
    inserts = _inserts(session)
    again = guest_customers(session, store.id, ["a@example.com", "b@example.com"])
    assert again == first
    assert inserts == []
    more = guest_customers(session, store.id, ["a@example.com", "c@example.com"])
    assert len(inserts) == 1
    assert more["a@example.com"] == first["a@example.com"]
    assert more["c@example.com"] == guest_customer(session, store.id, "c@example.com").id


def _entry(session: Session, store: Store, customer: Customer) -> tuple[int, int]:
    """An entry of 10 points on `customer`, as (customer id, entry id)."""
    session.flush()
    n = session.execute(select(func.count()).select_from(PointEntry)).scalar_one() + 1
    when = datetime(2025, 1, 1, tzinfo=UTC)
    entry = NewEntry(customer.id, 10, SourceKind.PURCHASE, f"order:{n}", f"order:{n}#1", when)
    append_entries(session, store.id, [entry], now=when)
    entry_id = session.execute(
        select(PointEntry.id).where(PointEntry.idempotency_key == entry.idempotency_key)
    ).scalar_one()
    return customer.id, entry_id


def test_heirs_follow_the_recorded_moves_to_who_holds_the_points_now(
    session: Session, store: Store
) -> None:
    """A guest merged into its account, which was deleted (its points to a new guest), which
    registered again: the first guest's points are with the last account, as are the first
    account's. Emails play no part: read from today's emails, an account's email change made its
    guest hold its points again."""
    guest = guest_customer(session, store.id, "carol@example.com")
    first = account_customer(session, store.id, 3, "carol.new@example.com")
    second_guest = guest_customer(session, store.id, "carol.new@example.com")
    again = account_customer(session, store.id, 5, "carol.new@example.com")
    alone = guest_customer(session, store.id, "gina@example.com")
    entries = [_entry(session, store, c) for c in (guest, first, alone)]
    record_move(session, store.id, guest.id, first.id)
    record_move(session, store.id, first.id, second_guest.id)
    record_move(session, store.id, second_guest.id, again.id)

    assert heirs(session, store.id, entries) == {entries[0]: again.id, entries[1]: again.id}
    assert heirs(session, store.id, []) == {}


def test_a_move_takes_the_entries_before_it_not_those_after(session: Session, store: Store) -> None:
    """Carol's guest merged into her account X (nothing left to move: expired); X changed its
    email, and a newcomer bought as a guest with Carol's old address (the same guest), then
    registered as Y: the guest merged into Y. Carol's entry is X's, the newcomer's Y's: one heir
    per customer (the last) gave Y Carol's too."""
    guest = guest_customer(session, store.id, "carol@example.com")
    carol = account_customer(session, store.id, 3, "carol.new@example.com")
    newcomer = account_customer(session, store.id, 4, "carol@example.com")
    carols = _entry(session, store, guest)
    record_move(session, store.id, guest.id, carol.id)
    newcomers = _entry(session, store, guest)
    record_move(session, store.id, guest.id, newcomer.id)
    later = _entry(session, store, guest)

    assert heirs(session, store.id, [carols, newcomers, later]) == {
        carols: carol.id,
        newcomers: newcomer.id,
    }


def test_a_customer_receiving_points_keeps_its_earlier_entries_with_their_heir(
    session: Session, store: Store
) -> None:
    """Carol's guest merged into X; a stranger's account Y with Carol's old address was deleted,
    its balance going to the guest. The guest's entry from before its move is still X's (the
    move clearing the guest's one heir made it the guest's own again)."""
    guest = guest_customer(session, store.id, "carol@example.com")
    carol = account_customer(session, store.id, 3, "carol.new@example.com")
    stranger = account_customer(session, store.id, 4, "carol@example.com")
    carols = _entry(session, store, guest)
    record_move(session, store.id, guest.id, carol.id)
    strangers = _entry(session, store, stranger)
    record_move(session, store.id, stranger.id, guest.id)

    assert heirs(session, store.id, [carols, strangers]) == {
        carols: carol.id,
        strangers: guest.id,
    }


def test_heirs_stop_after_max_moves(session: Session, store: Store) -> None:
    """Moves back and forth at one position (no entry between): followed `MAX_MOVES` times, in
    the order they were made, not forever."""
    one = guest_customer(session, store.id, "one@example.com")
    two = account_customer(session, store.id, 3, "one@example.com")
    entry = _entry(session, store, one)
    for _ in range(MAX_MOVES):
        record_move(session, store.id, one.id, two.id)
        record_move(session, store.id, two.id, one.id)
    record_move(session, store.id, one.id, two.id)

    assert heirs(session, store.id, [entry]) == {}  # MAX_MOVES moves: back on `one`
