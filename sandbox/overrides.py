"""Overrides: what the sandbox serves for one item instead of the item itself.

For tests of a sync facing broken data: a plugin or a corrupt row makes a store serve `null`,
`{"id": null}`, a line total of 10^26 or an order without `date_modified_gmt`. The store keeps the
real item (so it is still filtered and sorted where it really sits in a listing); only its served
JSON changes, in listings and by id, until the override is removed.

    PUT    /sandbox/served/{resource}/{id}   {"item": <any JSON>} replaces it whole;
                                             {"patch": {...}} merges (RFC 7396: null removes)
    DELETE /sandbox/served/{resource}/{id}   serve the real item again

for the resources in `RESOURCES` (orders, refunds, customers, reviews, comments).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

RESOURCES = ("orders", "refunds", "customers", "reviews", "comments")
_WHOLE = "item"
_PATCH = "patch"


class ServedOverrides:
    """Thread-safe overrides by (resource, id): a whole replacement or a JSON merge patch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._overrides: dict[tuple[str, int], tuple[str, Any]] = {}

    def replace(self, resource: str, item_id: int, item: Any) -> None:
        """Serve `item` (any JSON value, `None` for null) instead of the real one."""
        self._set(resource, item_id, (_WHOLE, copy.deepcopy(item)))

    def patch(self, resource: str, item_id: int, patch: dict[str, Any]) -> None:
        """Serve the real item with `patch` merged in (a null value removes the key)."""
        self._set(resource, item_id, (_PATCH, copy.deepcopy(patch)))

    def remove(self, resource: str, item_id: int) -> bool:
        with self._lock:
            return self._overrides.pop((resource, item_id), None) is not None

    def apply(self, resource: str, item_id: Any, served: Any) -> Any:
        """What to send for one served item of `resource`."""
        with self._lock:
            override = self._overrides.get((resource, item_id)) if self._overrides else None
        if override is None:
            return served
        kind, value = override
        return copy.deepcopy(value) if kind == _WHOLE else merge_patch(served, value)

    def _set(self, resource: str, item_id: int, override: tuple[str, Any]) -> None:
        if resource not in RESOURCES:
            raise ValueError(f"served overrides exist for {', '.join(RESOURCES)}, not {resource!r}")
        with self._lock:
            self._overrides[(resource, item_id)] = override


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch of `target` by `patch` (a new value; neither is changed)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged
