"""`loyalty sync` against a hostile store: every answer bounded, every failure one line and exit 1.

Each test starts the real CLI in a process of its own, pointed at a `HostileStore` (tests/
hostile_store.py) over real HTTP, and measures that process alone (`os.wait4`): its exit code, its
stderr, its wall time and its peak memory. A address-space limit of 2 GB keeps a runaway process
from hurting the machine; the assertion is on peak resident memory, < 400 MB.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bench._common import child_usage, launched
from ledger.migrate import upgrade
from loyalty.config import Config
from loyalty.errors import StoreAnswerUnusable, StoreRejected, StoreUnavailable
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from sync.summary import SyncSummary
from tests.e2e.conftest import CONSUMER_KEY, CONSUMER_SECRET
from tests.hostile_store import HostileStore  # the server behind the `hostile_store` fixture

MEMORY_CEILING_MB = 400
RUN_LIMIT_SECONDS = 60  # a process still running then is killed, and the test fails
ADDRESS_SPACE_LIMIT = 2 * 2**30


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("loyalty: error:")]

    @property
    def other_lines(self) -> list[str]:
        """What else went to stderr: progress lines of the sync's log."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return [line for line in lines if not line.startswith("loyalty: error:")]


def run_cli(config: Path, *args: str) -> Run:
    """`loyalty --config CONFIG ARGS` in a child process, measured alone (through the benchmarks'
    launcher: a child forked from the test worker counted the worker's memory in its peak, and
    after a few hundred tests twelve runs seemed over 400 MB); killed after a minute."""
    command = [sys.executable, "-m", "loyalty.cli", "--config", str(config), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        report = Path(scratch) / "usage"
        limit = ADDRESS_SPACE_LIMIT
        started = time.monotonic()
        process = subprocess.Popen(
            launched(command, report, limit=limit),
            stdout=out,
            stderr=err,
            env=env,
            text=True,
            start_new_session=True,
        )
        killer = threading.Timer(RUN_LIMIT_SECONDS, os.killpg, (process.pid, signal.SIGKILL))
        killer.start()
        try:
            returncode = process.wait()
        finally:
            killer.cancel()
        out.seek(0)
        err.seek(0)
        peak_mb, _ = child_usage(report)
        return Run(
            returncode=returncode,
            stdout=out.read(),
            stderr=err.read(),
            seconds=time.monotonic() - started,
            peak_mb=peak_mb,
        )


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One migrated SQLite ledger for the module: no hostile answer ever gets to write to it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'ledger.db'}"
    upgrade(url)
    return url


def write_config(path: Path, url: str, ledger_url: str, **store: object) -> Path:
    """A config for `url`. Its timeout is long, so that a loaded machine never turns an answer
    into a timeout; a test of the timeout sets its own."""
    settings = {
        "timeout": 10,
        "max_retry_seconds": 1,
        "max_requests_per_second": 500,
        "allow_insecure_http": "true",
        **store,
    }
    path.write_text(
        "[store]\n"
        f'url = "{url}"\n'
        f'consumer_key = "{CONSUMER_KEY}"\n'
        f'consumer_secret = "{CONSUMER_SECRET}"\n'
        + "".join(f"{key} = {value}\n" for key, value in settings.items())
        + f'[database]\nurl = "{ledger_url}"\n'
    )
    return path


def assert_fails_with_one_line(run: Run, *expected: str) -> None:
    assert run.returncode == 1, run.stderr[-2000:]
    assert len(run.error_lines) == 1, run.stderr[-2000:]
    assert len(run.other_lines) <= 5, run.stderr[-2000:]  # never a flood
    assert all(_LOG_LINE.match(line) for line in run.other_lines), run.stderr[-2000:]
    line = run.error_lines[0]
    for part in expected:
        assert part in line
    assert "internal error" not in line
    assert "Traceback" not in run.stderr
    assert run.peak_mb < MEMORY_CEILING_MB


