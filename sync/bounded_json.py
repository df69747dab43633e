"""JSON from a store, decoded only when its shape is bounded: never too deep, never too big to hold.

For `sync.client`. The size of a body is capped before it is read (`sync.transport`), but a small
body can still cost a lot once decoded: `[[],[],...]` takes about 30 times its size in Python
objects, and `[[[[...]]]]` a thousand levels deep ends in RecursionError. Before `json.loads` runs,
a few passes over the bytes, all at C speed, keep the structural characters outside strings and
check:

- an upper bound on the memory the decoded value needs, from the byte length and the counts of
  `{`, `[`, `,` and `:`. The weights are upper bounds on CPython's objects, checked with tracemalloc
  against the worst shapes in tests/sync/test_bounded_json.py;
- the nesting depth (at most MAX_DEPTH).

A real WooCommerce page of orders estimates at about 18 times its size and takes about 5; the
checks cost about a third of what decoding it costs.
"""

from __future__ import annotations

import json
import operator
from itertools import accumulate, count
from typing import Any

#: Deeper than any WooCommerce object (an order's meta values nest a few levels at most).
MAX_DEPTH = 100

# Bytes the decoded value may need, per byte of JSON and per structural character.
_PER_BYTE = 6  # the decoded text (up to 4 bytes a character), the strings cut from it, slack
_PER_OBJECT = 240  # a dict with a few entries
_PER_ARRAY = 72  # an empty list and its slot in the parent
_PER_VALUE = 110  # a value after `,` or `:`: a small object, a key string, a table slot

_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{},:')
_DEPTH_STEP = bytes.maketrans(b"[]{}", b"\x02\x00\x02\x00")


class JsonTooComplex(Exception):
    """The JSON is well within the byte cap but too deep or too big to decode safely."""


def structure(content: bytes) -> bytes:
    """The quotes and structural characters `"[]{},:` of `content`, escaped quotes left out."""
    if b'\\"' in content:  # an escaped quote (or an escaped backslash before a closing quote)
        content = content.replace(b"\\\\", b"").replace(b'\\"', b"")
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


def nesting_depth(skeleton: bytes) -> int:
    """How deep the arrays and objects nest, from `structure(content)`, in linear time.

    Brackets inside strings do not count. Without `,` and `:` most strings are adjacent quote
    pairs; removing `""` never changes which side of a quote anything else is on, so only strings
    holding brackets are left to cut out. Then, with 2 for an opener and 0 for a closer, the
    running sum at position i is twice the openers so far, and the depth there is it minus i + 1.
    """
    brackets = skeleton.translate(None, b",:").replace(b'""', b"")
    if b'"' in brackets:
        brackets = b"".join(brackets.split(b'"')[::2])
    steps = brackets.translate(_DEPTH_STEP)
    return max(map(operator.sub, accumulate(steps), count(1)), default=0)


def decode(content: bytes, *, max_memory: int) -> Any:
    """The value of `content`; JsonTooComplex if it is too deep or would need over `max_memory`.

    Raises ValueError (json.JSONDecodeError or UnicodeDecodeError) when it is not JSON at all.
    """
    skeleton = structure(content)
    needed = estimated_memory(content, skeleton)
    if needed > max_memory:
        raise JsonTooComplex(
            f"the answer would take about {needed // 2**20} MB to decode, more than the "
            f"{max_memory // 2**20} MB allowed for one answer"
        )
    if nesting_depth(skeleton) > MAX_DEPTH:
        raise JsonTooComplex(f"the answer nests arrays or objects more than {MAX_DEPTH} deep")
    del skeleton
    try:
        return json.loads(content)
    except RecursionError:  # not reached after the depth check; kept as a last guard
        raise JsonTooComplex("the answer nests too deeply to decode") from None
