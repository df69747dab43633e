"""JSON from a store, decoded only when its shape is bounded: never too deep, never too big to hold.

For `sync.client`. The size of a body is capped before it is read (`sync.transport`), but a small
body can still cost a lot once decoded: `[[],[],...]` takes about 30 times its size in Python
objects, and `[[[[...]]]]` a thousand levels deep ends in RecursionError. Before anything is
decoded, a few passes over the bytes, all at C speed, keep the structural characters outside
strings and check:

- an upper bound on the memory the decoded value needs, from the byte length and the counts of
  `{`, `[`, `,` and `:`. The weights are upper bounds on CPython's objects, checked with tracemalloc
  against the worst shapes in tests/sync/test_bounded_json.py;
- the nesting depth (at most MAX_DEPTH).

The value is decoded by `orjson` (about 3 times faster than `json` on a page of orders) when its
working memory fits the bound too: it parses into a document of its own first, about
ORJSON_WORKSPACE_PER_BYTE bytes per byte of JSON, before building the Python objects. Otherwise,
and whenever orjson refuses an answer, the standard `json` module decodes it, so the value is
always the one `json.loads` gives: orjson refuses what `json` accepts (a UTF-8 byte order mark,
NaN, a lone surrogate, 1e400), and it turns an integer beyond 64 bits into a float, so an answer
with a run of 19 digits goes to `json` too. What neither decodes raises `NotJson`, naming why.

A real WooCommerce page of orders estimates at about 18 times its size and takes about 5 (16
with orjson's workspace); the checks cost about half of what orjson takes to decode it.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

#: Deeper than any WooCommerce object (an order's meta values nest a few levels at most).
MAX_DEPTH = 100

# Bytes the decoded value may need, per byte of JSON and per structural character.
_PER_BYTE = 6  # the decoded text (up to 4 bytes a character), the strings cut from it, slack
_PER_OBJECT = 240  # a dict with a few entries
_PER_ARRAY = 72  # an empty list and its slot in the parent
_PER_VALUE = 110  # a value after `,` or `:`: a small object, a key string, a table slot
#: orjson's own document while it decodes (16 bytes a value, at most one value per 2 bytes of
#: JSON, and a copy of the text), on top of the Python objects; measured: 12 to 13.
ORJSON_WORKSPACE_PER_BYTE = 14

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{},:')
_SAME_BRACKETS = bytes.maketrans(b"{}", b"[]")
#: `\\` or `\"`: an escaped backslash or quote, never the end of a string. Matched left to right,
#: so `\\"` is an escaped backslash and then a quote.
_ESCAPED_QUOTE_OR_BACKSLASH = re.compile(rb'\\[\\"]')
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0" * 10)
#: An integer orjson would turn into a float has at least this many digits (beyond 64 bits).
_LONG_DIGITS = b"0" * 19


class JsonTooComplex(Exception):
    """The JSON is well within the byte cap but too deep or too big to decode safely."""


class NotJson(ValueError):
    """The answer is not JSON; the message says what the decoder found wrong, never the text."""


def structure(content: bytes) -> bytes:
    """The quotes and structural characters `"[]{},:` of `content`, escaped quotes left out."""
    if b"\\" in content:  # escapes: drop the escaped quotes (and backslashes) with their escape
        content = _ESCAPED_QUOTE_OR_BACKSLASH.sub(b"", content)
    return content.translate(None, _NOT_STRUCTURE)


def estimated_memory(content: bytes, skeleton: bytes | None = None) -> int:
    """An upper bound, in bytes, on what `json.loads(content)` allocates.

    Structural characters inside strings are counted too: the bound can only come out higher.
    """
    skeleton = structure(content) if skeleton is None else skeleton
    return (
        _PER_BYTE * len(content)
        + _PER_OBJECT * skeleton.count(b"{")
        + _PER_ARRAY * skeleton.count(b"[")
        + _PER_VALUE * (skeleton.count(b",") + skeleton.count(b":"))
    )


def nesting_depth(skeleton: bytes, limit: int | None = None) -> int:
    """How deep the arrays and objects nest, from `structure(content)`: exact for well-formed JSON,
    an upper bound otherwise. With `limit`, counting stops at the first level beyond it.

    Brackets inside strings do not count. Without `,` and `:` most strings are adjacent quote
    pairs; removing `""` never changes which side of a quote anything else is on, so only strings
    holding brackets are left to cut out. Then each pass removes every innermost pair `[]` (`{}`
    read as `[]`): the passes needed to empty the brackets are the depth. What no pass removes is
    unbalanced (`]]][[[`): its openers are counted on top.
    """
    brackets = skeleton.translate(None, b",:").replace(b'""', b"")
    if b'"' in brackets:
        brackets = b"".join(brackets.split(b'"')[::2])
    brackets = brackets.translate(_SAME_BRACKETS)
    depth = 0
    while brackets and (limit is None or depth <= limit):
        inner = brackets.replace(b"[]", b"")
        if len(inner) == len(brackets):
            return depth + brackets.count(b"[")
        brackets = inner
        depth += 1
    return depth


def decode(content: bytes, *, max_memory: int) -> Any:
    """The value of `content` (as `json.loads` gives it); JsonTooComplex if it is too deep or would
    need over `max_memory`, NotJson (a ValueError) if it is not JSON at all."""
    skeleton = structure(content)
    needed = estimated_memory(content, skeleton)
    if needed > max_memory:
        raise JsonTooComplex(
            f"the answer would take about {needed // 2**20} MB to decode, more than the "
            f"{max_memory // 2**20} MB allowed for one answer"
        )
    if nesting_depth(skeleton, limit=MAX_DEPTH) > MAX_DEPTH:
        raise JsonTooComplex(f"the answer nests arrays or objects more than {MAX_DEPTH} deep")
    del skeleton
    if needed + ORJSON_WORKSPACE_PER_BYTE * len(content) <= max_memory and not _long_digits(
        content
    ):
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            pass  # json decides: it accepts a little more (see above), or says what is wrong
    try:
        return json.loads(content)
    except RecursionError:  # not reached after the depth check; kept as a last guard
        raise JsonTooComplex("the answer nests too deeply to decode") from None
    except UnicodeDecodeError as error:
        raise NotJson(
            f"the answer is not UTF-8 text: {error.reason} at byte {error.start}"
        ) from None
    except json.JSONDecodeError as error:
        raise NotJson(
            f"the answer is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None


def _long_digits(content: bytes) -> bool:
    """Whether `content` has 19 digits in a row anywhere (in a string too: then json decodes)."""
    return _LONG_DIGITS in content.translate(_DIGITS_AS_ZERO)
