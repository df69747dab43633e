"""Bounded JSON decoding: the memory estimate is an upper bound, the depth is counted right."""

from __future__ import annotations

import json
import random
import tracemalloc
from typing import Any

import pytest

from sync import bounded_json
from sync.bounded_json import (
    MAX_DEPTH,
    JsonTooComplex,
    NotJson,
    decode,
    estimated_memory,
    nesting_depth,
    structure,
)
from tests.samples import WOOCOMMERCE_SAMPLES

N = 20_000  # items per shape: enough for per-object costs to dominate, fast to decode

# The shapes costing the most memory per byte of JSON, as measured on CPython 3.11 and 3.12.
WORST_SHAPES = {
    "empty objects": b"[" + b",".join([b"{}"] * N) + b"]",
    "empty arrays": b"[" + b",".join([b"[]"] * N) + b"]",
    "arrays of one array": b"[" + b",".join([b"[[]]"] * N) + b"]",
    "one-entry objects": b"[" + b",".join([b'{"a":1000}'] * N) + b"]",
    "distinct keys": b"[" + b",".join(b'{"k%d":1}' % i for i in range(N)) + b"]",
    "one wide object": b"{" + b",".join(b'"k%d":1.5' % i for i in range(N)) + b"}",
    "short strings": b"[" + b",".join([b'"ab"'] * N) + b"]",
    "astral characters": b"[" + b",".join(['"\U0001f600"'.encode()] * N) + b"]",
    "one astral character in ascii": b'["\xf0\x9f\x98\x80", "' + b"x" * (8 * N) + b'"]',
    "floats": b"[" + b",".join([b"1.5"] * N) + b"]",
    "large ints": b"[" + b",".join([b"100000"] * N) + b"]",
}


