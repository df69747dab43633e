"""A ledger database that cannot be used: one line saying which, what is wrong and what to do."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.migrate import upgrade
from loyalty.cli import main
from tests.cli.test_cli import closed_port, ledger_config

COMMANDS = {
    "balances": ["balances"],
    "verify": ["verify"],
    "adjust": ["adjust", "--customer", "5", "--points", "10", "--reason", "x"],
    "sync": ["sync"],
}


def damaged(tmp_path: Path) -> str:
    path = tmp_path / "damaged.db"
    path.write_bytes(os.urandom(1) + b"this is no SQLite database" * 200)
    return f"sqlite:///{path}"


def read_only(tmp_path: Path) -> str:
    path = tmp_path / "ledger.db"
    upgrade(f"sqlite:///{path}")
    return f"sqlite:///file:{path}?mode=ro&uri=true"  # as root, file modes would not stop writes


def no_directory(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}"


def postgres_down(tmp_path: Path) -> str:
    return f"postgresql+psycopg://loyalty:dbpw7788@127.0.0.1:{closed_port()}/loyalty"


CASES = [
    (damaged, ["balances", "verify", "adjust", "sync"], "the SQLite file is damaged: restore it"),
    (read_only, ["adjust", "sync"], "it is read-only: make the file, and its directory"),
    (no_directory, ["balances", "adjust", "sync"], "check that its directory exists"),
    (postgres_down, ["balances", "adjust", "sync"], "is the PostgreSQL server running"),
]


@pytest.mark.parametrize(
    ("make_url", "command", "advice"),
    [
        pytest.param(make, name, advice, id=f"{make.__name__}-{name}")
        for make, names, advice in CASES
        for name in names
    ],
)
def test_an_unusable_database_is_one_line_with_what_to_do(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make_url: Callable[[Path], str],
    command: str,
    advice: str,
) -> None:
    config = ledger_config(tmp_path, make_url(tmp_path))

    assert main(["--config", config, *COMMANDS[command]]) == 1

    err = capsys.readouterr().err
    assert err.startswith("loyalty: error: cannot use the database "), err
    assert advice in err
    assert len(err.splitlines()) == 1
    assert "internal error" not in err
    assert "dbpw7788" not in err


@pytest.mark.parametrize("command", COMMANDS)
def test_a_missing_sqlite_file_says_to_create_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    missing = tmp_path / "new.db"
    config = ledger_config(tmp_path, f"sqlite:///{missing}")

    assert main(["--config", config, *COMMANDS[command]]) == 1

    err = capsys.readouterr().err
    assert err == (
        f"loyalty: error: the database at sqlite:///{missing} does not exist (no file {missing}):"
        " run `loyalty db upgrade` to create it, or fix [database] url\n"
    )
    assert not missing.exists()  # not created empty as a side effect
