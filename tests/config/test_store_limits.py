"""`[store] max_response_mb`: the cap on one answer from the store, bounded at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.test_config import config_error, in_store, load_text


def test_the_answer_cap_defaults_to_32_mb_and_can_be_set(tmp_path: Path) -> None:
    assert load_text(tmp_path, in_store("")).require_store().max_response_mb == 32
    assert (
        load_text(tmp_path, in_store("max_response_mb = 64")).require_store().max_response_mb == 64
    )


@pytest.mark.parametrize("value", ["0", "257", "1e9", '"32"', "true", "2.5"])
def test_an_answer_cap_out_of_bounds_is_refused_naming_the_key(tmp_path: Path, value: str) -> None:
    error = config_error(tmp_path, in_store(f"max_response_mb = {value}"))

    assert "store.max_response_mb: expected an integer from 1 to 256" in error
