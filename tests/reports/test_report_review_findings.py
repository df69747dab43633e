"""Reports found wrong by a review (4 Dec): the customer a search opens, Points History's bounds,
a NUL in a search, and purchases per product over a range.

Figures are checked against a plain-Python oracle over `point_entries` / `entry_lines` where a
figure is involved; the other tests check that bad arguments give a clear error naming the
option (exit 2), never an internal error.
"""

from __future__ import annotations

import base64
import re
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from ledger.customers import account_customer, get_or_create_store, guest_customer
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind as K
from ledger.models import Customer, EntryLine, PointEntry
from ledger.rollups import LinePoints
from ledger.session import session_scope
from loyalty.cli import main
from loyalty.config import Config, load_config
from loyalty.web.dashboard import create_app
from reports.period import Period, find_customer
from reports.products import product_customers
from sync.owners import merge_guest, retire_account
from tests.cli.test_cli import ledger_config
from tests.reports.ledger_story import build

NOW = datetime(2024, 4, 1, tzinfo=UTC)


@pytest.fixture
def config(db_url: str, tmp_path: Path) -> Config:
    """The dashboard's config on the test database (as tests/web/conftest.py builds it)."""
    return load_config(Path(ledger_config(tmp_path, db_url)), env={})


# --- 1. `--customer EMAIL` (CLI) / the customer search and Top's guest links (dashboard) open a
#        deleted account instead of the customer who holds the email's points now ------------


def _deleted(session: Session) -> tuple[int, int, int]:
    """ann's account 7 earns 100 and is deleted: its points go to the guest ann@example.com.
    Returns (store, old account, guest) ledger ids."""
    store = get_or_create_store(session, "https://shop.example.com")
    old = account_customer(session, store.id, 7, "ann@example.com")
    session.flush()
    append_entries(
        session,
        store.id,
        [NewEntry(old.id, 100, K.PURCHASE, "order:1", "order:1#1",
                  datetime(2024, 1, 5, 10, tzinfo=UTC), note="order")],
        now=NOW,
    )  # fmt: skip
    moved = retire_account(session, store.id, old, bonus=0, now=datetime(2024, 3, 1, tzinfo=UTC))
    append_entries(session, store.id, moved, now=NOW)
    session.flush()
    guest = guest_customer(session, store.id, "ann@example.com")
    return store.id, old.id, guest.id


def _deleted_then_registered_again(session: Session) -> tuple[int, int, int, int]:
    """As `_deleted`, then ann registers again as account 9 (the guest merges into it). Returns
    (store, old account, guest, new account) ledger ids."""
    store_id, old, guest_id = _deleted(session)
    new = account_customer(session, store_id, 9, "ann@example.com")
    session.flush()
    guest = session.get(Customer, guest_id)
    assert guest is not None
    merged = merge_guest(session, store_id, guest, new.id, bonus=0,
                         now=datetime(2024, 3, 10, tzinfo=UTC))  # fmt: skip
    append_entries(session, store_id, merged, now=NOW)
    session.flush()
    return store_id, old, guest_id, new.id


def test_customer_by_email_is_the_live_account_not_the_deleted_one(session: Session) -> None:
    store_id, old, _guest, new = _deleted_then_registered_again(session)
    # Oracle: the email's points are now all on the new account.
    held = defaultdict(int)
    for e in session.execute(select(PointEntry).where(PointEntry.store_id == store_id)).scalars():
        held[e.customer_id] += e.points
    assert held[new] == 100
    assert held[old] == 0

    found = find_customer(session, store_id, "ann@example.com")

    # `loyalty report history --customer ann@example.com` and the dashboard's search must show
    # the account that has the email (as ledger.customers.find_account_by_email does: "Accounts
    # deleted in the store are passed over"), not the deleted account whose points left it.
    assert found.id == new, (found.id, found.wc_id, found.deleted_at)


def test_dashboard_top_link_of_a_guest_opens_that_guests_history(
    config: Config, engine: Engine
) -> None:
    """ann's account is deleted: her 100 points go to the guest ann@example.com, who tops March.
    Top's link for that guest is `?customer=ann@example.com`; it must open the guest's history
    (the +100 transfer, balance 100), not the deleted account's (the -100 transfer, balance 0)."""
    with session_scope(engine) as session:
        _store_id, _old, guest_id = _deleted(session)
        guest_entries = [
            e.id for e in session.execute(
                select(PointEntry).where(PointEntry.customer_id == guest_id)
            ).scalars()
        ]  # fmt: skip
    client = TestClient(create_app(config, engine))
    top = client.get("/", params={"from": "2024-03-01", "to": "2024-03-31"}).text
    assert "customer=ann%40example.com#history" in top  # the guest's link in Top

    page = client.get("/", params={"customer": "ann@example.com"}).text

    shown = [int(x) for x in re.findall(r'<tr data-entry="(\d+)">', page)]
    assert shown == guest_entries, (shown, guest_entries)


# --- 2. Points History: a --limit or a cursor the CLI accepts fails inside the database --------


@pytest.fixture
def story_config(engine: Engine, db_url: str, tmp_path: Path) -> str:
    (tmp_path / "cli").mkdir()
    tmp_path = tmp_path / "cli"
    with session_scope(engine) as session:
        build(session)
    return ledger_config(tmp_path, db_url)


