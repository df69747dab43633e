"""The sandbox store's foundations: its tables, clock, ids, lookups and shared write helpers.

For the per-resource store mixins in `sandbox.resources` (customers, products, coupons, orders,
refunds, reviews, comments) that `sandbox.store.SandboxStore` assembles: `StoreBase` holds the
state they all work on; `locked` makes a public method take the store's lock, and `clone` is how
every reader gets a copy instead of the stored dict. The tables themselves are declared by the
resource modules (`sandbox.resource.Resource`) and handed over by `SandboxStore`.
"""

from __future__ import annotations

import functools
import marshal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar

from sandbox.errors import SandboxError, body_field, check_email, not_of_type
from sandbox.formats import Json, wc_dates
from sandbox.indexes import IndexSpec, Table, TableIndex
from sandbox.meta import TABLE_PREFIX, apply_meta_updates, is_hidden_customer_meta

DEFAULT_SITE_URL = "https://sandbox.test"
DEFAULT_TAX_RATE = Decimal("0.10")

P = ParamSpec("P")
T = TypeVar("T")


def clone(value: T) -> T:
    """A deep copy of JSON data (marshal v2 keeps no shared references and is ~3x deepcopy's speed)."""
    # Only bytes marshalled right here are unmarshalled: never foreign input.
    copied: T = marshal.loads(marshal.dumps(value, 2))  # type: ignore[arg-type]  # noqa: S302
    return copied


def locked(method: Callable[P, T]) -> Callable[P, T]:
    """Run a store method holding the store's lock (its first argument's `lock`)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with args[0].lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return wrapper


def _real_now() -> datetime:
    return datetime.now(UTC)


def hidden_post_meta(key: str) -> bool:
    """Order and coupon meta WooCommerce never returns: keys starting with wp_."""
    return key.lower().startswith(TABLE_PREFIX)


META_HIDDEN: dict[str, Callable[[str], bool]] = {
    "customers": is_hidden_customer_meta,
    "orders": hidden_post_meta,
    "coupons": hidden_post_meta,
}


class StoreBase:
    """The state every part of the sandbox store shares, with the clock, ids and lookups.

    Not used on its own: the resource mixins build on it and `SandboxStore` assembles them. Holds
    the objects as JSON dicts exactly as served, without `_links`, plus WordPress-like tables.
    """

    def __init__(
        self,
        *,
        tables: Mapping[str, tuple[str, str]],
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """`tables`: each resource's name and WooCommerce's (code, message) for a missing id."""
        self.lock = threading.RLock()
        self._invalid_id = dict(tables)
        self._clock = clock or _real_now
        self._frozen: datetime | None = None
        self._bulk = False
        #: How far the shop server's clock is off (`--clock-skew`): its stamps and Date header.
        self.clock_skew = timedelta(0)
        self.site_url = DEFAULT_SITE_URL
        self.tax_rate = DEFAULT_TAX_RATE
        self._data: dict[str, Table] = {name: Table() for name in tables}
        self._indexes: dict[str, TableIndex] = {}
        # WordPress tables: posts (products, coupons, orders, refunds, blog posts share ids), users
        # (1 is the shop admin), comments (reviews too), order items and their meta, terms.
        self._seq = {
            "post": 100,
            "user": 1,
            "comment": 0,
            "order_item": 0,
            "item_meta": 0,
            "meta": 0,
            "term": 14,
        }
        self._categories: dict[int, Json] = {}
        self._posts: dict[int, Json] = {}
        self._hidden_meta: dict[str, list[Json]] = {}  # "customers:12" -> rows never served
        self._refund_parent: dict[int, int] = {}
        self._coupon_counted: set[int] = set()  # orders whose coupon use is in usage_count
        self._reviews_of_product: dict[int, list[int]] = {}
        self._email_index: dict[str, int] = {}
        self._usernames: set[str] = set()

    # ---- time and ids -------------------------------------------------------------------------

    def now(self) -> datetime:
        """The store's current time: aware UTC, whole seconds (as WooCommerce stores dates)."""
        moment = self._frozen or self._clock() + self.clock_skew
        if moment.tzinfo is None:
            raise ValueError("the sandbox clock must return an aware datetime (UTC)")
        return moment.astimezone(UTC).replace(microsecond=0)

    @contextmanager
    def clock_at(self, moment: datetime) -> Iterator[None]:
        """Act as if it were `moment` (aware): for the generator and tests replaying history."""
        if moment.tzinfo is None:
            raise ValueError("clock_at needs an aware datetime")
        with self.lock:
            previous, self._frozen = self._frozen, moment
            try:
                yield
            finally:
                self._frozen = previous

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Write without getting copies back: for the generator, which reads only the new ids.

        Write methods then return the stored objects themselves, which must not be changed; each
        object is built once, not built and copied.
        """
        with self.lock:
            previous, self._bulk = self._bulk, True
            try:
                yield
            finally:
                self._bulk = previous

    def _out(self, obj: Json) -> Json:
        """What a write method hands back: a copy, or in `bulk` the stored object."""
        return obj if self._bulk else clone(obj)

    def _next(self, sequence: str) -> int:
        self._seq[sequence] += 1
        return self._seq[sequence]

    def _meta_id(self) -> int:
        return self._next("meta")

    def _stamp(self, obj: Json, *fields: str) -> None:
        """Set date fields (local + _gmt pair) to now; `date_modified` is the usual one."""
        local, gmt = wc_dates(self.now())
        for name in fields or ("date_modified",):
            obj[name], obj[f"{name}_gmt"] = local, gmt
        self._changed(obj)

    def _changed(self, obj: Json) -> None:
        """Note an object changed in place, for the sorted indexes (`_stamp` does it too)."""
        for table in self._data.values():
            if table.changed is not None:
                table.changed.add(obj["id"])

    def rows(self, resource: str) -> Table:
        """The stored objects of a table, for readers holding the lock that change nothing."""
        return self._collection(resource)

    def sorted_index(self, resource: str, spec: IndexSpec) -> TableIndex:
        """The table's sorted index, up to date; built on first use. Call with the lock held."""
        table = self._collection(resource)
        index = self._indexes.get(resource)
        if index is None or index.spec != spec:
            index = self._indexes[resource] = TableIndex.build(spec, table)
        else:
            index.refresh(table)
        return index

    # ---- lookups ------------------------------------------------------------------------------

    def _collection(self, resource: str) -> Table:
        if resource not in self._data:
            raise ValueError(
                f"unknown sandbox resource {resource!r}; one of {', '.join(self._data)}"
            )
        return self._data[resource]

    def _find(self, resource: str, id: int, status: int = 404) -> Json:
        obj = self._collection(resource).get(id)
        if obj is None:
            code, message = self._invalid_id[resource]
            raise SandboxError(code, message, status)
        return obj

    # ---- generic reads (every resource) -----------------------------------------------------

    @locked
    def all(self, resource: str) -> list[Json]:
        """Every object of a resource, deep copies sorted by id (ids ascend with creation)."""
        return [clone(obj) for obj in self._collection(resource).values()]

    @locked
    def get(self, resource: str, id: int) -> Json:
        """One object (deep copy); WooCommerce's invalid-id error (404) when there is none."""
        return clone(self._find(resource, id))

    @locked
    def query(
        self,
        resource: str,
        *,
        where: Callable[[Json], bool] | None = None,
        key: Callable[[Json], Any] | None = None,
        reverse: bool = False,
        offset: int = 0,
        limit: int | None = None,
    ) -> tuple[int, list[Json]]:
        """Filter, sort and slice without copying the whole collection: (matches, copies of the slice).

        `where` and `key` see the stored dicts and must not modify them. Only the returned slice is
        copied, so listing one page of 100,000 orders stays cheap.
        """
        rows = [o for o in self._collection(resource).values() if where is None or where(o)]
        if key is not None:
            rows.sort(key=key, reverse=reverse)
        elif reverse:
            rows.reverse()
        end = None if limit is None else offset + limit
        return len(rows), [clone(o) for o in rows[offset:end]]

    @locked
    def customer_id_by_email(self, email: str) -> int | None:
        return self._email_index.get(email.strip().lower())

    @locked
    def put(self, resource: str, obj: Json) -> Json:
        """Store `obj` (a copy) under its `id`, replacing any: for resources without write rules
        of their own, e.g. the rows a resource's `populate` hook generates."""
        self._collection(resource)[obj["id"]] = clone(obj)
        return clone(obj)

    @locked
    def count(self, resource: str) -> int:
        return len(self._collection(resource))

    # ---- shared write helpers ---------------------------------------------------------------

    def _meta_updates(self, body: Json) -> list[Json] | None:
        """The body's `meta_data`, checked entry by entry (each needs a string `key`)."""
        entries = body_field(body, "meta_data", list, "array")
        for n, entry in enumerate(entries or []):
            if not isinstance(entry, dict):
                raise not_of_type(f"meta_data[{n}]", "object")
            if not isinstance(entry.get("key"), str):
                raise not_of_type(f"meta_data[{n}][key]", "string")
            meta_id = entry.get("id")
            if meta_id not in (None, "") and (
                not isinstance(meta_id, int) or isinstance(meta_id, bool)
            ):
                raise not_of_type(f"meta_data[{n}][id]", "integer")
        return entries

    def _write_meta(
        self, obj: Json, ref: str, entries: list[Json], hidden: Callable[[str], bool]
    ) -> None:
        """Apply meta updates to obj["meta_data"]; rows WooCommerce never returns are kept aside."""
        rows = self._hidden_meta.setdefault(ref, [])
        obj["meta_data"] = apply_meta_updates(
            obj["meta_data"], rows, entries, self._meta_id, hidden
        )
        if not rows:
            del self._hidden_meta[ref]

    @locked
    def add_meta(self, resource: str, id: int, key: str, value: Any) -> Json:
        """A plugin adds a meta row directly (add_metadata, not unique): duplicates are possible.

        For customers, orders and coupons. WordPress does not touch date_modified for this.
        """
        if resource not in META_HIDDEN:
            raise ValueError(f"add_meta: resource must be one of {', '.join(META_HIDDEN)}")
        obj = self._find(resource, id)
        row = {"id": self._meta_id(), "key": key, "value": value}
        if META_HIDDEN[resource](key):
            self._hidden_meta.setdefault(f"{resource}:{id}", []).append(row)
        else:
            obj["meta_data"].append(row)
        return dict(row)

    @locked
    def hidden_meta(self, resource: str, id: int) -> list[Json]:
        """Meta rows stored for an object but never served (e.g. `wp_` keys); for tests."""
        return clone(self._hidden_meta.get(f"{resource}:{id}", []))

    @staticmethod
    def _address(current: Json, body: Json, key: str, email_error: tuple[str, str]) -> Json:
        """A copy of `current` with the body's known address fields applied (unknown ones ignored)."""
        changes = body_field(body, key, dict, "object")
        merged = dict(current)
        for name, value in (changes or {}).items():
            if name not in merged:
                continue
            if not isinstance(value, str):
                raise not_of_type(f"{key}[{name}]", "string")
            merged[name] = value.strip()
        if "email" in merged:
            check_email(merged["email"], *email_error)
        return merged
