"""A failed sync exits: the pages are closed on every exit path and no fetching thread holds the
process open."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.e2e.conftest import small_store, write_config_file

# A sync of this store takes a few seconds (more on a loaded machine); a hang takes forever.
EXIT_WITHIN_SECONDS = 60


@pytest.fixture
def store() -> SandboxStore:
    return small_store(seed=23, customers=40, orders=600)


def test_a_sync_failing_on_a_page_while_slices_are_fetched_exits_within_seconds(
    sandbox: SandboxServer, db_url: str, tmp_path: Path
) -> None:
    config_file = write_config_file(
        tmp_path / "loyalty.toml", sandbox, db_url, per_page=10, concurrency=3
    )
    command = [sys.executable, "-m", "tests.e2e.failing_sync", "--config", str(config_file)]
    process = subprocess.Popen(
        [*command, "sync"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _out, err = process.communicate(timeout=EXIT_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"the failed sync did not exit within {EXIT_WITHIN_SECONDS}s")
    assert process.returncode == 1, err
    assert "deciding page 3 failed" in err
    assert "Traceback" not in err
