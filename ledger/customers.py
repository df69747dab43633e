"""Stores and the customers who hold points in them.

The sync maps each source object to a ledger customer: an account by its WooCommerce id, a guest
by billing email. Every get-or-create here is safe when two processes race to create the same row
(INSERT ... ON CONFLICT DO NOTHING, then SELECT).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Collection, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from ledger._dialect import upsert_insert
from ledger.batches import chunks, rows_in
from ledger.models import Customer, CustomerMove, PointEntry, Store, utcnow

_K = TypeVar("_K")
_V = TypeVar("_V")

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_store_key(url: str) -> str:
    """A store's identity from its URL: host (lowercased, default port dropped) and base path.

    `https://Shop.Example.com:443/base/` and `shop.example.com/base` give `shop.example.com/base`.
    """
    text = url.strip()
    if not text:
        raise ValueError(
            "store key is empty: expected the store URL, e.g. https://shop.example.com"
        )
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if not parts.hostname:
        raise ValueError(f"store key {url!r} has no host: expected e.g. https://shop.example.com")
    host = parts.hostname.lower()
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{parts.port}"
    return host + parts.path.rstrip("/")


def normalise_email(email: str) -> str:
    """Emails are compared lowercased and stripped, as WooCommerce sends them inconsistently."""
    return email.strip().lower()


def email_search_key(email: str) -> str:
    """What an admin sees of an email, to find it by: Unicode format characters (category Cf: a
    right-to-left mark U+200F, a zero-width joiner U+200D, a soft hyphen...) removed, stripped
    and case-folded. The ledger keeps an email as the store sent it (`normalise_email`), those
    characters included; they do not show, so the admin types or pastes the email without them.
    Several emails may share a key: it finds, it never identifies."""
    shown = "".join(c for c in email if unicodedata.category(c) != "Cf")
    return shown.strip().casefold()


def get_or_create_store(session: Session, key: str) -> Store:
    """The store with this key (normalised as by `normalise_store_key`), created if new."""
    normalised = normalise_store_key(key)
    _insert_ignoring_conflict(session, Store, {"key": normalised, "created_at": utcnow()})
    return session.execute(select(Store).where(Store.key == normalised)).scalar_one()


def account_customer(session: Session, store_id: int, wc_id: int, email: str | None) -> Customer:
    """The ledger customer for WooCommerce account `wc_id`, created if new.

    A given, changed email replaces the stored one; None or blank leaves it as it is.
    """
    if isinstance(wc_id, bool) or not isinstance(wc_id, int) or wc_id <= 0:
        raise ValueError(
            f"wc_id must be a positive WooCommerce customer id, got {wc_id!r} "
            "(guests, customer id 0, are held by email: use guest_customer)"
        )
    normalised = normalise_email(email) if email else None
    _insert_ignoring_conflict(
        session,
        Customer,
        {"store_id": store_id, "wc_id": wc_id, "email": normalised or None, "is_guest": False},
    )
    customer = session.execute(
        select(Customer).where(Customer.store_id == store_id, Customer.wc_id == wc_id)
    ).scalar_one()
    if normalised and customer.email != normalised:
        customer.email = normalised
        session.flush()
    return customer


def account_known(session: Session, store_id: int, wc_id: int) -> bool:
    """Whether the ledger holds WooCommerce account `wc_id` (deleted in the store or not)."""
    return bool(_account_rows(session, store_id, _account_keys([wc_id]), Customer.id))


def account_customers(
    session: Session, store_id: int, accounts: Sequence[tuple[int, str | None]]
) -> dict[int, int]:
    """Many accounts at once, (wc_id, email) each: `account_customer` in a few statements, as
    plain rows (no customer loaded).

    For a page of a hundred customers from the store: created if new, emails updated when given
    and changed. Returns the customers' ledger ids by WooCommerce id.
    """
    emails = {wc_id: normalise_email(email) if email else None for wc_id, email in accounts}
    found = _read_or_create(
        session,
        _account_keys(emails),
        lambda keys: _account_rows(session, store_id, keys, Customer.email),
        lambda wc_id: {
            "store_id": store_id,
            "wc_id": wc_id,
            "email": emails[wc_id] or None,
            "is_guest": False,
        },
    )
    changed = [
        {"customer_id": customer_id, "new_email": emails[wc_id]}
        for wc_id, (customer_id, stored) in sorted(found.items())
        if emails[wc_id] and stored != emails[wc_id]
    ]
    if changed:
        session.connection().execute(
            update(Customer)
            .where(Customer.id == bindparam("customer_id"))
            .values(email=bindparam("new_email")),
            changed,
        )
    return {wc_id: customer_id for wc_id, (customer_id, _) in found.items()}


def account_ids(
    session: Session, store_id: int, wc_ids: Collection[int]
) -> dict[int, tuple[int, bool]]:
    """Many accounts' ledger ids, created if new (emails left as they are), with whether each
    was deleted in the store: `account_customers` without an email to set, read as plain rows
    (no customer loaded) and written only for the accounts the ledger does not know yet."""
    return _read_or_create(
        session,
        _account_keys(wc_ids),
        lambda keys: {
            wc_id: (customer_id, deleted_at is not None)
            for wc_id, (customer_id, deleted_at) in _account_rows(
                session, store_id, keys, Customer.deleted_at
            ).items()
        },
        lambda wc_id: {"store_id": store_id, "wc_id": wc_id, "email": None, "is_guest": False},
    )


def _read_or_create(
    session: Session,
    wanted: list[_K],
    read: Callable[[list[_K]], dict[_K, _V]],
    row: Callable[[_K], dict[str, Any]],
) -> dict[_K, _V]:
    """What `read` finds for the `wanted` keys; the keys it does not find are inserted as
    customers (`row`, stamped now; a concurrent insert of the same one is ignored), then read.
    One query when every key is known already."""
    found = read(wanted)
    missing = [key for key in wanted if key not in found]
    if missing:
        now = utcnow()
        session.connection().execute(
            upsert_insert(session, Customer.__table__).on_conflict_do_nothing(),
            [{**row(key), "created_at": now} for key in missing],
        )
        found.update(read(missing))
    return found


def _account_keys(wc_ids: Collection[int]) -> list[int]:
    """The accounts' WooCommerce ids, sorted and each once; ValueError names one that is not a
    positive integer."""
    for wc_id in wc_ids:
        if isinstance(wc_id, bool) or not isinstance(wc_id, int) or wc_id <= 0:
            raise ValueError(f"wc_id must be a positive WooCommerce customer id, got {wc_id!r}")
    return sorted(set(wc_ids))


def _account_rows(
    session: Session, store_id: int, wc_ids: list[int], column: Any
) -> dict[int, tuple[int, Any]]:
    """(ledger id, `column`) of the known accounts among `wc_ids`, by WooCommerce id."""
    if not wc_ids:
        return {}
    rows = session.execute(  # the session's pending changes are flushed first (autoflush)
        select(Customer.wc_id, Customer.id, column).where(
            Customer.store_id == store_id, Customer.wc_id.in_(wc_ids)
        )
    )
    return {wc_id: (cid, value) for wc_id, cid, value in rows if wc_id is not None}


def guests_by_email(
    session: Session, store_id: int, emails: Collection[str]
) -> dict[str, Customer]:
    """The guest customers held by any of `emails` (normalised), by email."""
    wanted = sorted({normalise_email(e) for e in emails if e and e.strip()})
    if not wanted:
        return {}
    rows = session.execute(
        select(Customer).where(
            Customer.store_id == store_id, Customer.is_guest.is_(True), Customer.email.in_(wanted)
        )
    ).scalars()
    return {c.email: c for c in rows if c.email}


def guest_customer(session: Session, store_id: int, email: str) -> Customer:
    """The ledger customer for guest orders billed to `email` (normalised), created if new."""
    normalised = normalise_email(email) if isinstance(email, str) else ""
    if not normalised:
        raise ValueError(f"email of a guest customer must be a non-empty string, got {email!r}")
    _insert_ignoring_conflict(
        session,
        Customer,
        {"store_id": store_id, "wc_id": None, "email": normalised, "is_guest": True},
    )
    return session.execute(
        select(Customer).where(
            Customer.store_id == store_id,
            Customer.is_guest.is_(True),
            Customer.email == normalised,
        )
    ).scalar_one()


def find_account_by_email(session: Session, store_id: int, email: str) -> Customer | None:
    """The live account whose stored email is `email` (normalised); None if there is none.

    Accounts deleted in the store are passed over: their email now names a guest.

    Should several accounts carry it, the newest (highest WooCommerce id) wins: WordPress keeps
    account emails unique, so an account registered with an email proves that the older ones
    carrying it in the ledger had let it go (changed it, or were deleted unseen), and it is the
    account the customers listing that registered it gives the email to
    (`sync.owners.Owners.register_accounts`).
    The oldest won before: the run that listed the new account gave its email's orders to it,
    the next run to an old account deleted unseen, and back again when that one was found gone.
    """
    normalised = normalise_email(email)
    if not normalised:
        return None
    return session.execute(
        select(Customer)
        .where(
            Customer.store_id == store_id,
            Customer.is_guest.is_(False),
            Customer.deleted_at.is_(None),
            Customer.email == normalised,
        )
        .order_by(Customer.wc_id.desc(), Customer.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def guest_customers(session: Session, store_id: int, emails: Collection[str]) -> dict[str, int]:
    """`guest_customer` for many emails (normalised, non-empty): their ids. One query when the
    ledger knows every one; those it does not are inserted, then read."""
    wanted = sorted({normalise_email(e) for e in emails if e and e.strip()})
    if not wanted:
        return {}
    return _read_or_create(
        session,
        wanted,
        lambda keys: _guest_rows(session, store_id, keys),
        lambda email: {"store_id": store_id, "wc_id": None, "email": email, "is_guest": True},
    )


def _guest_rows(session: Session, store_id: int, emails: list[str]) -> dict[str, int]:
    rows = session.execute(  # the session's pending changes are flushed first (autoflush)
        select(Customer.email, Customer.id).where(
            Customer.store_id == store_id, Customer.is_guest.is_(True), Customer.email.in_(emails)
        )
    )
    return {str(email): int(customer_id) for email, customer_id in rows}


def accounts_by_email(session: Session, store_id: int, emails: Collection[str]) -> dict[str, int]:
    """`find_account_by_email` for many emails in one query: the live account holding each."""
    wanted = sorted({normalise_email(e) for e in emails if e and e.strip()})
    if not wanted:
        return {}
    rows = session.execute(
        select(Customer.email, Customer.id)
        .where(
            Customer.store_id == store_id,
            Customer.is_guest.is_(False),
            Customer.deleted_at.is_(None),
            Customer.email.in_(wanted),
        )
        # the newest last: it wins below, as the single lookup's
        .order_by(Customer.wc_id, Customer.id)
    )
    return {str(email): int(customer_id) for email, customer_id in rows}


#: How many moves `heirs` follows from one entry (a guest, its account deleted, its guest
#: registered again...); a longer chain stops there.
MAX_MOVES = 32


def record_move(session: Session, store_id: int, source_id: int, target_id: int) -> None:
    """The source's points move to the target as a balance (`sync.owners.move_holdings`), its
    entries staying where they are: recorded after the store's last entry (`CustomerMove`), so
    the source's entries up to it count as the target's (`heirs`) and those after as its own.
    Recorded when nothing moves too: what expired on the source went with it all the same."""
    session.flush()
    last = session.execute(
        select(func.coalesce(func.max(PointEntry.id), 0)).where(PointEntry.store_id == store_id)
    ).scalar_one()
    session.add(
        CustomerMove(
            store_id=store_id,
            from_customer_id=source_id,
            to_customer_id=target_id,
            after_entry_id=int(last),
        )
    )
    session.flush()


def heirs(
    session: Session, store_id: int, entries: Collection[tuple[int, int]]
) -> dict[tuple[int, int], int]:
    """Who holds the points of each (customer, entry id) now, for those whose points went to
    another: the customer's first move after the entry, then the first move of the customer it
    went to after that one, and so on (`CustomerMove`). Entries still their customer's are left
    out: one the customer gathered after its points moved is its own (a guest merged again
    once its email changed hands, or that received a deleted account's balance)."""
    moves = _moves_from(session, store_id, {customer for customer, _ in entries})
    found: dict[tuple[int, int], int] = {}
    for customer, entry_id in entries:
        who, after = customer, (entry_id - 1, _LAST)  # a move after `entry_id - 1` took it
        for _ in range(MAX_MOVES):
            step = next((m for m in moves.get(who, ()) if (m[0], m[1]) > after), None)
            if step is None:
                break
            who, after = step[2], (step[0], step[1])
        if who != customer:
            found[(customer, entry_id)] = who
    return found


def moved_customers(session: Session, store_id: int, customer_ids: Collection[int]) -> set[int]:
    """Those of `customer_ids` whose points moved to another customer at least once."""
    rows = rows_in(
        session,
        customer_ids,
        lambda chunk: (
            select(CustomerMove.from_customer_id)
            .where(CustomerMove.store_id == store_id, CustomerMove.from_customer_id.in_(chunk))
            .distinct()
        ),
    )
    return {int(customer_id) for (customer_id,) in rows}


_LAST = 2**63  # above every move id: a move at the same position as an entry came before it


def _moves_from(
    session: Session, store_id: int, customer_ids: Collection[int]
) -> dict[int, list[tuple[int, int, int]]]:
    """The moves from `customer_ids` and from whoever they went to (a chain `MAX_MOVES` long at
    most), each customer's as (after entry id, move id, to customer), in order."""
    moves: dict[int, list[tuple[int, int, int]]] = {}
    wanted = set(customer_ids)
    for _ in range(MAX_MOVES):
        wanted -= moves.keys()
        if not wanted:
            break
        for customer in wanted:
            moves[customer] = []
        rows = rows_in(
            session,
            wanted,
            lambda chunk: select(
                CustomerMove.from_customer_id,
                CustomerMove.after_entry_id,
                CustomerMove.id,
                CustomerMove.to_customer_id,
            ).where(CustomerMove.store_id == store_id, CustomerMove.from_customer_id.in_(chunk)),
        )
        for source, after, move_id, target in rows:
            moves[int(source)].append((int(after), int(move_id), int(target)))
        wanted = {int(target) for *_, target in rows}
    for found in moves.values():
        found.sort()
    return moves


def carry_signup(session: Session, source_id: int, target_id: int) -> None:
    """The source's balance goes to the target (`sync.owners.move_holdings`): so does the signup it
    carries, if any. The source carries none from now on (a guest merged again later hands on
    only what it gathered since); a target carrying a signup already keeps that one, and one
    carrying its own takes the source's: its own is then taken back (one signup a balance)."""
    carried = session.execute(
        select(Customer.signup_of).where(Customer.id == source_id)
    ).scalar_one_or_none()
    if carried is None:
        return
    session.execute(update(Customer).where(Customer.id == source_id).values(signup_of=None))
    session.execute(
        update(Customer)
        .where(
            Customer.id == target_id,
            or_(Customer.signup_of.is_(None), Customer.signup_of == target_id),
        )
        .values(signup_of=carried)
    )


def signup_carried(session: Session, customer_ids: Collection[int]) -> dict[int, str]:
    """For each of `customer_ids` that carries another account's signup points: that account's
    email (or "customer {id}")."""
    found: dict[int, str] = {}
    carrier = Customer.__table__.alias("earner")
    for chunk in chunks(sorted(set(customer_ids))):
        rows = session.execute(
            select(Customer.id, carrier.c.id, carrier.c.email)
            .join(carrier, carrier.c.id == Customer.signup_of)
            .where(Customer.id.in_(chunk), Customer.signup_of != Customer.id)
        ).all()
        found.update({int(cid): str(email or f"customer {of}") for cid, of, email in rows})
    return found


def mark_signups(session: Session, customer_ids: Collection[int]) -> None:
    """These accounts earned their signup: their balances carry it (unless they carry one)."""
    for chunk in chunks(sorted(set(customer_ids))):
        session.execute(
            update(Customer)
            .where(Customer.id.in_(chunk), Customer.signup_of.is_(None))
            .values(signup_of=Customer.id)
            .execution_options(synchronize_session=False)
        )


def _insert_ignoring_conflict(session: Session, model: type[Any], values: dict[str, Any]) -> None:
    session.flush()
    row = {"created_at": utcnow(), **values}
    session.execute(upsert_insert(session, model.__table__).values(row).on_conflict_do_nothing())
