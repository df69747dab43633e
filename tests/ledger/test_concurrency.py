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
from ledger.kinds import SourceKind
from ledger.models import Balance, Customer, PointEntry, Store
from ledger.session import session_scope
from tests.ledger.factories import NOW, OCCURRED

WRITER = Path(__file__).with_name("concurrent_writer.py")
KEYS = 1000
WC_IDS = list(range(1, 26))

Spawn = Callable[[int], "subprocess.Popen[str]"]


def _spec() -> dict[str, Any]:
    """1,000 seeded entries over 25 WooCommerce customers, as the writers' JSON spec."""
    rng = random.Random(20240501)
    kinds = [SourceKind.PURCHASE, SourceKind.REVIEW, SourceKind.REDEMPTION]
    entries = [
        {
            "wc_id": rng.choice(WC_IDS),
            "points": rng.choice([-1, 1]) * rng.randint(1, 300),
            "kind": rng.choice(kinds).value,
            "source_ref": f"order:{i:04d}",
            "idempotency_key": f"order:{i:04d}#1",
            "occurred_at": OCCURRED.isoformat(),
        }
        for i in range(KEYS)
    ]
    return {
        "store_key": "shop.example.com",
        "wc_ids": WC_IDS,
        "now": NOW.isoformat(),
        "entries": entries,
    }


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


def _expected_balances(spec: dict[str, Any]) -> dict[int, int]:
    expected: dict[int, int] = defaultdict(int)
    for row in spec["entries"]:
        expected[row["wc_id"]] += row["points"]
    return dict(expected)


def test_two_processes_appending_the_same_keys_leave_each_entry_once_and_balances_exact(
    engine: Engine, tmp_path: Path, spawn_writer: Spawn
) -> None:
    spec = _spec()
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")

    inserted = _release_together([spawn_writer(1), spawn_writer(2)])

    with session_scope(engine, readonly=True) as session:
        stores = session.execute(select(func.count()).select_from(Store)).scalar_one()
        customers = session.execute(select(func.count()).select_from(Customer)).scalar_one()
        entries = session.execute(select(func.count()).select_from(PointEntry)).scalar_one()
        balances = session.execute(
            select(Customer.wc_id, Balance.balance).join(
                Customer, Customer.id == Balance.customer_id
            )
        ).all()
        differences = verify_balances(session)
    assert (stores, customers) == (1, len(WC_IDS))
    assert sum(inserted) == entries == KEYS
    assert dict(balances) == _expected_balances(spec)
    assert differences == []
