"""`make demo` runs the whole story and exits 0 (the issue's first acceptance point)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_the_demo_syncs_a_sandbox_store_and_ends_with_meta_matching_the_ledger(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loyalty.demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count("matches the ledger") == 2
    assert "balances equal their entries" in out
    assert "MISMATCH" not in out
    assert out.count("  balanced") == 2  # the status equation, after the first sync and at the end
    for report in ("status", "sources", "top", "history"):
        assert f" report {report} " in out
    assert (tmp_path / ".demo" / "report.html").is_file()
    assert f"The HTML report: {tmp_path / '.demo' / 'report.html'}" in out
    assert "http://127.0.0.1:8788/" in out
    assert (tmp_path / ".demo" / "loyalty.db").exists()
    secret = next(
        line.split('"')[1]
        for line in (tmp_path / ".demo" / "loyalty.toml").read_text().splitlines()
        if line.startswith("consumer_secret")
    )
    assert secret not in out
    assert secret not in done.stderr
    # The commands the demo suggests still work once its store is gone, in any language.
    config = str(tmp_path / ".demo" / "loyalty.toml")
    french = tmp_path / "report-fr.html"
    for argv in (["balances"], ["report", "html", "--out", str(french), "--lang", "fr"]):
        after = subprocess.run(
            [sys.executable, "-m", "loyalty.cli", "--config", config, *argv],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert after.returncode == 0, after.stderr
    assert "[statut=terminée modifiée=" in french.read_text()  # the orders' notes, in French
