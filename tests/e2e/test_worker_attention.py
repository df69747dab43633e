"""A worker sync that needs attention is not reported as a plain success (found by a review, 4 Dec)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import redis

from ledger.customers import normalise_store_key
from sandbox.server import SandboxServer
from tests.conftest import REDIS_URL
from tests.e2e.conftest import write_config_file

REPO = Path(__file__).resolve().parents[2]

# Runs the task eagerly (Task.apply) in a fresh process, the store answering every write-back
# batch with a per-item error, as WooCommerce does for a customer it cannot update.
SCRIPT = textwrap.dedent(
    """
    import json, sys, responses
    import worker

    base = sys.argv[1]

    def refuse(request):
        ids = [item["id"] for item in json.loads(request.body)["update"]]
        errors = [{"id": i, "error": {"code": "woocommerce_rest_cannot_edit",
                                      "message": "refused"}} for i in ids]
        return 200, {}, json.dumps({"update": errors})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(base)
        mock.add_callback(responses.POST, f"{base}/wp-json/wc/v3/customers/batch",
                          callback=refuse, content_type="application/json")
        result = worker.sync_store_task.apply()
    print(json.dumps({"state": result.state, "result": result.result}, default=str))
    """
)


def test_a_worker_sync_whose_write_back_failed_is_not_reported_as_a_success(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    config = write_config_file(tmp_path / "loyalty.toml", sandbox, f"sqlite:///{tmp_path / 'w.db'}")
    with config.open("a") as file:
        file.write(f'[worker]\nbroker_url = "{REDIS_URL}"\n')
    env = {**os.environ, "LOYALTY_CONFIG": str(config), "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "db", "upgrade"],
        env=env,
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, sandbox.base_url],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        redis.Redis.from_url(REDIS_URL).delete(
            f"loyalty:sync:{normalise_store_key(sandbox.base_url)}"
        )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    # `loyalty sync` exits 1 here ("N customer balance(s) could not be written"): the task
    # succeeded, with the summary, and logged nothing above INFO.
    assert outcome["state"] == "FAILURE", outcome
    assert "customer balance(s) could not be written" in str(outcome["result"])
