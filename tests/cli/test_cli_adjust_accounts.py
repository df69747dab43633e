"""`loyalty adjust` books points only to an account that exists: one the ledger has never seen is
asked of the store first (`loyalty.accounts`), so a mistyped id is refused instead of opening an
account nobody holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import responses
from sqlalchemy import func, select

from ledger.models import Customer, PointEntry
from ledger.session import create_engine_for, session_scope
from loyalty.cli import main
from tests.cli.test_cli import ledger_config
from tests.conftest import TEST_STORE_URL, StoreAccounts


def adjust(config: str, customer: int) -> int:
    return main(["--config", config, "adjust", "--customer", str(customer), "--points", "100",
                 "--reason", "goodwill"])  # fmt: skip


def rows(db_url: str) -> tuple[int, int]:
    """(customers, entries) in the ledger."""
    engine = create_engine_for(db_url)
    try:
        with session_scope(engine, readonly=True) as session:
            customers = session.execute(select(func.count()).select_from(Customer)).scalar_one()
            entries = session.execute(select(func.count()).select_from(PointEntry)).scalar_one()
            return int(customers), int(entries)
    finally:
        engine.dispose()


def test_an_id_neither_the_ledger_nor_the_store_has_is_refused_and_nothing_is_written(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], store_accounts: StoreAccounts
) -> None:
    store_accounts.missing.add(4242)
    config = ledger_config(tmp_path, db_url)

    assert adjust(config, 4242) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "loyalty: error: customer 4242 is neither in the ledger nor in the store (it has no"
        " account with that id); nothing was adjusted: check the customer id\n"
    )
    assert rows(db_url) == (0, 0)
    assert store_accounts.asked == [[4242]]


def test_an_account_the_ledger_holds_is_adjusted_without_asking_the_store(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], store_accounts: StoreAccounts
) -> None:
    config = ledger_config(tmp_path, db_url)
    assert adjust(config, 42) == 0  # a customer who signed up since the last sync: the store has it
    assert store_accounts.asked == [[42]]

    assert adjust(config, 42) == 0

    assert store_accounts.asked == [[42]]  # not asked again
    assert rows(db_url) == (1, 2)
    assert capsys.readouterr().out.count("adjusted customer 42 by +100 points") == 2


def test_a_store_that_cannot_be_asked_is_not_taken_as_a_yes(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ledger_config(tmp_path, db_url)
    refusal = {
        "code": "woocommerce_rest_authentication_error",
        "message": "Invalid signature - provided signature does not match.",
        "data": {"status": 401},
    }
    with responses.RequestsMock() as mock:
        mock.add(
            responses.GET, f"{TEST_STORE_URL}/wp-json/wc/v3/customers", json=refusal, status=401
        )
        assert adjust(config, 4242) == 1

    err = capsys.readouterr().err
    assert err.startswith(
        "loyalty: error: customer 4242 is not in the ledger yet, and the store could not be asked"
        " whether it has that account (GET /wp-json/wc/v3/customers rejected with HTTP 401:"
    )
    assert err.endswith("nothing was adjusted: try again when the store answers\n")
    assert "cs_cli_test_secret" not in err
    assert "ck_cli_test_key" not in err
    assert rows(db_url) == (0, 0)
