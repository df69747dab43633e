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


def test_a_store_ignoring_include_does_not_vouch_for_an_unknown_account(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Asked `customers?include=4242`, the store (a plugin or proxy dropping `include`) answers
    its first customers, 1 and 2. `fetch_existing_customer_ids` turns the resulting
    `ListingStalled` into "every id of the batch is there" (right for retiring accounts: retire
    only on evidence), and `require_store_account` reuses it, so the adjustment of an id the store
    never confirmed is booked: the points go to an account nobody holds. README: "The store
    cannot be asked ...: refused too, saying why, as a store that does not answer proves
    nothing." Expected: refused (exit 1), nothing written."""
    config = ledger_config(tmp_path, db_url)
    body = json.dumps([{"id": 1}, {"id": 2}])
    headers = {"X-WP-Total": "2", "X-WP-TotalPages": "1"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{TEST_STORE_URL}/wp-json/wc/v3/customers", body=body,
                 headers=headers, status=200)  # fmt: skip
        assert adjust(config, 4242) == 1
    assert rows(db_url) == (0, 0)


def test_an_undecodable_answer_does_not_vouch_for_an_unknown_account(
    db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store answers `customers?include=4242` with JSON nested too deep to decode: the
    item it stands for was counted as there, and the points booked."""
    config = ledger_config(tmp_path, db_url)
    body = "[" * 500 + "]" * 500  # nests past bounded_json.MAX_DEPTH: StoreAnswerTooComplex
    headers = {"X-WP-Total": "1", "X-WP-TotalPages": "1"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{TEST_STORE_URL}/wp-json/wc/v3/customers", body=body,
                 headers=headers, status=200)  # fmt: skip
        assert adjust(config, 4242) == 1
    assert rows(db_url) == (0, 0)
