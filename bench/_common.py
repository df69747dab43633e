"""Shared pieces of the benchmarks: a sandbox store in its own process, and measured child runs.

For `bench/bench_*.py`. A benchmark that measures the sync must not count the store's memory or
CPU against it, so the sandbox runs as a separate process (this file is also its entry point:
`python bench/_common.py serve --orders 100000 --customers 20000`). Credentials are generated per
run and handed over in the environment, never on a command line (visible in `ps`) or in output.

Only the standard library, `requests` and the project's `sandbox` package are used.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import requests

ENV_KEY = "BENCH_SANDBOX_CONSUMER_KEY"
ENV_SECRET = "BENCH_SANDBOX_CONSUMER_SECRET"  # noqa: S105 - a variable name, not a secret
#: The generated history ends here: fixed, so every run of a size serves the same shop, and in the
#: past, so a sync's window (which ends "now") covers all of it.
ANCHOR = datetime(2026, 6, 1, tzinfo=UTC)
READY_TIMEOUT_SECONDS = 600.0
STOP_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Credentials:
    """A REST key pair made up for one benchmark run. Kept out of repr."""

    consumer_key: str
    consumer_secret: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(f"ck_{secrets.token_hex(20)}", f"cs_{secrets.token_hex(20)}")

    def __repr__(self) -> str:
        return "Credentials(***)"


@dataclass(frozen=True)
class StoreStats:
    """What the generated shop holds, as counted by the sandbox process itself."""

    orders: int  # every order, trashed ones included
    trashed: int
    refunds: int
    customers: int
    generate_seconds: float
    index_seconds: float = 0.0  # building the sorted indexes of the listings, before serving
    generate_cpu_seconds: float = 0.0  # the same two, in CPU time (less noisy on a busy machine)
    index_cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0  # of the sandbox process once it serves


class SandboxProcess:
    """A generated sandbox store served by a child process, for as long as the `with` block runs.

    `base_url` and `stats` are set once the child reports it is serving. Leaving the block stops
    the child (SIGTERM, then SIGKILL if it does not exit in time).
    """

    def __init__(
        self,
        *,
        seed: int,
        orders: int,
        customers: int,
        credentials: Credentials,
        latency_ms: int = 0,
    ) -> None:
        self._args = ["--seed", str(seed), "--orders", str(orders), "--customers", str(customers)]
        self._args += ["--latency-ms", str(latency_ms)]
        self._credentials = credentials
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self.base_url = ""
        self.stats = StoreStats(0, 0, 0, 0, 0.0)

    def __enter__(self) -> SandboxProcess:
        env = {
            **os.environ,
            ENV_KEY: self._credentials.consumer_key,
            ENV_SECRET: self._credentials.consumer_secret,
        }
        self._stderr = tempfile.TemporaryFile("w+")  # a file, not a pipe: it can never fill up
        command = [sys.executable, str(Path(__file__).resolve()), "serve", *self._args]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._stderr, env=env, text=True
        )
        try:
            self._read_ready_line()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _read_ready_line(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        line = _readline_within(self._process.stdout, READY_TIMEOUT_SECONDS)
        if not line:
            raise RuntimeError(f"the sandbox process did not start: {self._stderr_tail()}")
        ready = json.loads(line)
        self.base_url = str(ready["base_url"])
        self.stats = StoreStats(**ready["stats"])

    def stop(self) -> None:
        """Stop the child and close its pipes. Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-2000:].strip() or "(no output)"

    # -- the control API (no credentials needed) --------------------------------------------

    def clear_request_log(self) -> None:
        requests.delete(f"{self.base_url}/sandbox/requests", timeout=30).raise_for_status()

    def request_counts(self) -> Counter[str]:
        """REST requests served since the log was last cleared, by kind ("GET orders", ...).

        Control API calls (the clearing itself included) are left out.
        """
        answer = requests.get(f"{self.base_url}/sandbox/requests", timeout=60)
        answer.raise_for_status()
        entries = answer.json()["entries"]
        return Counter(request_kind(e) for e in entries if "/wp-json/" in str(e["path"]))


def request_kind(entry: dict[str, Any]) -> str:
    """A short label for one request-log entry: method, endpoint and what kind of listing it was."""
    path = str(entry["path"]).split("/wp-json/", 1)[-1]
    for prefix in ("wc/v3/", "wp/v2/"):
        path = path.removeprefix(prefix)
    query = entry.get("query") or {}
    label = f"{entry['method']} {path}"
    if "include" in query:
        label += " (by id)"
    elif query.get("status") == "trash":
        label += " (trash)"
    return label


def _readline_within(stream: IO[str], timeout: float) -> str:
    """One line from `stream`, or "" if none arrives within `timeout` seconds (or it closes)."""
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return got[0] if got else ""


# -- measured child processes ------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """How a child process ran: exit code, output, wall time and its own peak resident memory."""

    returncode: int
    stdout: str
    stderr: str
    wall_seconds: float
    peak_rss_mb: float
    cpu_seconds: float = 0.0  # user + system, of the child alone
    #: Share of the machine's CPU time the hypervisor took while it ran (`stolen_share`).
    stolen: float | None = None


@dataclass(frozen=True)
class MachineTicks:
    """The machine's CPU time so far, in clock ticks: all of it, and what the hypervisor stole."""

    total: int
    steal: int


