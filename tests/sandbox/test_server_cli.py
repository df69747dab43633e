"""`loyalty sandbox` / `python -m sandbox`: help, argument errors, and a real run that serves,
stops cleanly on SIGTERM and keeps the shop in --state between runs."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from woocommerce import API

from sandbox.cli import _is_loopback, banner, build_parser, generated_app_password, generated_key
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.sandbox.conftest import CK, CS

SMALL = ["--customers", "5", "--orders", "12", "--reviews", "2", "--comments", "2"]


class Running:
    """A `python -m sandbox` process whose stdout lines are read in a thread (no blocking reads)."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-m", "sandbox", "--port", "0", *args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout
        self.reader = threading.Thread(
            target=lambda: [self.lines.put(x) for x in stdout], daemon=True
        )
        self.reader.start()

    def wait_for(self, prefix: str, timeout: float = 60) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.process.kill()
                pytest.fail(f"no line starting {prefix!r}; stderr: {self.process.communicate()[1]}")
            if line.strip().startswith(prefix):
                return line.strip()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.reader.join(timeout=5)
        return code


def test_help_teaches_the_options_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for option in ("--seed", "--faults", "--state", "--tls", "--latency-ms", "--wp-app-password"):
        assert option in out
    assert "loyalty sandbox --state shop.json" in out


def test_a_bad_fault_spec_is_a_usage_error_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["--faults", "5xx=oops"])
    assert stop.value.code == 2
    assert "fault '5xx' must be a number from 0 to 1, got 'oops'" in capsys.readouterr().err


def test_generated_credentials_look_like_woocommerces_and_wordpresss() -> None:
    ck, cs = generated_key()
    assert ck.startswith("ck_")
    assert len(ck) == 43
    assert int(ck[3:], 16) >= 0
    assert cs.startswith("cs_")
    assert len(cs) == 43
    password = generated_app_password()
    assert len(password) == 29
    assert password.count(" ") == 5


def test_only_loopback_addresses_count_as_local() -> None:
    assert _is_loopback("127.0.0.1")
    assert _is_loopback("::1")
    assert _is_loopback("localhost")
    assert not _is_loopback("0.0.0.0")  # noqa: S104 (a string under test, not a bind)
    assert not _is_loopback("192.168.1.10")


def test_banner_has_a_ready_to_paste_store_config(store: SandboxStore) -> None:
    server = SandboxServer(
        store,
        consumer_key=CK,
        consumer_secret=CS,
        wp_username="u",
        wp_app_password="p",
    )
    text = banner(server, build_parser().parse_args([]).faults)
    assert "[store]" in text
    assert f'consumer_secret = "{CS}"' in text
    assert "allow_insecure_http = true" in text
    assert "[wordpress]" in text


def test_the_command_serves_until_sigterm_and_keeps_the_shop_in_state(tmp_path: Path) -> None:
    state = tmp_path / "shop.json"
    keys = ["--consumer-key", CK, "--consumer-secret", CS]
    first = Running(*SMALL, "--state", str(state), *keys)
    url = first.wait_for("Sandbox store serving at").split()[4]
    api = API(url=url, consumer_key=CK, consumer_secret=CS, timeout=30)
    orders = api.get("orders", params={"status": "any", "per_page": 100}).json()
    assert len(orders) >= 10
    assert first.stop() == 0
    assert state.exists()

    second = Running("--state", str(state), *keys)
    url = second.wait_for("Sandbox store serving at").split()[4]
    again = API(url=url, consumer_key=CK, consumer_secret=CS, timeout=30)
    reloaded = again.get("orders", params={"status": "any", "per_page": 100}).json()
    assert without_links(reloaded) == without_links(orders)
    assert second.stop() == 0


def without_links(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != "_links"} for item in items]
