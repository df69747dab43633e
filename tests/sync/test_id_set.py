"""What a sync remembers during a run stays small: the bit set of order ids it has seen, and the
bounded owner caches."""

from __future__ import annotations

import random
import sys

import pytest

from sync.id_set import BLOCK_BYTES, IdSet
from sync.owners import BoundedCache


def test_it_holds_exactly_the_ids_added_like_a_set() -> None:
    rng = random.Random(3)
    added = {rng.randrange(0, 2**63) for _ in range(500)} | set(range(0, 70_000, 7)) | {0}
    ids = IdSet(added)
    ids.update(list(added)[:100])  # again: counted once
    assert len(ids) == len(added)
    assert all(i in ids for i in added)
    probes = [rng.randrange(0, 2**63) for _ in range(2_000)] + list(range(1, 70_000, 7))
    assert all((i in ids) == (i in added) for i in probes)
    assert -1 not in ids
    assert "12" not in ids


def test_a_negative_id_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        IdSet().add(-5)


def test_a_hundred_thousand_dense_ids_take_kilobytes() -> None:
    ids = IdSet(range(1, 100_001))
    blocks = ids._blocks
    assert len(blocks) == 2
    assert sum(sys.getsizeof(b) for b in blocks.values()) < 4 * BLOCK_BYTES
    assert 100_000 in ids
    assert 100_001 not in ids


def test_the_owner_cache_forgets_its_oldest_entries_beyond_its_size() -> None:
    cache: BoundedCache[str] = BoundedCache(3)
    for n, email in enumerate(["a@x", "b@x", "c@x", "d@x"]):
        cache[email] = n
    cache.update({"e@x": 4})
    assert list(cache) == ["c@x", "d@x", "e@x"]
    assert cache.get("a@x") is None  # read again from the ledger when needed
