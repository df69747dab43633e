"""Acceptance: two OS processes writing the same 1,000 keys at once leave an exact ledger."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from ledger.balances import verify_balances
from ledger.customers import account_customer, get_or_create_store
from ledger.kinds import SourceKind
from ledger.models import Balance, PointEntry
from ledger.session import session_scope
from tests.ledger.factories import NOW, OCCURRED

WRITER = Path(__file__).with_name("concurrent_writer.py")
KEYS = 1000
CUSTOMERS = 25


def _spec(engine: Engine) -> dict[str, Any]:
    """A store, its customers and 1,000 seeded entries, as the writers' JSON spec."""
    with session_scope(engine) as session:
        store = get_or_create_store(session, "shop.example.com")
        customer_ids = [
            account_customer(session, store.id, wc_id, None).id for wc_id in range(1, CUSTOMERS + 1)
        ]
    rng = random.Random(20240501)
    kinds = [SourceKind.PURCHASE, SourceKind.REVIEW, SourceKind.REDEMPTION]
    entries = [
        {
            "customer_id": rng.choice(customer_ids),
            "points": rng.choice([-1, 1]) * rng.randint(1, 300),
            "kind": rng.choice(kinds).value,
            "source_ref": f"order:{i:04d}",
            "idempotency_key": f"order:{i:04d}#1",
            "occurred_at": OCCURRED.isoformat(),
        }
        for i in range(KEYS)
    ]
    return {"store_id": store.id, "now": NOW.isoformat(), "entries": entries}


Spawn = Callable[[int], "subprocess.Popen[str]"]


@pytest.fixture
def spawn_writer(db_url: str, tmp_path: Path) -> Iterator[Spawn]:
    """Starts writer processes on `db_url` and `tmp_path/spec.json`; none outlives the test."""
    started: list[subprocess.Popen[str]] = []

    def spawn(seed: int) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, str(WRITER), db_url, str(tmp_path / "spec.json"), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        started.append(process)
        return process

    yield spawn
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


def _release_together(processes: list[subprocess.Popen[str]]) -> list[int]:
    """Waits until every writer is connected, signals all at once, returns what each inserted."""
    for process in processes:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip() == "ready", process.communicate(timeout=10)[1]
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    inserted = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        inserted.append(json.loads(out.strip().splitlines()[-1])["inserted"])
    return inserted


def test_two_processes_appending_the_same_keys_leave_each_entry_once_and_balances_exact(
    engine: Engine, tmp_path: Path, spawn_writer: Spawn
) -> None:
    spec = _spec(engine)
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")

    inserted = _release_together([spawn_writer(1), spawn_writer(2)])

    expected: dict[int, int] = defaultdict(int)
    for row in spec["entries"]:
        expected[row["customer_id"]] += row["points"]
    with session_scope(engine, readonly=True) as session:
        entries = session.execute(select(func.count()).select_from(PointEntry)).scalar_one()
        balances = dict(session.execute(select(Balance.customer_id, Balance.balance)).all())
        differences = verify_balances(session)
    assert sum(inserted) == KEYS
    assert entries == KEYS
    assert balances == dict(expected)
    assert differences == []
