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

What `json` cannot decode raises `NotJson`, naming why and where (never the text).

A real WooCommerce page of orders estimates at about 18 times its size and takes about 5; the
checks cost about a sixth of what decoding it costs. (`orjson` was measured as the decoder: about
2 ms less CPU a page of 100 orders in a full sync, but its working document, 12 bytes per byte of
JSON, stayed in the fetch threads' malloc arenas: peak memory +10 MB at 10,000 orders and +20 MB
at 100,000, against the issue's bound on how memory grows. Not used.)
"""

from __future__ import annotations

import json
import re
from typing import Any

#: Deeper than any WooCommerce object (an order's meta values nest a few levels at most).
MAX_DEPTH = 100

# Bytes the decoded value may need, per byte of JSON and per structural character.
_PER_BYTE = 6  # the decoded text (up to 4 bytes a character), the strings cut from it, slack
_PER_OBJECT = 240  # a dict with a few entries
_PER_ARRAY = 72  # an empty list and its slot in the parent
_PER_VALUE = 110  # a value after `,` or `:`: a small object, a key string, a table slot

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{},:')
_SAME_BRACKETS = bytes.maketrans(b"{}", b"[]")
#: `\\` or `\"`: an escaped backslash or quote, never the end of a string. Matched left to right,
#: so `\\"` is an escaped backslash and then a quote.
_ESCAPED_QUOTE_OR_BACKSLASH = re.compile(rb'\\[\\"]')


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
    """The value of `content`; JsonTooComplex if it is too deep or would need over `max_memory`,
    NotJson (a ValueError) if it is not JSON at all."""
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
    try:
        return _loads(content)
    except _TooManyDigits:  # an integer longer than Python converts: decoded again, kept as text
        return _loads(content, parse_int=_integer_or_text)


class _TooManyDigits(Exception):
    """json's plain ValueError for an integer longer than Python converts."""


def _loads(content: bytes, **hooks: Any) -> Any:
    """`json.loads`, its errors as NotJson, JsonTooComplex or _TooManyDigits."""
    try:
        return json.loads(content, **hooks)
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
    except ValueError:
        raise _TooManyDigits from None


def _integer_or_text(digits: str) -> int | str:
    """A JSON integer; one longer than Python converts (`sys.get_int_max_str_digits`, 4,300) stays
    its text, for the reader of its field to refuse (naming it) and an unread field to pass."""
    try:
        return int(digits)
    except ValueError:
        return digits
