"""The worker's store lock and time limits, with real worker processes on the real Redis broker.

The lock is renewed while a sync runs, expires soon after a worker is killed, never hides a sync's
real result, and the sync's own lock in the ledger database stops a worker while cron syncs.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy import select

from ledger.customers import normalise_store_key
from ledger.models import SyncRun
from ledger.session import create_engine_for, session_scope
from ledger.sync_lock import hold_sync_lock
from sandbox.messages import Request, Response
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.conftest import REDIS_URL
from tests.e2e.conftest import CONSUMER_KEY, CONSUMER_SECRET, write_config_file
from tests.e2e.gate import Gate

REPO = Path(__file__).resolve().parents[2]
LOCK_SECONDS = 2


def worker_config(tmp_path: Path, sandbox: SandboxServer, **worker: object) -> Path:
    path = write_config_file(tmp_path / "loyalty.toml", sandbox, f"sqlite:///{tmp_path / 'w.db'}")
    settings = "".join(f"{key} = {value}\n" for key, value in worker.items())
    with path.open("a") as config:
        config.write(f'[worker]\nbroker_url = "{REDIS_URL}"\n{settings}')
    return path


def start_worker(config: Path, queue: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool=solo"),
            *("-Q", queue, "--without-gossip", "--without-mingle", "--loglevel=WARNING"),
        ],
        cwd=REPO,
        env={**os.environ, "LOYALTY_CONFIG": str(config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def workers() -> Iterator[Callable[[Path], str]]:
    """Start a real worker on a config; returns the name of the queue it alone consumes."""
    started: list[subprocess.Popen[bytes]] = []

    def start(config: Path) -> str:
        if not started:
            subprocess.run(
                [sys.executable, "-m", "loyalty.cli", "--config", str(config), "db", "upgrade"],
                check=True,
                capture_output=True,
            )
        queue = f"loyalty-test-{uuid.uuid4().hex[:8]}"
        started.append(start_worker(config, queue))
        return queue

    start.processes = started  # type: ignore[attr-defined]
    yield start
    for process in started:
        stop(process)


@pytest.fixture
def gate(sandbox: SandboxServer) -> Iterator[Gate]:
    gate = Gate(sandbox)
    yield gate
    gate.close()


@pytest.fixture
def lock_key(sandbox: SandboxServer) -> Iterator[str]:
    key = f"loyalty:sync:{normalise_store_key(sandbox.base_url)}"
    yield key
    redis.Redis.from_url(REDIS_URL).delete(key)


def client() -> Celery:
    return Celery(broker=REDIS_URL, backend=REDIS_URL)


@pytest.mark.slow
def test_the_lock_is_renewed_while_a_sync_outlives_its_timeout_and_the_result_comes_back(
    sandbox: SandboxServer,
    tmp_path: Path,
    workers: Callable[[Path], str],
    gate: Gate,
    lock_key: str,
) -> None:
    queue = workers(worker_config(tmp_path, sandbox, lock_timeout_seconds=LOCK_SECONDS))
    result = client().send_task("worker.sync_store_task", queue=queue)
    assert gate.entered.wait(timeout=120), "the worker's sync never reached the store"

    broker = redis.Redis.from_url(REDIS_URL)
    held_until = time.monotonic() + 3 * LOCK_SECONDS
    while time.monotonic() < held_until:  # three expiries long: only renewal keeps it
        assert broker.exists(lock_key), "the lock expired while its sync was running"
        time.sleep(0.1)
    gate.opened.set()

    summary = result.get(timeout=120)
    assert summary["entries_appended"] > 0
    assert not broker.exists(lock_key)  # released at the end


@pytest.mark.slow
def test_a_lock_lost_while_the_sync_ran_does_not_hide_the_sync_result(
    sandbox: SandboxServer,
    tmp_path: Path,
    workers: Callable[[Path], str],
    gate: Gate,
    lock_key: str,
) -> None:
    queue = workers(worker_config(tmp_path, sandbox))
    result = client().send_task("worker.sync_store_task", queue=queue)
    assert gate.entered.wait(timeout=120), "the worker's sync never reached the store"

    redis.Redis.from_url(REDIS_URL).delete(lock_key)  # as an expiry would
    gate.opened.set()

    summary = result.get(timeout=120)  # LockNotOwnedError from the release, before
    assert summary["entries_appended"] > 0


@pytest.mark.slow
def test_a_killed_workers_lock_expires_within_its_timeout_and_the_next_sync_runs(
    sandbox: SandboxServer,
    tmp_path: Path,
    workers: Callable[[Path], str],
    gate: Gate,
    lock_key: str,
) -> None:
    config = worker_config(tmp_path, sandbox, lock_timeout_seconds=LOCK_SECONDS)
    queue = workers(config)
    client().send_task("worker.sync_store_task", queue=queue)
    assert gate.entered.wait(timeout=120), "the worker's sync never reached the store"
    (killed,) = workers.processes  # type: ignore[attr-defined]
    os.kill(killed.pid, signal.SIGKILL)
    assert killed.wait(timeout=30) == -signal.SIGKILL
    gate.opened.set()

    broker = redis.Redis.from_url(REDIS_URL)
    assert 0 < broker.pttl(lock_key) <= LOCK_SECONDS * 1000  # left behind, but not for hours
    deadline = time.monotonic() + 30
    while broker.exists(lock_key):
        assert time.monotonic() < deadline, "the killed worker's lock never expired"
        time.sleep(0.1)

    summary = client().send_task("worker.sync_store_task", queue=workers(config)).get(timeout=120)

    assert summary.get("skipped") is None
    assert summary["entries_appended"] > 0
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with session_scope(engine, readonly=True) as session:
            statuses = list(session.execute(select(SyncRun.status).order_by(SyncRun.id)).scalars())
    finally:
        engine.dispose()
    assert statuses == ["abandoned", "succeeded"]


@pytest.mark.slow
def test_a_worker_skips_while_cron_or_the_cli_holds_the_ledger_lock(
    sandbox: SandboxServer, tmp_path: Path, workers: Callable[[Path], str]
) -> None:
    queue = workers(worker_config(tmp_path, sandbox))
    engine = create_engine_for(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        with hold_sync_lock(engine, normalise_store_key(sandbox.base_url)) as held:
            answer = client().send_task("worker.sync_store_task", queue=queue).get(timeout=120)
    finally:
        engine.dispose()

    assert held.since is not None
    assert answer == {"skipped": "already running", "since": held.since.isoformat()}
    assert sandbox.request_log.count() == 0


def test_a_worker_whose_time_limit_is_not_below_the_visibility_timeout_refuses_to_start(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = worker_config(tmp_path, sandbox, task_time_limit_minutes=400)
    process = start_worker(config, "loyalty-test-never")
    try:
        _out, err = process.communicate(timeout=120)
    finally:
        stop(process)

    assert process.returncode == 2
    assert err.decode().splitlines() == [
        f"loyalty worker: error: {config}: worker.task_time_limit_minutes (400) must be less than"
        " worker.visibility_timeout_minutes (360): otherwise Redis hands a sync that is still"
        " running to a second worker"
    ]


BASIC = base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()


class RefusingEcho(SandboxServer):
    """Refuses the customers listing with an error quoting the caller's credentials."""

    def handle(self, request: Request) -> Response:
        if request.path.endswith("/customers"):
            echo = f"key {CONSUMER_KEY} secret {CONSUMER_SECRET} (Authorization: Basic {BASIC})"
            return Response.json(400, {"code": "rest_invalid_param", "message": echo})
        return super().handle(request)


@pytest.fixture
def echoing(store: SandboxStore) -> Iterator[RefusingEcho]:
    server = RefusingEcho(
        store,
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        wp_username="editor",
        wp_app_password="abcd efgh ijkl mnop qrst uvwx",
    )
    server.start()
    yield server
    server.stop()


@pytest.mark.slow
def test_a_failed_sync_task_stores_its_error_without_the_secrets_the_store_echoed(
    echoing: RefusingEcho, tmp_path: Path, workers: Callable[[Path], str]
) -> None:
    queue = workers(worker_config(tmp_path, echoing))

    result = client().send_task("worker.sync_store_task", queue=queue)
    result.get(timeout=120, propagate=False)

    assert result.failed()
    stored = f"{result.result!r} {result.traceback}"
    assert "rest_invalid_param" in stored
    for secret in (CONSUMER_KEY, CONSUMER_SECRET, BASIC):
        assert secret not in stored
