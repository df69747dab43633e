"""`loyalty adjust` against a store whose answer proves nothing: an account it never confirmed is
refused (a review, 4 Dec)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from tests.cli.test_cli import ledger_config
from tests.cli.test_cli_adjust_accounts import adjust, rows
from tests.conftest import TEST_STORE_URL


@pytest.mark.parametrize(
    ("body", "total"),
    [
        # a plugin or proxy dropping `include`: its first customers, not the one asked for
        (json.dumps([{"id": 1}, {"id": 2}]), 2),
        # JSON nested past bounded_json.MAX_DEPTH: the item it stands for could not be read
        ("[" * 500 + "]" * 500, 1),
    ],
    ids=["include-ignored", "undecodable"],
)
def test_an_answer_that_proves_nothing_does_not_vouch_for_an_unknown_account(
    body: str, total: int, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`loyalty adjust` of an id the ledger does not know asks `customers?include=4242`. Both
    answers were taken as "the account is there" (right for retiring accounts: retire only on
    evidence), so the points went to an account nobody holds (reviews, 4 Dec). README: a store
    that does not answer proves nothing: refused (exit 1), nothing written."""
    config = ledger_config(tmp_path, db_url)
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": "1"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{TEST_STORE_URL}/wp-json/wc/v3/customers", body=body,
                 headers=headers, status=200)  # fmt: skip
        assert adjust(config, 4242) == 1
    assert rows(db_url) == (0, 0)
