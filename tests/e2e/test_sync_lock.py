"""One sync per store: two real `loyalty sync` processes at once, and runs that were killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ledger.balances import verify_balances
from ledger.models import SyncRun
from ledger.session import session_scope
from ledger.sync_lock import hold_sync_lock
from loyalty.config import Config
from sandbox.server import SandboxServer
from tests.e2e.conftest import write_config_file
from tests.e2e.gate import Gate


def loyalty(config_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "--config", str(config_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_sync(config_file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "loyalty.cli", "--config", str(config_file), "sync"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def gate(sandbox: SandboxServer) -> Iterator[Gate]:
    gate = Gate(sandbox)
    yield gate
    gate.close()


@pytest.fixture
def config_file(sandbox: SandboxServer, db_url: str, tmp_path: Path) -> Path:
    return write_config_file(tmp_path / "loyalty.toml", sandbox, db_url)


def runs(engine: Engine) -> list[str]:
    with session_scope(engine, readonly=True) as session:
        return list(session.execute(select(SyncRun.status).order_by(SyncRun.id)).scalars())


def test_a_sync_while_the_lock_is_held_exits_0_saying_since_when_and_does_nothing(
    config_file: Path, config: Config, sandbox: SandboxServer, engine_for: Callable[[], Engine]
) -> None:
    engine = engine_for()
    with hold_sync_lock(engine, config.require_store().key) as held:
        plain = loyalty(config_file, "sync")
        as_json = loyalty(config_file, "sync", "--json")

    assert held.since is not None
    since = held.since.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert (plain.returncode, plain.stderr) == (0, "")
    assert plain.stdout == f"a sync of this store is already running (since {since})\n"
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["since"] == held.since.isoformat()
    assert sandbox.request_log.count() == 0
    assert runs(engine) == []


def test_two_sync_processes_at_once_one_syncs_and_the_other_exits_0(
    config_file: Path, sandbox: SandboxServer, gate: Gate, engine_for: Callable[[], Engine]
) -> None:
    first = start_sync(config_file)
    assert gate.entered.wait(timeout=60), "the first sync never reached the store"

    second = loyalty(config_file, "sync")  # while the first waits on its first request

    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("a sync of this store is already running (since ")
    gate.opened.set()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert "orders" in out
    engine = engine_for()
    assert runs(engine) == ["succeeded"]
    with session_scope(engine, readonly=True) as session:
        assert verify_balances(session, None) == []


def test_a_killed_sync_does_not_block_the_next_which_marks_it_abandoned(
    config_file: Path, sandbox: SandboxServer, gate: Gate, engine_for: Callable[[], Engine]
) -> None:
    killed = start_sync(config_file)
    assert gate.entered.wait(timeout=60), "the sync never reached the store"
    os.kill(killed.pid, signal.SIGKILL)
    assert killed.wait(timeout=30) == -signal.SIGKILL
    gate.opened.set()

    after = loyalty(config_file, "sync")

    assert after.returncode == 0, after.stderr
    assert "already running" not in after.stdout
    assert runs(engine_for()) == ["abandoned", "succeeded"]
