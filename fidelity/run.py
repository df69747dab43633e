"""`make fidelity`: clients written by others, run against the sandbox store (issue 8).

For the team, before a release or after changing the sandbox. Not part of `make test`: it
installs software from PyPI and npm into a throwaway directory (removed at the end unless
`--keep DIR` names one to reuse) and takes a few minutes.

1. Airbyte's `airbyte-source-woocommerce` (PyPI) in a virtualenv of its own. The sandbox runs
   with `--tls`; the connector's HTTP stack ignores REQUESTS_CA_BUNDLE, so the sandbox's CA is
   appended to that virtualenv's certifi bundle. `check` must succeed (Basic auth over https),
   then `read` of every stream in the catalog: no error, and each stream's record count equal to
   what the sandbox holds for it.
2. The npm client `@woocommerce/woocommerce-rest-api`, installed with npm: fidelity/npm_client.mjs
   lists orders page by page, reads one order, lists customers, writes customer meta in a batch
   and creates a coupon, once over http with OAuth 1.0a and once over https with Basic auth.

Exit code 0 when every check passed; the last line is a JSON summary.

    .venv/bin/python fidelity/run.py                # everything, in a temporary directory
    .venv/bin/python fidelity/run.py --keep .fidelity   # reuse installs between runs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fidelity.expected import expected_counts  # noqa: E402
from sandbox.generator import generate_store  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402
from sandbox.store import SandboxStore  # noqa: E402

CK = "ck_" + "f1de11" * 6 + "ab"
CS = "cs_" + "5ec7e7" * 6 + "cd"
WP_USER, WP_PASSWORD = "fidelity-admin", "abcd EFGH ijkl MNOP qrst UVWX"
AIRBYTE_PACKAGE = "airbyte-source-woocommerce"
NPM_PACKAGE = "@woocommerce/woocommerce-rest-api"
START_DATE = "2020-01-01"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="install into DIR and keep it for next time")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--orders", type=int, default=150)
    parser.add_argument("--only", choices=("airbyte", "npm"), help="run one client only")
    args = parser.parse_args(argv)
    with _workdir(args.keep) as work:
        results: dict[str, Any] = {}
        if args.only in (None, "airbyte"):
            results["airbyte"] = run_airbyte(work, args.seed, args.orders)
        if args.only in (None, "npm"):
            results["npm"] = run_npm(work, args.seed, args.orders)
    ok = all(r["ok"] for r in results.values())
    print(json.dumps({"ok": ok, **{k: _summary(v) for k, v in results.items()}}))
    return 0 if ok else 1


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in result.items() if k in ("ok", "failures", "check", "streams", "checks")
    }


@contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep.resolve()
        return
    work = Path(tempfile.mkdtemp(prefix="fidelity-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _server(store: SandboxStore, *, tls: bool) -> SandboxServer:
    return SandboxServer(
        store,
        consumer_key=CK,
        consumer_secret=CS,
        wp_username=WP_USER,
        wp_app_password=WP_PASSWORD,
        tls=tls,
    ).start()


def _store(seed: int, orders: int) -> SandboxStore:
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return generate_store(
        seed=seed, customers=40, orders=orders, reviews=40, comments=10, anchor=anchor
    )


def _log(message: str) -> None:
    print(f"[fidelity] {message}", flush=True)


# ---- Airbyte ------------------------------------------------------------------------------------


def install_airbyte(work: Path) -> Path:
    """A virtualenv of its own with the connector; returns its `source-woocommerce` script."""
    venv = work / "airbyte-venv"
    script = venv / "bin" / "source-woocommerce"
    if not script.exists():
        _log(f"installing {AIRBYTE_PACKAGE} into {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, AIRBYTE_PACKAGE], check=True)
    return script


def trust_ca(venv_python: Path, ca_bundle: str) -> None:
    """Append the sandbox's CA to the virtualenv's certifi bundle (the connector's trust store)."""
    where = subprocess.run(
        [str(venv_python), "-c", "import certifi; print(certifi.where())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    pem = Path(ca_bundle).read_text()
    bundle = Path(where)
    original = bundle.with_suffix(".pem.orig")
    if not original.exists():
        shutil.copyfile(bundle, original)
    bundle.write_text(original.read_text() + "\n# woo-loyalty sandbox CA\n" + pem)


def _airbyte(script: Path, *args: str) -> list[dict[str, Any]]:
    process = subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=900, check=False
    )
    messages = []
    for line in process.stdout.splitlines():
        try:
            messages.append(json.loads(line))
        except ValueError:
            continue
    if process.returncode != 0:
        messages.append({"type": "EXIT", "code": process.returncode, "stderr": process.stderr})
    return messages


def run_airbyte(work: Path, seed: int, orders: int) -> dict[str, Any]:
    script = install_airbyte(work)
    store = _store(seed, orders)
    failures: list[str] = []
    server = _server(store, tls=True)
    try:
        assert server.ca_bundle is not None
        trust_ca(script.parent / "python", server.ca_bundle)
        config = work / "airbyte-config.json"
        shop = server.base_url.removeprefix("https://")
        config.write_text(
            json.dumps({"api_key": CK, "api_secret": CS, "shop": shop, "start_date": START_DATE})
        )
        _log(f"airbyte check against {server.base_url}")
        status = [
            m
            for m in _airbyte(script, "check", "--config", str(config))
            if m["type"] in ("CONNECTION_STATUS", "EXIT")
        ]
        check = status[0].get("connectionStatus", {}).get("status") if status else None
        if check != "SUCCEEDED":
            failures.append(f"check: {status}")
        catalog = _configured_catalog(script, config, work)
        _log(f"airbyte read of {len(catalog['streams'])} streams")
        started = time.monotonic()
        messages = _airbyte(
            script, "read", "--config", str(config), "--catalog", str(work / "catalog.json")
        )
        counts: dict[str, int] = {s["stream"]["name"]: 0 for s in catalog["streams"]}
        for message in messages:
            if message["type"] == "RECORD":
                counts[message["record"]["stream"]] += 1
            elif message["type"] == "TRACE" and message["trace"].get("type") == "ERROR":
                error = message["trace"]["error"]
                failures.append(
                    f"read error: {error.get('message')} {error.get('internal_message')}"
                )
            elif message["type"] == "LOG" and message["log"]["level"] in ("ERROR", "FATAL"):
                failures.append(f"read log: {str(message['log'].get('message'))[:300]}")
            elif message["type"] == "EXIT":
                failures.append(f"read exited {message['code']}: {message['stderr'][-500:]}")
        expected = expected_counts(server, CK, CS)
        streams = {}
        for name in sorted(counts):
            want = expected.get(name)
            streams[name] = {"records": counts[name], "sandbox": want}
            if not isinstance(want, int):
                failures.append(f"{name}: no sandbox count to compare with: {want}")
            elif counts[name] != want:
                failures.append(f"{name}: read {counts[name]} records, the sandbox holds {want}")
        _log(f"airbyte read took {time.monotonic() - started:.1f} s")
    finally:
        server.stop()
    for failure in failures:
        _log(f"FAIL airbyte: {failure[:400]}")
    return {"ok": not failures, "failures": failures, "check": check, "streams": streams}


def _configured_catalog(script: Path, config: Path, work: Path) -> dict[str, Any]:
    discovered = [
        m for m in _airbyte(script, "discover", "--config", str(config)) if m["type"] == "CATALOG"
    ]
    if not discovered:
        raise SystemExit("airbyte discover returned no catalog")
    streams = [
        {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
        for s in discovered[0]["catalog"]["streams"]
    ]
    catalog = {"streams": streams}
    (work / "catalog.json").write_text(json.dumps(catalog))
    return catalog


# ---- npm ----------------------------------------------------------------------------------------


def install_npm(work: Path) -> Path:
    """The npm client in a directory of its own; returns that directory."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise SystemExit("make fidelity needs node and npm (apt-get install nodejs npm)")
    directory = work / "npm-client"
    if not (directory / "node_modules" / NPM_PACKAGE).exists():
        _log(f"installing {NPM_PACKAGE} into {directory}")
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "package.json").write_text('{"private": true, "type": "module"}\n')
        subprocess.run(
            ["npm", "install", "--silent", "--no-audit", "--no-fund", NPM_PACKAGE],
            cwd=directory,
            check=True,
        )
    shutil.copyfile(HERE / "npm_client.mjs", directory / "npm_client.mjs")
    return directory


def run_npm(work: Path, seed: int, orders: int) -> dict[str, Any]:
    directory = install_npm(work)
    failures: list[str] = []
    checks: dict[str, Any] = {}
    for mode, tls in (("oauth", False), ("basic", True)):
        server = _server(_store(seed, orders), tls=tls)
        try:
            env = {**os.environ, "WOO_URL": server.base_url, "WOO_CK": CK, "WOO_CS": CS}
            if server.ca_bundle:
                env["NODE_EXTRA_CA_CERTS"] = server.ca_bundle
            _log(f"npm client over {mode} against {server.base_url}")
            process = subprocess.run(
                ["node", "npm_client.mjs"],
                cwd=directory,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        finally:
            server.stop()
        lines = process.stdout.strip().splitlines()
        try:
            report = json.loads(lines[-1]) if lines else {}
        except ValueError:
            report = {}
        checks[mode] = report.get("checks", {})
        if process.returncode != 0 or not report.get("ok"):
            failures.append(f"{mode}: {report.get('error') or process.stderr[-800:]}")
    for failure in failures:
        _log(f"FAIL npm: {failure}")
    return {"ok": not failures, "failures": failures, "checks": checks}


if __name__ == "__main__":
    sys.exit(main())
