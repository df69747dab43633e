"""Coupon codes: drawn from `secrets`, unique, lowercase, readable, at least 64 bits."""

from __future__ import annotations

import math

import pytest

from rules.redemption import CODE_ALPHABET, CODE_LENGTH, code_symbols
from sync.coupons import new_coupon_code


@pytest.mark.slow
def test_100000_codes_are_unique_lowercase_in_the_alphabet_and_carry_64_bits() -> None:
    codes = [new_coupon_code("pts-") for _ in range(100_000)]

    assert len(set(codes)) == len(codes)
    assert all(code == code.lower() and code.startswith("pts-") for code in codes)
    symbols = [code_symbols("pts-", code) for code in codes]
    assert all(len(s) == CODE_LENGTH and set(s) <= set(CODE_ALPHABET) for s in symbols)
    assert CODE_LENGTH * math.log2(len(CODE_ALPHABET)) >= 64
    # Every symbol of the alphabet turns up in every position: the draw covers the whole alphabet.
    for position in range(CODE_LENGTH):
        assert {s[position] for s in symbols} == set(CODE_ALPHABET)


def test_a_code_without_prefix_is_only_the_dashed_symbols() -> None:
    code = new_coupon_code("")
    assert len(code_symbols("", code)) == CODE_LENGTH
    assert code.count("-") == (CODE_LENGTH - 1) // 4
