"""Bounded JSON decoding: the memory estimate is an upper bound, the depth is counted right."""

from __future__ import annotations

import json
import math
import tracemalloc
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from sync import bounded_json
from sync.bounded_json import (
    MAX_DEPTH,
    ORJSON_WORKSPACE_PER_BYTE,
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
# orjson's workspace grows with the bytes, whatever they hold: text and values it keeps small.
ORJSON_WORST_SHAPES = {
    **WORST_SHAPES,
    "one long string": b'"' + b"x" * (8 * N) + b'"',
    "escapes": b'"' + b"\\n" * (4 * N) + b'"',
    "whitespace": b"[" + b" " * (8 * N) + b"1]",
    "ones": b"[" + b",".join([b"1"] * N) + b"]",
    "nulls": b"[" + b",".join([b"null"] * N) + b"]",
}


def _peak(decoder: Callable[[bytes], Any], content: bytes) -> int:
    tracemalloc.start()
    try:
        value = decoder(content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del value
    return peak


@pytest.mark.parametrize("content", list(WORST_SHAPES.values()), ids=list(WORST_SHAPES))
def test_the_estimate_is_at_least_what_decoding_allocates(content: bytes) -> None:
    assert estimated_memory(content) >= _peak(json.loads, content)


@pytest.mark.parametrize(
    "content", list(ORJSON_WORST_SHAPES.values()), ids=list(ORJSON_WORST_SHAPES)
)
def test_the_estimate_with_orjsons_workspace_is_at_least_what_orjson_allocates(
    content: bytes,
) -> None:
    budget = estimated_memory(content) + ORJSON_WORKSPACE_PER_BYTE * len(content)

    assert budget >= _peak(orjson.loads, content)


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
    """Stands in for orjson and json in a test where nothing may be decoded."""

    JSONDecodeError = json.JSONDecodeError

    @staticmethod
    def loads(content: bytes) -> Any:
        raise AssertionError("decoded")


@pytest.fixture
def no_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounded_json, "orjson", _NoDecoder)
    monkeypatch.setattr(bounded_json, "json", _NoDecoder)


@pytest.mark.usefixtures("no_decoder")
def test_json_nested_deeper_than_the_limit_is_refused_before_decoding() -> None:
    with pytest.raises(JsonTooComplex, match=f"more than {MAX_DEPTH} deep"):
        decode(b"[" * 100_000 + b"]" * 100_000, max_memory=2**30)
    with pytest.raises(JsonTooComplex, match=f"more than {MAX_DEPTH} deep"):
        decode(b'[{"a": "[[[", "b": ' + b"[" * 101 + b"]" * 101 + b"}]", max_memory=2**30)


@pytest.mark.usefixtures("no_decoder")
def test_an_answer_too_big_to_decode_is_refused_before_either_decoder_sees_it() -> None:
    with pytest.raises(JsonTooComplex, match="more than the 1 MB allowed"):
        decode(b"[" + b"{}," * 20_000 + b"{}]", max_memory=2**20)


def test_json_at_the_depth_limit_decodes() -> None:
    value = decode(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, max_memory=2**20)

    assert isinstance(value, list)


@pytest.mark.parametrize("content", [b'[{"id": 1}, {"id": 2', b"<html>Gateway</html>", b""])
def test_what_is_not_json_raises_value_error_for_the_client_to_retry(content: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json's own error, whatever its message
        decode(content, max_memory=2**20)


# -- which decoder, and what it gives ----------------------------------------------------------

SAMPLE_FILES = sorted(WOOCOMMERCE_SAMPLES.glob("*.json"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.name for p in SAMPLE_FILES])
def test_each_sample_answer_decodes_to_what_json_gives(path: Any) -> None:
    content = path.read_bytes()

    assert decode(content, max_memory=2**26) == json.loads(content)


@pytest.mark.parametrize(
    "content",
    [
        b"\xef\xbb\xbf[1]",  # a UTF-8 byte order mark (a plugin file saved with one)
        b"[NaN, Infinity, -Infinity]",
        b'["\\ud800"]',  # a lone surrogate
        b"[1e400]",
        b"[123456789012345678901234567890, -9223372036854775809]",  # orjson: floats
        b'{"id": 1, "id": 2}',
        '"\u00e9\U0001f600"'.encode("utf-16"),
    ],
    ids=["bom", "nan", "lone-surrogate", "overflow", "big-ints", "duplicate-key", "utf-16"],
)
def test_what_orjson_refuses_or_reads_otherwise_decodes_as_json_reads_it(content: bytes) -> None:
    value = decode(content, max_memory=2**20)
    expected = json.loads(content)

    assert repr(value) == repr(expected)  # floats and ints apart; nan == nan is False
    assert all(type(a) is type(b) for a, b in zip(value, expected, strict=True))


def test_a_long_run_of_digits_sends_the_answer_to_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bounded_json, "orjson", _NoDecoder)

    assert decode(b'[{"id": 18446744073709551616}]', max_memory=2**20) == [
        {"id": 18446744073709551616}
    ]


def test_a_page_decodes_with_orjson_when_its_workspace_fits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bounded_json, "json", _NoDecoder)
    page = (WOOCOMMERCE_SAMPLES / "orders-list.json").read_bytes()

    assert decode(page, max_memory=2**26) == orjson.loads(page)


def test_an_answer_whose_orjson_workspace_would_not_fit_decodes_with_json_within_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bounded_json, "orjson", _NoDecoder)
    page = (WOOCOMMERCE_SAMPLES / "orders-list.json").read_bytes()
    just_enough = estimated_memory(page)

    assert decode(page, max_memory=just_enough) == json.loads(page)
    assert _peak(json.loads, page) <= just_enough


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
    assert raised.value.__cause__ is None  # orjson's and json's own errors stay out of the way


def test_nan_survives_as_json_reads_it() -> None:
    assert all(math.isnan(v) for v in decode(b"[NaN, NaN]", max_memory=2**20))
