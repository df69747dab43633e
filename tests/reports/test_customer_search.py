"""Finding a customer by the email the admin sees: invisible format characters (a right-to-left
mark, a zero-width joiner) in a stored email, and emails that read alike, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from ledger.customers import account_customer, get_or_create_store, guest_customer
from ledger.entries import NewEntry, append_entries
from ledger.kinds import SourceKind
from ledger.session import session_scope
from loyalty.cli import main
from reports.period import AmbiguousCustomer, UnknownCustomer, find_customer
from tests.cli.test_cli import ledger_config

STORE = "https://shop.example.com"
AT = datetime(2024, 2, 20, 10, tzinfo=UTC)
RLM, ZWJ, SOFT_HYPHEN, WORD_JOINER = "\u200f", "\u200d", "\u00ad", "\u2060"


def guest(session: Session, email: str, points: int, order: int) -> int:
    """A guest held by `email` (stored as the store sent it), with `points` from one order."""
    store_id = get_or_create_store(session, STORE).id
    guest = guest_customer(session, store_id, email)
    session.flush()
    entry = NewEntry(
        customer_id=guest.id, points=points, kind=SourceKind.PURCHASE,
        source_ref=f"order:{order}", idempotency_key=f"order:{order}#1", occurred_at=AT,
        note=f"purchase +{points}",
    )  # fmt: skip
    append_entries(session, store_id, [entry], now=AT)
    return guest.id


@pytest.mark.parametrize(
    "stored",
    [
        f"ann{RLM}@example.com",
        f"{RLM}ann@example.com",
        f"an{ZWJ}n@exam{SOFT_HYPHEN}ple.com",
        f"ann@example.com{WORD_JOINER}",
    ],
    ids=["rlm", "leading-rlm", "zwj-soft-hyphen", "trailing-word-joiner"],
)
def test_a_guest_whose_email_has_invisible_characters_is_found_by_the_email_as_seen(
    session: Session, stored: str
) -> None:
    """The store sent the email with format characters (category Cf) in it; the ledger keeps it
    so. The admin types what shows: it matched nobody."""
    guest_id = guest(session, stored, 500, 1)
    store_id = get_or_create_store(session, STORE).id

    for typed in ("ann@example.com", "  Ann@Example.COM ", stored):  # typed, or pasted whole
        assert find_customer(session, store_id, typed).id == guest_id, typed


def test_an_account_whose_email_has_a_right_to_left_mark_is_found_by_the_email_as_seen(
    session: Session,
) -> None:
    store_id = get_or_create_store(session, STORE).id
    account = account_customer(session, store_id, 7, f"bob{RLM}@example.com")
    session.flush()

    assert find_customer(session, store_id, "bob@example.com").id == account.id


def test_emails_that_read_alike_are_all_listed_and_none_is_picked(session: Session) -> None:
    """Two guests whose emails differ only by a right-to-left mark are two people: a search for
    what both look like names both, and the dashboard's exact link of each finds that one."""
    plain = guest(session, "ann@example.com", 500, 1)
    marked = guest(session, f"ann{RLM}@example.com", 300, 2)
    store_id = get_or_create_store(session, STORE).id

    for typed in ("ann@example.com", f"ann{RLM}@example.com", f"a{ZWJ}nn@example.com"):
        with pytest.raises(AmbiguousCustomer) as ambiguous:
            find_customer(session, store_id, typed)
        assert [c.id for c in ambiguous.value.matches] == [plain, marked], typed
    assert r"'ann\u200f@example.com' (guest)" in str(ambiguous.value)

    assert find_customer(session, store_id, "ann@example.com", exact=True).id == plain
    assert find_customer(session, store_id, f"ann{RLM}@example.com", exact=True).id == marked
    with pytest.raises(AmbiguousCustomer):  # exact, but neither is this text: still both
        find_customer(session, store_id, f"a{ZWJ}nn@example.com", exact=True)


def test_a_search_matching_one_email_keeps_the_live_account_before_its_guest(
    session: Session,
) -> None:
    """One email held by an account and a guest is one match (the account, as before), not an
    ambiguity: only different emails reading alike are listed."""
    guest_id = guest(session, f"cy{RLM}@example.com", 100, 1)
    store_id = get_or_create_store(session, STORE).id
    account = account_customer(session, store_id, 9, f"cy{RLM}@example.com")
    session.flush()

    assert find_customer(session, store_id, "cy@example.com").id == account.id
    assert guest_id != account.id


@pytest.mark.parametrize(
    "typed", ["ann.x@example.com", "an@example.com", f"{RLM}", "ann%@example.com"]
)
def test_a_search_that_only_looks_close_matches_nobody(session: Session, typed: str) -> None:
    guest(session, f"ann{RLM}@example.com", 500, 1)
    store_id = get_or_create_store(session, STORE).id

    with pytest.raises(UnknownCustomer) as unknown:
        find_customer(session, store_id, typed)
    assert not isinstance(unknown.value, AmbiguousCustomer)


# --- the CLI (the dashboard: tests/web/test_dashboard_customer_search.py) -------------------


def test_the_cli_names_every_customer_a_search_matches(
    engine: Engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(engine) as session:
        guest(session, "ann@example.com", 500, 1)
        guest(session, f"ann{RLM}@example.com", 300, 2)
    (tmp_path / "cli").mkdir()
    config_file = ledger_config(tmp_path / "cli", db_url)

    code = main(["--config", config_file, "report", "history", "--customer", "ann@example.com"])

    err = capsys.readouterr().err
    assert code == 2
    assert "several customers match 'ann@example.com'" in err
    assert r"'ann\u200f@example.com' (guest)" in err


def test_the_cli_picks_one_of_emails_that_read_alike_with_exact(
    engine: Engine, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The error listing them says how to pick one; `--exact` with the email as listed (the
    plain one, or the one with the mark) shows that customer's history alone."""
    with session_scope(engine) as session:
        guest(session, "ann@example.com", 500, 1)
        guest(session, f"ann{RLM}@example.com", 300, 2)
    (tmp_path / "cli").mkdir()
    config_file = ledger_config(tmp_path / "cli", db_url)
    command = ["--config", config_file, "report", "history", "--json", "--customer"]

    assert main([*command, "ann@example.com"]) == 2
    assert "give its email as listed with --exact" in capsys.readouterr().err
    for email, points in (("ann@example.com", 500), (f"ann{RLM}@example.com", 300)):
        assert main([*command, email, "--exact"]) == 0, capsys.readouterr().err
        rows = json.loads(capsys.readouterr().out)["entries"]
        assert {row["email"] for row in rows} == {email}
        assert sum(row["points"] for row in rows if row["type"] == "entry") == points
    assert main(["--config", config_file, "report", "status", "--exact"]) == 2
    assert "--exact does not apply to the status report" in capsys.readouterr().err
