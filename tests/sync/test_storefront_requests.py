"""What a storefront request in customer meta may hold (`sync.storefront.parse_request`)."""

from __future__ import annotations

import json

import pytest

from sync.storefront import InvalidRequest, ParsedRequest, parse_request


def test_a_tier_named_with_surrounding_whitespace_is_that_tier() -> None:
    assert parse_request(json.dumps({"id": "r-1", "tier": " 10-off\n"})) == ParsedRequest(
        "r-1", "10-off", None
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[" * 100_000, "100,000 characters long"),
        ('{"id": "r-1", "tier": ' + "[" * 975, "not valid JSON"),
        (json.dumps({"id": "r\x00", "tier": "10-off"}), "control or unencodable character"),
        ('{"id": "r\\ud800", "tier": "10-off"}', "control or unencodable character"),
        (json.dumps({"id": "r-1", "tier": "10\x00off"}), "is not the name of a tier"),
        (json.dumps({"id": "r-1", "tier": "x" * 65}), "is not the name of a tier"),
    ],
)
def test_what_no_ledger_key_can_hold_is_refused_naming_why(value: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_request(value)
