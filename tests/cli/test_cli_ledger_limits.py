"""The command line when the ledger refuses: one clear line, exit 1, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger.models import PointEntry
from ledger.session import create_engine_for, session_scope
from loyalty.cli import main
from tests.cli.test_cli import ledger_config
from tests.conftest import StoreAccounts


@pytest.mark.parametrize("points", ["9223372036854775807", "-9223372036854775808", "10" * 20])
def test_adjust_beyond_what_the_ledger_holds_is_one_line_and_writes_nothing(
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    store_accounts: StoreAccounts,
    points: str,
) -> None:
    config = ledger_config(tmp_path, db_url)
    argv = ["--config", config, "adjust", "--customer", "5", "--points", points, "--reason", "x"]

    assert main(argv) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "loyalty: error: points must be within ±1,000,000,000,000 (what the ledger holds),"
        f" got {int(points)}\n"
    )
    engine = create_engine_for(db_url)
    try:
        with session_scope(engine) as session:
            assert session.execute(select(func.count()).select_from(PointEntry)).scalar_one() == 0
    finally:
        engine.dispose()
    assert main(["--config", config, "verify"]) == 0


def test_adjust_that_would_carry_a_balance_beyond_the_limit_is_one_line(
    db_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    store_accounts: StoreAccounts,
) -> None:
    config = ledger_config(tmp_path, db_url)
    adjust = ["--config", config, "adjust", "--customer", "5", "--reason", "x", "--points"]
    assert main([*adjust, "1000000000000"]) == 0
    capsys.readouterr()

    assert main([*adjust, "1"]) == 1

    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert "would go beyond what the ledger holds" in err
    assert main(["--config", config, "balances", "--json"]) == 0
    assert '"balance": 1000000000000' in capsys.readouterr().out