def machine_ticks() -> MachineTicks | None:
    """From the `cpu` line of /proc/stat (None where there is none). Its fields: user, nice,
    system, idle, iowait, irq, softirq, steal, then guest time already counted in user and nice."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    ticks = [int(value) for value in fields[1:9]]
    return MachineTicks(total=sum(ticks), steal=ticks[7])


def stolen_share(before: MachineTicks | None, after: MachineTicks | None) -> float | None:
    """What share of the machine's CPU time between two readings the hypervisor gave to other
    guests ("steal"). On a shared virtual machine a run with much of it is slowed down and its
    CPU seconds inflated (caches and cores shared with a busy neighbour): read its ratios as such.
    """
    if before is None or after is None or after.total <= before.total:
        return None
    return (after.steal - before.steal) / (after.total - before.total)


#: Runs the command in its argv[3:] as its own child, its address space capped at argv[1] bytes
#: (0: no cap), writes that child's rusage to the file argv[2] (`peak_kb user_s system_s`) and
#: exits with its status. A child forked from a big process counts that process's memory in its
#: peak (Linux keeps the high-water mark of the memory it had before `exec`): a `python -c pass`
#: run from a process holding 300 MB measured 328 MB. Forked from this small launcher instead, the
#: child is measured alone (the tests' hostile-store runs, and every benchmark's).
LAUNCHER = """
import os, resource, subprocess, sys
limit, report, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
process = subprocess.Popen(command, preexec_fn=cap if limit else None)
_, status, usage = os.wait4(process.pid, 0)
with open(report, "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime} {usage.ru_stime}")
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


def launched(command: list[str], report: Path, *, limit: int = 0) -> list[str]:
    """`command` run through `LAUNCHER`, its rusage written to `report` (see `child_usage`)."""
    return [sys.executable, "-c", LAUNCHER, str(limit), str(report), *command]


def child_usage(report: Path) -> tuple[float, float]:
    """(peak resident MB, CPU seconds) of the child `LAUNCHER` ran; (0, 0) if it wrote none."""
    if not report.exists():
        return 0.0, 0.0
    peak_kb, user, system = report.read_text().split()
    return int(peak_kb) / 1024, float(user) + float(system)  # kilobytes on Linux


def run_measured(command: list[str], *, env: dict[str, str] | None = None) -> Measured:
    """Run `command` to completion and measure it alone, through `LAUNCHER`.

    Output goes to files so the child never blocks on a full pipe while nobody reads it.
    """
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory() as scratch,
    ):
        report = Path(scratch) / "usage"
        ticks, started = machine_ticks(), time.perf_counter()
        process = subprocess.Popen(
            launched(command, report), stdout=out, stderr=err, env=env, text=True
        )
        returncode = process.wait()
        wall = time.perf_counter() - started
        stolen = stolen_share(ticks, machine_ticks())
        out.seek(0)
        err.seek(0)
        peak_mb, cpu_seconds = child_usage(report)
        return Measured(
            returncode=returncode,
            stdout=out.read(),
            stderr=err.read(),
            wall_seconds=wall,
            peak_rss_mb=peak_mb,
            cpu_seconds=cpu_seconds,
            stolen=stolen,
        )


def clean_env() -> dict[str, str]:
    """This environment without LOYALTY_* variables, which would override the bench's config."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}


# -- the sandbox process itself ----------------------------------------------------------------


def serve_main(argv: list[str]) -> int:
    """Entry point of the sandbox child: generate, serve on a free port, print one ready line."""
    parser = argparse.ArgumentParser(prog="python bench/_common.py serve")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--orders", type=int, required=True)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every API answer")
    args = parser.parse_args(argv)
    key, secret = os.environ.get(ENV_KEY), os.environ.get(ENV_SECRET)
    if not key or not secret:
        parser.error(f"{ENV_KEY} and {ENV_SECRET} must be set in the environment")
    from sandbox.generator import generate_store  # imported here: the parent never needs them
    from sandbox.server import SandboxServer

    started, cpu = time.perf_counter(), time.process_time()
    store = generate_store(
        seed=args.seed,
        customers=args.customers,
        orders=args.orders,
        reviews=0,
        comments=0,
        anchor=ANCHOR,
    )
    generated, generated_cpu = time.perf_counter() - started, time.process_time() - cpu
    started, cpu = time.perf_counter(), time.process_time()
    store.build_indexes()  # the server would do it at start; timed on its own here
    indexed, indexed_cpu = time.perf_counter() - started, time.process_time() - cpu
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stopped.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stopped.set())
    server = SandboxServer(
        store,
        consumer_key=key,
        consumer_secret=secret,
        wp_username="bench",
        wp_app_password=secrets.token_urlsafe(18),
        latency_ms=args.latency_ms,
    )
    with server:
        gc.freeze()  # the shop's objects live as long as the process: the collector skips them
        stats = {
            "orders": store.count("orders"),
            "trashed": len(store.trashed_order_ids()),
            "refunds": store.count("refunds"),
            "customers": store.count("customers"),
            "generate_seconds": round(generated, 2),
            "index_seconds": round(indexed, 2),
            "generate_cpu_seconds": round(generated_cpu, 2),
            "index_cpu_seconds": round(indexed_cpu, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        print(json.dumps({"base_url": server.base_url, "stats": stats}), flush=True)
        while not stopped.wait(0.5):  # a timed wait: signal handlers run between waits
            pass
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"]:
        sys.exit("usage: python bench/_common.py serve --seed N --orders N --customers N")
    sys.exit(serve_main(sys.argv[2:]))