CUSTOMERS = "GET /wp-json/wc/v3/customers"
_LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0000 (INFO|WARNING) ")


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        pytest.param(
            "endless",
            (CUSTOMERS, "larger than the 32 MB limit on one answer", "max_response_mb"),
            id="endless-body",
        ),
        pytest.param(
            "big_array",
            (CUSTOMERS, "larger than the 32 MB limit on one answer (50 MB sent)"),
            id="50MB-array",
        ),
        pytest.param(
            "big_array_chunked",
            (CUSTOMERS, "larger than the 32 MB limit on one answer"),
            id="50MB-array-chunked",
        ),
        pytest.param(
            "dense",
            (CUSTOMERS, "would take about", "MB to decode, more than the 256 MB allowed"),
            id="24MB-of-empty-arrays",
        ),
    ],
)
def test_a_huge_answer_is_refused_within_bounded_memory(
    hostile_store: Callable[..., HostileStore],
    behaviour: str,
    expected: tuple[str, ...],
    ledger_url: str,
    tmp_path: Path,
) -> None:
    hostile = hostile_store(behaviour)
    config = write_config(tmp_path / "loyalty.toml", hostile.base_url, ledger_url, timeout=30)

    run = run_cli(config, "sync")

    assert_fails_with_one_line(run, *expected)


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param("drip", id="body-one-byte-at-a-time"),
        pytest.param("drip_headers", id="headers-one-byte-at-a-time"),
    ],
)
def test_a_dripping_answer_meets_a_total_deadline_and_the_retry_budget_holds(
    hostile_store: Callable[..., HostileStore], behaviour: str, ledger_url: str, tmp_path: Path
) -> None:
    hostile = hostile_store(behaviour, drip_seconds=0.2)
    # Each byte comes well within the 1 s timeout, so a timeout per read would never fire.
    config = write_config(tmp_path / "loyalty.toml", hostile.base_url, ledger_url, timeout=1)

    run = run_cli(config, "sync")

    assert_fails_with_one_line(
        run, CUSTOMERS, "store unavailable after", "last: no complete answer within 1s"
    )
    # 1 s per attempt, 1 s of retries and the process's own start: a few seconds on a quiet machine.
    # The drip never ends, so any bound well under RUN_LIMIT_SECONDS proves the deadline; 45 s
    # leaves room for a machine under heavy load.
    assert run.seconds < 45


@pytest.mark.parametrize(
    ("behaviour", "endpoint", "expected"),
    [
        pytest.param(
            "maintenance",
            "orders",
            "GET /wp-json/wc/v3/orders: the store answered an error with status 200:"
            " rest_maintenance: Briefly unavailable for scheduled maintenance.",
            id="error-body-with-200",
        ),
        pytest.param(
            "nested",
            "orders",
            "GET /wp-json/wc/v3/orders: the answer nests arrays or objects more than 100 deep",
            id="deeply-nested",
        ),
        pytest.param(
            "object",
            "customers",
            f"{CUSTOMERS}: expected a JSON array of items, the store answered a JSON object",
            id="object-for-a-list",
        ),
        pytest.param(
            "string",
            "refunds",
            "GET /wp-json/wc/v3/refunds: expected a JSON array of items, the store answered a"
            " JSON string",
            id="string-for-a-list",
        ),
        pytest.param(
            "null",
            "orders",
            "GET orders: expected a JSON array of items, the store answered null",
            id="null-for-a-list",
        ),
    ],
)
def test_an_answer_of_the_wrong_shape_is_one_line_naming_the_endpoint(
    hostile_store: Callable[..., HostileStore],
    behaviour: str,
    endpoint: str,
    expected: str,
    ledger_url: str,
    tmp_path: Path,
) -> None:
    hostile = hostile_store(behaviour, endpoint=endpoint)
    config = write_config(tmp_path / "loyalty.toml", hostile.base_url, ledger_url)

    run = run_cli(config, "sync")

    assert_fails_with_one_line(run, expected)


