"""The Celery worker, as a real process on the real Redis broker, runs the same sync as the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.conftest import REDIS_URL
from tests.e2e.conftest import write_config_file
from tests.e2e.expected import meta_balances

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker_config(sandbox: SandboxServer, tmp_path: Path) -> Path:
    path = write_config_file(tmp_path / "loyalty.toml", sandbox, f"sqlite:///{tmp_path / 'w.db'}")
    with path.open("a") as config:
        config.write(f'[worker]\nbroker_url = "{REDIS_URL}"\n')
    subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "--config", str(path), "db", "upgrade"],
        check=True,
        capture_output=True,
    )
    return path


@pytest.fixture
def queue(worker_config: Path) -> Iterator[str]:
    """A real worker process consuming a queue of its own (the Redis server is shared)."""
    name = f"loyalty-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "LOYALTY_CONFIG": str(worker_config)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker",
            "worker",
            "--pool=solo",
            "-Q",
            name,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=WARNING",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield name
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_a_sync_task_runs_in_a_real_worker_and_writes_balances_back(
    queue: str, store: SandboxStore
) -> None:
    client = Celery(broker=REDIS_URL, backend=REDIS_URL)
    result = client.send_task("worker.sync_store_task", kwargs={"full": False}, queue=queue)
    summary = result.get(timeout=120)
    assert summary["entries_appended"] > 0
    assert summary["customers_written"] > 0
    assert meta_balances(store)

    again = client.send_task("worker.sync_store_task", queue=queue).get(timeout=120)
    assert again["entries_appended"] == 0


def test_a_sync_already_running_for_the_store_is_not_started_twice(
    queue: str, sandbox: SandboxServer
) -> None:
    from ledger.customers import normalise_store_key

    lock = redis.Redis.from_url(REDIS_URL).lock(
        f"loyalty:sync:{normalise_store_key(sandbox.base_url)}", timeout=60
    )
    assert lock.acquire(blocking=False)
    try:
        client = Celery(broker=REDIS_URL, backend=REDIS_URL)
        answer = client.send_task("worker.sync_store_task", queue=queue).get(timeout=120)
    finally:
        lock.release()
    assert answer == {"skipped": "already running"}
    assert sandbox.request_log.count() == 0
