"""Acceptance 2: `loyalty redeem` SIGKILLed at each step, then recovered: one coupon, one debit.

The redeeming process is real (`python -m tests.e2e.killable_redeem ... redeem`, the CLI itself)
and is killed with SIGKILL while it stands at a known step, never after a sleep:

- `after_commit`: the redemption and its debit are committed; its lookup of the code
  (`GET coupons?code=`) is held by the sandbox before the store sees it;
- `during_post`: the store has created the coupon and its answer is held: the process dies
  without ever reading it;
- `before_recording`: the process has the store's answer and stops (prints a line, waits) just
  before recording the coupon in the ledger.

Then `loyalty redemptions --pending` lists the redemption; once the dead process's claim has
lapsed, `loyalty sync` finishes it (finding the coupon by its code when the store has it); a
second sync changes nothing. Each time: exactly one coupon in the store, one debit in the ledger.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from ledger.models import Redemption
from ledger.session import session_scope
from loyalty.cli import main
from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.e2e.conftest import write_config_file
from tests.e2e.gate import Hold
from tests.e2e.killable_redeem import BEFORE_RECORDING, STOP_AT
from tests.e2e.test_redeem_command import REDEMPTION
from tests.e2e.test_redemption import (  # noqa: F401 # fixtures
    alice,
    consistent,
    give,
    ours,
    redemption,
    redemption_entries,
    store,
)

ROOT = Path(__file__).parents[2]
#: Where the sandbox holds the request, per step: (method, path, before/after the store acts).
HELD_BY_THE_STORE = {
    "after_commit": ("GET", "/coupons", "before"),
    "during_post": ("POST", "/coupons", "after"),
}
STEPS = [*HELD_BY_THE_STORE, BEFORE_RECORDING]
#: Whether the store has the coupon when the process dies.
COUPON_CREATED = {"after_commit": False, "during_post": True}
COUPON_CREATED[BEFORE_RECORDING] = True
WAIT_SECONDS = 60


@pytest.fixture
def config_file(sandbox: SandboxServer, db_url: str, tmp_path: Path) -> Path:
    path = write_config_file(tmp_path / "loyalty.toml", sandbox, db_url)
    path.write_text(path.read_text() + REDEMPTION)
    return path


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:  # a test that failed early must not leave a redeemer behind
        if process.poll() is None:
            process.kill()
        process.communicate()


def start_redeem(
    config_file: Path, customer: int, step: str, started: list[subprocess.Popen[str]]
) -> subprocess.Popen[str]:
    env = {**os.environ, STOP_AT: step}
    command = [sys.executable, "-m", "tests.e2e.killable_redeem", "--config", str(config_file)]
    process = subprocess.Popen(
        [*command, "redeem", "--customer", str(customer), "--tier", "10-off"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    started.append(process)
    return process


def kill_at(step: str, process: subprocess.Popen[str], hold: Hold | None) -> None:
    """Wait until the process stands at `step` (no sleeping), then SIGKILL it."""
    if hold is not None:
        assert hold.reached.wait(timeout=WAIT_SECONDS), f"the redeemer never reached {step}"
    else:
        assert process.stdout is not None
        line = process.stdout.readline()  # the line the process prints there, or EOF if it died
        assert line.strip() == f"stopped at {step}", process.communicate()[1]
    assert process.poll() is None, "the redeemer ended on its own"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == -signal.SIGKILL
    if hold is not None:
        hold.release()  # the sandbox's thread answers a client that is gone


def pending_listed(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> list[dict[str, object]]:
    capsys.readouterr()
    assert main(["--config", str(config_file), "redemptions", "--pending", "--json"]) == 0
    listed: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return listed


def claim_lapses(engine: Engine, redemption_id: int) -> None:
    """What 8.5 minutes do to a dead process's claim (see `sync.redemptions.claim_seconds`)."""
    with session_scope(engine) as session:
        session.execute(
            update(Redemption)
            .where(Redemption.id == redemption_id)
            .values(claimed_until=datetime.now(UTC) - timedelta(seconds=1))
        )


def sync(config_file: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, int]:
    capsys.readouterr()
    code = main(["--config", str(config_file), "sync", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    counts: dict[str, int] = json.loads(out)["redemptions"]
    return counts


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_killed_at_each_step_the_next_sync_leaves_exactly_one_coupon_and_one_debit(
    step: str,
    config: Config,
    engine: Engine,
    sandbox: SandboxServer,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    config_file: Path,
    processes: list[subprocess.Popen[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    give(config, engine, alice, 1200)
    held = HELD_BY_THE_STORE.get(step)
    hold = Hold(sandbox, held[0], held[1], when=held[2]) if held else None
    coupons_before = store.count("coupons")

    kill_at(step, start_redeem(config_file, alice, step, processes), hold)

    [listed] = pending_listed(config_file, capsys)
    redemption_id = int(str(listed["redemption_id"]))
    assert (listed["status"], listed["points"]) == ("pending", 1000)
    assert len(ours(store, redemption_id)) == COUPON_CREATED[step]
    assert redemption_entries(engine, redemption_id) == [(-1000, f"redemption:{redemption_id}#1")]

    assert sync(config_file, capsys)["still_pending"] == 1  # the dead process's claim holds
    assert len(ours(store, redemption_id)) == COUPON_CREATED[step]
    claim_lapses(engine, redemption_id)
    first = sync(config_file, capsys)
    second = sync(config_file, capsys)

    assert (first["issued"], second.get("issued", 0)) == (1, 0)
    assert pending_listed(config_file, capsys) == []
    done = redemption(engine, redemption_id)
    assert done.status == "issued"
    [coupon] = ours(store, redemption_id)
    assert (coupon["id"], coupon["code"]) == (done.coupon_id, done.code)
    assert store.count("coupons") == coupons_before + 1
    assert redemption_entries(engine, redemption_id) == [(-1000, f"redemption:{redemption_id}#1")]
    consistent(engine)