def test_a_redirect_to_another_host_is_refused_and_sends_it_nothing(
    hostile_store: Callable[..., HostileStore], ledger_url: str, tmp_path: Path
) -> None:
    other_host = hostile_store("empty", host="127.0.0.2")  # answers every listing, empty
    store = hostile_store("redirect", redirect_to=other_host.base_url)
    config = write_config(tmp_path / "loyalty.toml", store.base_url, ledger_url)

    run = run_cli(config, "sync")

    assert_fails_with_one_line(
        run,
        f"{CUSTOMERS}: the store redirected (HTTP 301) to {other_host.base_url},"
        f" outside {store.base_url}",
    )
    assert other_host.seen == []
    assert len(store.seen) == 1


def test_a_redirect_from_http_to_https_on_the_same_host_is_followed_with_basic_auth(
    hostile_store: Callable[..., HostileStore], store: SandboxStore, tmp_path: Path
) -> None:
    secure = SandboxServer(
        store,
        consumer_key=CONSUMER_KEY,
        consumer_secret=CONSUMER_SECRET,
        wp_username="editor",
        wp_app_password="abcd efgh ijkl mnop qrst uvwx",
        tls=True,
    )
    with secure:
        plain = hostile_store("redirect", redirect_to=secure.base_url)
        ledger = f"sqlite:///{tmp_path / 'upgraded.db'}"
        upgrade(ledger)
        config = write_config(
            tmp_path / "loyalty.toml",
            plain.base_url,
            ledger,
            verify_tls=f'"{secure.ca_bundle}"',
            timeout=10,
            max_retry_seconds=10,
        )
        run = run_cli(config, "sync", "--full")
        served = secure.request_log.entries()

    assert run.returncode == 0, run.stderr[-2000:]
    seen = re.search(r"orders seen\s+([\d,]+)", run.stdout)
    assert seen is not None
    assert int(seen.group(1).replace(",", "")) > 200
    # The first hop was signed for http; the https store (Basic auth only) accepted every request.
    assert plain.seen
    assert all("oauth_signature" in seen.query for seen in plain.seen)
    assert len(served) == len(plain.seen)
    assert all(record.status in (200, 201) for record in served)


# -- the sandbox's hostile fault, through the sync in process -------------------------------------


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (
            "maintenance",
            StoreRejected,
            f"{CUSTOMERS}: the store answered an error with status 200: rest_maintenance: Briefly",
        ),
        ("nested", StoreAnswerUnusable, f"{CUSTOMERS}: the answer nests arrays or objects more"),
        ("object", StoreAnswerUnusable, f"{CUSTOMERS}: expected a JSON array of items, the store"),
        ("html", StoreUnavailable, "last: HTTP 200 with an undecodable JSON body"),
        ("huge", StoreAnswerUnusable, f"{CUSTOMERS}: the answer is larger than the 32 MB limit"),
        (
            "redirect",
            StoreAnswerUnusable,
            f"{CUSTOMERS}: the store redirected (HTTP 301) to http://elsewhere.invalid:80, outside",
        ),
    ],
)
def test_each_hostile_sandbox_answer_stops_the_sync_with_one_clear_error(
    sandbox: SandboxServer,
    config: Config,
    sync: Callable[..., SyncSummary],
    body: str,
    error: type[Exception],
    message: str,
) -> None:
    assert config.store is not None
    impatient = replace(config, store=replace(config.store, max_retry_seconds=0.2))
    sandbox.set_faults(f"hostile=1,hostile_body={body}")

    with pytest.raises(error) as caught:
        sync(impatient, full=True)

    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_run_is_measured_alone_however_big_the_test_process_is(
    hostile_store: Callable[..., HostileStore], ledger_url: str, tmp_path: Path
) -> None:
    """A child forked from the test's process counted that process's memory in its peak: after
    a few hundred tests the worker held over 400 MB, and twelve of these tests failed together.
    With 600 MB held here, a run's peak is still its own."""
    ballast = bytearray(600 * 2**20)  # zero pages: touched below, so they are resident
    ballast[::4096] = b"\x01" * len(range(0, len(ballast), 4096))
    hostile = hostile_store("null", endpoint="orders")
    config = write_config(tmp_path / "loyalty.toml", hostile.base_url, ledger_url)

    run = run_cli(config, "sync")

    assert run.returncode == 1, run.stderr[-2000:]
    assert 0 < run.peak_mb < MEMORY_CEILING_MB
    del ballast
