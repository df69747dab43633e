"""20 concurrent redemptions for one customer, from two processes, never exceed the balance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from ledger.balances import verify_balances
from ledger.models import Balance, PointEntry, Redemption
from ledger.session import session_scope
from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.e2e.conftest import CONSUMER_KEY, CONSUMER_SECRET
from tests.e2e.test_redemption import EMAIL, alice, give, ours, store  # noqa: F401 # fixtures

REDEEMER = Path(__file__).with_name("concurrent_redeemer.py")
THREADS = 10


@pytest.fixture
def spawn(db_url: str, sandbox: SandboxServer) -> Iterator[subprocess.Popen[str]]:
    started: list[subprocess.Popen[str]] = []

    def one(wc_id: int) -> subprocess.Popen[str]:
        env = {
            **os.environ,
            "LOYALTY_STORE_CONSUMER_KEY": CONSUMER_KEY,
            "LOYALTY_STORE_CONSUMER_SECRET": CONSUMER_SECRET,
        }
        args = [db_url, sandbox.base_url, str(wc_id), EMAIL, str(THREADS)]
        process = subprocess.Popen(
            [sys.executable, str(REDEEMER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=Path(__file__).parents[2],
        )
        started.append(process)
        return process

    yield one  # type: ignore[misc]
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def test_twenty_concurrent_redemptions_from_two_processes_never_exceed_the_balance(
    config: Config,
    engine: Engine,
    store: SandboxStore,  # noqa: F811
    alice: int,  # noqa: F811
    spawn: object,
) -> None:
    give(config, engine, alice, 5_500)  # enough for 5 coupons of 1000, not 6
    processes = [spawn(alice), spawn(alice)]  # type: ignore[operator]
    for process in processes:
        line = process.stdout.readline()
        assert line.strip() == "ready", process.communicate(timeout=10)[1]
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))

    assert [r["other"] for r in results] == [[], []]
    assert sum(r["issued"] for r in results) == 5
    assert sum(r["refused"] for r in results) == 2 * THREADS - 5
    with session_scope(engine) as session:
        redemptions = list(session.execute(select(Redemption)).scalars())
        balance = session.execute(select(Balance.balance)).scalar_one()
        debits = session.execute(
            select(PointEntry.points).where(PointEntry.kind == "redemption")
        ).all()
        assert verify_balances(session) == []
    assert [r.status for r in redemptions] == ["issued"] * 5
    assert balance == 500
    assert sorted(p for (p,) in debits) == [-1000] * 5
    assert all(len(ours(store, r.id)) == 1 for r in redemptions)