@pytest.mark.parametrize("content", list(WORST_SHAPES.values()), ids=list(WORST_SHAPES))
def test_the_estimate_is_at_least_what_decoding_allocates(content: bytes) -> None:
    tracemalloc.start()
    try:
        value = json.loads(content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del value

    assert estimated_memory(content) >= peak


def test_a_real_page_of_orders_estimates_at_about_eighteen_times_its_size() -> None:
    order = json.loads((WOOCOMMERCE_SAMPLES / "order.json").read_text())
    page = json.dumps([order] * 100).encode()

    assert 10 < estimated_memory(page) / len(page) < 20


def test_an_answer_that_would_need_too_much_memory_is_refused_before_decoding() -> None:
    content = b"[" + b"[]," * 100_000 + b"[]]"

    with pytest.raises(
        JsonTooComplex, match="would take about 19 MB to decode, more than the 8 MB"
    ):
        decode(content, max_memory=8 * 2**20)


@pytest.mark.parametrize(
    ("content", "depth"),
    [
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[[", "]", "{"]', 1),  # brackets in strings are text
        (b'["a\\"[[[", "\\\\", [[]]]', 3),  # an escaped quote does not end the string
        (b'["\\\\\\"[[[", 1]', 1),  # \\ then \" : still inside the string
        (b'[{"k": "v"}, "x", [{}]]', 3),
        (b"[" * 150 + b"]" * 150, 150),
        (b"[{" * 60 + b"}]" * 60, 120),
        (b"", 0),
        (b'["\\/", "]]", "\\n", [{"\\"": "\\\\"}]]', 3),  # escapes of other characters
        (b'[{"a": "x"}, [[]], {"b": [{}]}]', 4),
    ],
)
def test_nesting_depth_counts_only_structure(content: bytes, depth: int) -> None:
    assert nesting_depth(structure(content)) == depth
    assert nesting_depth(structure(content), limit=depth) == depth


def test_escaped_quotes_never_count_as_the_ends_of_strings() -> None:
    """Strings of 2,000 random short mixes of backslashes, quotes and brackets: the quotes kept are the
    strings' own, whatever the escapes (runs of backslashes pair up from their left)."""
    rng = random.Random(7)
    for _ in range(2_000):
        texts = ["".join(rng.choices('\\"[]{}a,:/', k=rng.randrange(12))) for _ in range(5)]
        outside_strings = structure(json.dumps(texts).encode()).split(b'"')[::2]
        assert outside_strings == [b"[", b",", b",", b",", b",", b"]"], texts


@pytest.mark.parametrize(
    ("content", "at_least"),
    [(b"[[[", 3), (b"[[]", 2), (b"[][[", 2), (b"[" * 500, 500), (b'[{"a": [1, 2', 3)],
)
def test_unbalanced_brackets_count_at_least_their_deepest_point(
    content: bytes, at_least: int
) -> None:
    assert nesting_depth(structure(content)) >= at_least


def test_the_depth_count_stops_past_the_limit() -> None:
    assert nesting_depth(b"[" * 5000 + b"]" * 5000, limit=MAX_DEPTH) == MAX_DEPTH + 1


class _NoDecoder:
    """Stands in for json in a test where nothing may be decoded."""

    JSONDecodeError = json.JSONDecodeError

    @staticmethod
    def loads(content: bytes) -> Any:
        raise AssertionError("decoded")


@pytest.fixture
def no_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounded_json, "json", _NoDecoder)


@pytest.mark.usefixtures("no_decoder")
def test_json_nested_deeper_than_the_limit_is_refused_before_decoding() -> None:
    with pytest.raises(JsonTooComplex, match=f"more than {MAX_DEPTH} deep"):
        decode(b"[" * 100_000 + b"]" * 100_000, max_memory=2**30)
    with pytest.raises(JsonTooComplex, match=f"more than {MAX_DEPTH} deep"):
        decode(b'[{"a": "[[[", "b": ' + b"[" * 101 + b"]" * 101 + b"}]", max_memory=2**30)


@pytest.mark.usefixtures("no_decoder")
def test_an_answer_too_big_to_decode_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(JsonTooComplex, match="more than the 1 MB allowed"):
        decode(b"[" + b"{}," * 20_000 + b"{}]", max_memory=2**20)


def test_json_at_the_depth_limit_decodes() -> None:
    value = decode(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, max_memory=2**20)

    assert isinstance(value, list)


@pytest.mark.parametrize("content", [b'[{"id": 1}, {"id": 2', b"<html>Gateway</html>", b""])
def test_what_is_not_json_raises_value_error_for_the_client_to_retry(content: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json's own error, whatever its message
        decode(content, max_memory=2**20)


def test_an_integer_longer_than_python_converts_is_kept_as_its_text() -> None:
    """Python refuses to convert more than 4,300 digits: json's plain ValueError escaped the
    client's errors and stopped the listing for one field of one item (found by a review, 3 Dec).
    """
    digits = "9" * 5000
    value = decode(f'[{{"id": 1, "total_tax": {digits}, "n": -12}}]'.encode(), max_memory=2**20)

    assert value == [{"id": 1, "total_tax": digits, "n": -12}]


def test_a_page_cut_short_after_an_integer_too_long_to_convert_is_not_json() -> None:
    """Decoded again for the long integer, it escaped as json's own error (a review, 3 Dec)."""
    with pytest.raises(NotJson, match="the answer is not JSON"):
        decode(f'[{{"id": 1, "n": {"9" * 5000}}}, {{"id": 2'.encode(), max_memory=2**20)


# -- what is not JSON ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'[{"id": 1}, {"id": 2', "the answer is not JSON: Expecting ',' delimiter at line 1"),
        (b"<html>Gateway</html>", "the answer is not JSON: Expecting value at line 1 column 1"),
        (b"", "the answer is not JSON: Expecting value at line 1 column 1"),
        (b"[1] [2]", "the answer is not JSON: Extra data at line 1 column 5"),
        (b'["caf\xe9"]', "the answer is not UTF-8 text: invalid continuation byte at byte 5"),
    ],
)
def test_what_is_not_json_says_what_failed_and_where_without_the_text(
    content: bytes, message: str
) -> None:
    with pytest.raises(NotJson) as raised:
        decode(content, max_memory=2**20)

    assert str(raised.value).startswith(message)
    assert "Gateway" not in str(raised.value)
    assert raised.value.__cause__ is None  # json's own error stays out of the way
