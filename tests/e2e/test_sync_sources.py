"""The source seam, end to end: per-source counts in the summary, in the registry's order."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from sync.summary import SyncSummary
from tests.e2e.conftest import write_config_file

Sync = Callable[..., SyncSummary]


def test_the_summary_counts_each_source_under_its_name_and_they_add_up_to_the_totals(
    sync: Sync,
) -> None:
    first = sync()
    second = sync()

    counts = first.as_dict()["sources"]
    assert list(counts) == ["customers", "orders"]
    assert counts["customers"]["seen"] == first.customers_seen > 0
    assert counts["orders"]["seen"] == first.orders_seen > 0
    assert counts["orders"]["entries"] > 0
    assert sum(c["entries"] for c in counts.values()) == first.entries_appended
    assert sum(c["net_points"] for c in counts.values()) == first.net_points
    again = second.as_dict()["sources"]
    assert {name: (c["entries"], c["net_points"]) for name, c in again.items()} == {
        "customers": (0, 0),
        "orders": (0, 0),
    }


@pytest.mark.slow
def test_sync_prints_a_line_per_source_and_json_carries_the_same_counts(
    sandbox: SandboxServer, db_url: str, tmp_path: Path
) -> None:
    config_file = write_config_file(tmp_path / "loyalty.toml", sandbox, db_url)

    def loyalty(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "loyalty.cli", "--config", str(config_file), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)

    summary = json.loads(loyalty("sync", "--json").stdout)
    text = loyalty("sync").stdout

    assert summary["sources"]["orders"]["seen"] == summary["orders_seen"]
    assert "  source orders" in text
    assert "  source customers" in text
    assert "0 entries (net +0 points)" in text.split("source orders")[1].splitlines()[0]
