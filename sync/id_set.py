"""A set of store ids kept as bits: what a sync remembers of every order it listed, in kilobytes.

For `sync.order_source` (the orders a run has seen, so that its check of deleted orders asks only
for the others). A Python set of 100,000 ids takes megabytes and grows with the shop; here each
block of 65,536 consecutive ids that holds any id costs 8 KiB, and a store's ids are dense (they
count up from 1), so a shop of a million orders takes about 128 KiB.
"""

from __future__ import annotations

from collections.abc import Iterable

BLOCK_BITS = 16
BLOCK_BYTES = (1 << BLOCK_BITS) // 8
_LOW = (1 << BLOCK_BITS) - 1


class IdSet:
    """Non-negative integer ids; `add`, `update` and `in`, as a set of ints offers them."""

    def __init__(self, ids: Iterable[int] = ()) -> None:
        self._blocks: dict[int, bytearray] = {}
        self._count = 0
        self.update(ids)

    def add(self, item: int) -> None:
        if item < 0:
            raise ValueError(f"an id is never negative, got {item}")
        block = self._blocks.get(item >> BLOCK_BITS)
        if block is None:
            block = self._blocks[item >> BLOCK_BITS] = bytearray(BLOCK_BYTES)
        low = item & _LOW
        bit = 1 << (low & 7)
        if not block[low >> 3] & bit:
            block[low >> 3] |= bit
            self._count += 1

    def update(self, ids: Iterable[int]) -> None:
        for item in ids:
            self.add(item)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, int) or item < 0:
            return False
        block = self._blocks.get(item >> BLOCK_BITS)
        low = item & _LOW
        return block is not None and bool(block[low >> 3] & (1 << (low & 7)))

    def __len__(self) -> int:
        return self._count
