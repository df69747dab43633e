"""The one redaction, for logs and for what is stored: credentials with a shape, registered or not."""

from __future__ import annotations

import pytest

from loyalty import log
from sync.redaction import redact, redact_value

KEY = "ck_" + "0123456789abcdef" * 2 + "01234567"
SECRET = "cs_" + "fedcba9876543210" * 2 + "76543210"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"invalid key {KEY}", "invalid key ck_***"),
        (f"signature for {SECRET}.", "signature for cs_***."),
        ("sent Basic Y2tfYWJjZGVmOmNzX2doaWprbG1ub3A= twice", "sent Basic *** twice"),
        ("token Bearer ZXlKaGJHY2lPaUpJVXpJMU5pSjk", "token Bearer ***"),
        ("Basic settings and basic information", "Basic settings and basic information"),
        ("ck_short and cs_x stay", "ck_short and cs_x stay"),
    ],
)
def test_credentials_with_a_shape_are_masked_unregistered(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_structures_are_redacted_string_by_string_and_stay_valid() -> None:
    value = {"errors": [f'customer 5: "{KEY}"'], "error": None, "n": 3, KEY: "k"}
    assert redact_value(value) == {
        "errors": ['customer 5: "ck_***"'],
        "error": None,
        "n": 3,
        "ck_***": "k",
    }


def test_the_logs_use_the_same_redaction() -> None:
    assert log.redact is redact
