"""Two accounts of one email retired in one transaction (`sync.accounts.retire_accounts`: a
write-back batch finding both gone): the first's points go to the second, still live when it
is retired, then the second's to the email's guest. The moves' entries were appended together
at the end, so the second move read a balance without the first's transfer: the first's points
ended on a deleted account, where nothing ever sees them again (a review, 5 Dec)."""

from __future__ import annotations

from sqlalchemy import Engine, select

import sync.accounts as accounts
from ledger.customers import account_customer, get_or_create_store, guests_by_email
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.models import Balance
from ledger.session import session_scope
from tests.ledger.test_concurrent_moves import NOW
from tests.ledger.test_retire_lock_order import context

EMAIL = "ann@example.com"


def test_an_account_retired_into_another_retired_after_it_passes_its_points_on(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        store_id = get_or_create_store(session, "https://shop.example.com").id
        first = account_customer(session, store_id, 11, EMAIL).id  # changed its email since
        second = account_customer(session, store_id, 12, EMAIL).id  # registered with it later
        earned = [
            NewEntry(c, points, SourceKind.PURCHASE, f"order:{c}", f"order:{c}#1", NOW)
            for c, points in ((first, 10), (second, 20))
        ]
        append_entries(session, store_id, earned, now=NOW)

    with session_scope(engine) as session:
        accounts.retire_accounts(context(store_id), session, [first, second])

    with session_scope(engine, readonly=True) as session:
        guest = guests_by_email(session, store_id, [EMAIL])[EMAIL].id
        rows = session.execute(select(Balance.customer_id, Balance.balance)).all()
        assert {int(c): int(b) for c, b in rows} == {first: 0, second: 0, guest: 30}