def _report(config: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--config", config, "report", *args])
    captured = capsys.readouterr()
    return code, captured.err


@pytest.mark.parametrize("limit", ["2147483647", "9223372036854775807"])
def test_history_limit_the_cli_accepts_never_ends_in_an_internal_error(
    story_config: str, capsys: pytest.CaptureFixture[str], limit: str
) -> None:
    # --limit takes 1 .. 2**63-1 (loyalty.report_cli._positive); top/products/tiers/expiring take
    # the same values fine. history binds limit + 1 as an INTEGER: past 2**31-1 PostgreSQL
    # refuses it, and at 2**63-1 the driver cannot even bind it.
    code, err = _report(story_config, capsys, "history", "--limit", limit)

    assert "internal error" not in err, err[-300:]
    assert "Traceback" not in err, err[-300:]
    assert code == 0, (code, err[-300:])


def test_history_cursor_with_a_large_id_is_not_an_internal_error(
    story_config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # reports.history._is_key accepts any id up to 2**63-1 ("an id the ledger can hold"), entry
    # ids are BIGINT, but the cursor is bound as a 32-bit INTEGER.
    cursor = base64.urlsafe_b64encode(b"entry:3000000000").decode().rstrip("=")

    code, err = _report(story_config, capsys, "history", "--cursor", cursor)

    assert "internal error" not in err, err[-300:]
    assert code in (0, 2), (code, err[-300:])


def test_dashboard_history_cursor_with_a_large_id_is_not_a_server_error(
    config: Config, engine: Engine
) -> None:
    with session_scope(engine) as session:
        build(session)
    client = TestClient(create_app(config, engine), raise_server_exceptions=False)
    cursor = base64.urlsafe_b64encode(b"entry:3000000000").decode().rstrip("=")

    page = client.get("/", params={"cursor": cursor})

    assert page.status_code == 200, page.status_code


# --- 3. A customer search with a NUL character fails inside PostgreSQL ------------------------


def test_history_customer_with_a_nul_is_a_clear_error(
    story_config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _report(story_config, capsys, "history", "--customer", "ann\x00@example.com")

    assert "internal error" not in err, err[-300:]
    assert code == 2, (code, err[-300:])
    assert "customer" in err, err[-300:]


def test_dashboard_customer_search_with_a_nul_is_not_a_server_error(
    config: Config, engine: Engine
) -> None:
    with session_scope(engine) as session:
        build(session)
    client = TestClient(create_app(config, engine), raise_server_exceptions=False)

    page = client.get("/", params={"customer": "ann\x00@example.com"})

    assert page.status_code == 200, page.status_code
    assert "No customer matches that search." in page.text


# --- 4. Per product over a range counts a refund as another purchase --------------------------


def test_products_over_a_range_count_a_refund_as_no_purchase(session: Session) -> None:
    store = get_or_create_store(session, "https://shop.example.com")
    ann = account_customer(session, store.id, 7, "ann@example.com")
    session.flush()

    def line(points: int) -> tuple[LinePoints, ...]:
        return (LinePoints(10, 0, points),)

    entries = [  # order 1 bought in January, partly refunded in February; order 2 in February
        NewEntry(ann.id, 60, K.PURCHASE, "order:1", "order:1#1",
                 datetime(2024, 1, 5, 10, tzinfo=UTC), lines=line(60)),
        NewEntry(ann.id, -10, K.PURCHASE, "order:1", "order:1#2",
                 datetime(2024, 2, 3, 10, tzinfo=UTC), lines=line(-10)),
        NewEntry(ann.id, 50, K.PURCHASE, "order:2", "order:2#1",
                 datetime(2024, 2, 20, 10, tzinfo=UTC), lines=line(50)),
    ]  # fmt: skip
    append_entries(session, store.id, entries, now=NOW)
    february = Period(date(2024, 2, 1), date(2024, 2, 29))

    # Oracle over entry_lines: points of the range's lines; purchases = orders whose first line
    # for (product, customer) falls in the range (a refund of an order is not another purchase
    # of its products: ledger.customer_rollups.bought_before, as the all-time figure counts).
    lines = (
        session.execute(
            select(EntryLine).where(EntryLine.store_id == store.id).order_by(EntryLine.id)
        )
        .scalars()
        .all()
    )
    first_day: dict[str, date] = {}
    for row in lines:
        first_day.setdefault(row.source_ref, row.day)
    in_range = [r for r in lines if february.start <= r.day <= february.end]
    expected_points = sum(r.points for r in in_range)
    expected_purchases = len(
        {r.source_ref for r in in_range if february.start <= first_day[r.source_ref]}
    )

    [row] = product_customers(session, store.id, february, product_id=10)

    assert (row.points, row.purchases) == (expected_points, expected_purchases) == (40, 1)


def test_the_status_equation_reads_a_bucket_that_moved_backwards_with_its_sign_turned(
    story_config: str, config: Config, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """On 20 March more redemptions were returned than made (redeemed = -10): the equation read
    `- -10`, on the terminal and on the dashboard."""
    code = main(
        ["--config", story_config, "report", "status", "--from", "2024-03-20", "--to", "2024-03-20"]
    )
    out = capsys.readouterr().out
    page = TestClient(create_app(config, engine)).get(
        "/", params={"lang": "en", "from": "2024-03-20", "to": "2024-03-20"}
    )
    equation = re.search(r'id="equation"[^>]*>\s*<bdi dir="ltr">([^<]*)</bdi>', page.text)

    assert code == 0
    assert "- -" not in out
    assert "90 + 0 - 0 + 10 - 0 + 0 + 0 + 0 + 0 = 100" in out
    assert equation is not None
    assert equation.group(1) == "90 + 0 − 0 + 10 − 0 + 0 + 0 + 0 + 0 = 100"
