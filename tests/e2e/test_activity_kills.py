"""A sync of every source (orders, reviews, comments, signups) killed at seeded random points, then run again:
the ledger and the customers' meta are exactly what the store's data gives, computed independently
(`tests/e2e/expected.py`), and nothing was awarded twice. Between a first run and the killed ones,
guests who reviewed and commented register, statuses change and new items arrive."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from sandbox.server import SandboxServer
from sandbox.store import SandboxStore
from tests.e2e.conftest import balances_of, small_store, write_config_file
from tests.e2e.expected import (
    expected_activity,
    expected_balances,
    ledger_balances,
    merged,
    meta_balances,
)

REVIEW_POINTS, COMMENT_POINTS, COMMENT_CAP, SIGNUP_POINTS = 10, 5, 3, 50
WP_USER, WP_PASSWORD = "editor", "abcd efgh ijkl mnop qrst uvwx"  # the e2e sandbox's
ACTIVITY_PATHS = ("/wp-json/wc/v3/products/reviews", "/wp-json/wp/v2/comments")


@pytest.fixture
def store() -> SandboxStore:
    return small_store(seed=31, customers=40, orders=300, reviews=90, comments=70)


def every_source(path: Path, sandbox: SandboxServer, db_url: str) -> Path:
    write_config_file(path, sandbox, db_url, per_page=25)
    path.write_text(
        path.read_text()
        + f'[wordpress]\nusername = "{WP_USER}"\napp_password = "{WP_PASSWORD}"\n'
        + f"[rules.review]\nenabled = true\npoints = {REVIEW_POINTS}\n"
        + f"[rules.comment]\nenabled = true\npoints = {COMMENT_POINTS}\n"
        + f"max_per_day = {COMMENT_CAP}\n"
        + f"[rules.signup]\npoints = {SIGNUP_POINTS}\n"
    )
    return path


def life_in_the_shop(store: SandboxStore) -> list[int]:
    """Between the first run and the killed ones: guests who reviewed or commented register (their
    points and items move to the account, and they earn signup points), moderators change
    statuses, new items arrive. Returns the accounts registered."""
    guests = sorted(
        {r["reviewer_email"].lower() for r in store.all("reviews") if r["status"] == "approved"}
        | {
            c["author_email"].lower()
            for c in store.all("comments")
            if c["type"] == "comment" and c["status"] == "approved" and not c["author"]
        }
    )
    guests = [email for email in guests if store.customer_id_by_email(email) is None]
    assert len(guests) >= 3
    registered = [int(store.register_customer(email=email)["id"]) for email in guests[:3]]
    reviews = sorted(store.all("reviews"), key=lambda r: r["id"])
    comments = [
        c for c in sorted(store.all("comments"), key=lambda c: c["id"]) if c["type"] == "comment"
    ]
    for item in [r for r in reviews if r["status"] == "hold"][:3]:
        store.set_review_status(item["id"], "approved")
    for item in [c for c in comments if c["status"] == "approved"][:3]:
        store.set_comment_status(item["id"], "spam")
    store.delete_review(next(r["id"] for r in reviews if r["status"] == "approved"), force=True)
    product, post = store.all("products")[0]["id"], store.post_ids()[0]
    member = store.all("customers")[-1]
    store.add_review(product_id=product, email=member["email"], name="M", rating=4, text="New",
                     status="approved")  # fmt: skip
    store.add_comment(post_id=post, email=member["email"], name="M", text="New", author=member["id"],
                      status="approved")  # fmt: skip
    return registered


def sync_process(config_file: Path, *flags: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "loyalty.cli", "--config", str(config_file), "sync", *flags]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_every_source_killed_at_random_points_then_rerun_is_exact(
    store: SandboxStore,
    sandbox: SandboxServer,
    config: Config,
    db_url: str,
    engine_for: Callable[[], Engine],
    tmp_path: Path,
) -> None:
    config_file = every_source(tmp_path / "loyalty.toml", sandbox, db_url)
    assert sync_process(config_file).wait(timeout=180) == 0  # a first, whole run
    registered = life_in_the_shop(store)
    probe = every_source(tmp_path / "probe.toml", sandbox, f"sqlite:///{tmp_path / 'probe.db'}")
    subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "--config", str(probe), "db", "upgrade"],
        check=True,
        capture_output=True,
    )
    sandbox.request_log.clear()
    assert sync_process(probe, "--full").wait(timeout=180) == 0
    paths = [entry.path for entry in sandbox.request_log.entries()]
    assert all(any(p.startswith(prefix) for p in paths) for prefix in ACTIVITY_PATHS)

    rng = random.Random(2026)
    # Random points over a whole run, and some on the activity sources' own requests (there are
    # few of them among the order pages): their listing, their probes, the write-back after them.
    targets = [rng.randint(1, len(paths)) for _ in range(10)]
    targets += [i + 1 for i, p in enumerate(paths) if p.startswith(ACTIVITY_PATHS)][:4]
    killed = 0
    for target in targets:
        process = sync_process(config_file, "--full")
        seen = 0

        def kill_at(
            method: str, path: str, query: dict[str, object], *, _p=process, _t=target
        ) -> None:
            nonlocal seen
            seen += 1
            if seen == _t:
                os.kill(_p.pid, signal.SIGKILL)

        sandbox.before_request = kill_at
        code = process.wait(timeout=180)
        sandbox.before_request = None
        killed += code == -signal.SIGKILL
    assert killed >= len(targets) - 2, "most runs must really have been killed mid-way"

    # Run again, as it was run: a full sync (the generated items are older than rescan_days, so
    # their status changes are found by the whole-set listing a full run makes).
    final = sync_process(config_file, "--full")
    _out, err = final.communicate(timeout=180)
    assert final.returncode == 0, err.decode()
    expected = merged(
        expected_balances(store),
        expected_activity(
            store,
            review_points=REVIEW_POINTS,
            comment_points=COMMENT_POINTS,
            comment_cap=COMMENT_CAP,
        ),
        # signups earn for accounts registered after the first run (signups started with it)
        {("account", wc_id): SIGNUP_POINTS for wc_id in registered},
    )
    engine = engine_for()
    assert ledger_balances(balances_of(config, engine)) == expected
    accounts = {holder: points for holder, points in expected.items() if holder[0] == "account"}
    assert meta_balances(store) == accounts
    again = sync_process(config_file, "--json")
    out, _err = again.communicate(timeout=180)
    assert again.returncode == 0
    assert '"entries_appended": 0' in out.decode()
    assert ledger_balances(balances_of(config, engine)) == expected
