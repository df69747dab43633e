"""The client's paging helper: every listing of the store is bounded, whatever the store answers.

A listing is a run of requests against one endpoint that together deliver a collection: the keyset
walk of a modified window (`sync.window`, with its time slices and its by-id fallback), a
page-numbered walk (refunds, customers; later reviews and comments), or asking for known ids a
hundred at a time. Each goes through a `Listing`, which gives it two guards:

- **No progress, no repeat.** A full page that brings no id the listing has not already delivered
  means the store ignored the paging (a caching proxy, a plugin dropping `exclude` or `page`):
  asking for the next page would get the same answer forever. The listing stops with
  `ListingStalled`, naming the endpoint, the query (never a secret: credentials travel in
  headers or OAuth parameters the caller never sees) and what the store did. Keyset walks first
  try paging the stuck second by id (`sync.window`), and stop only if that stalls too.
- **A ceiling.** At most `3 * pages + 10` requests, where pages follow from the first `X-WP-Total`
  the store announced (`per_page` items a page, or as many as that first page brought where a
  store caps its pages below it); without an announcement, the pages of `UNANNOUNCED_ITEMS` items.
  A bug or a lying store costs a bounded number of requests, never an unbounded one.

`X-WP-TotalPages` is never trusted: walks end on a short page, so `X-WP-TotalPages: 999999` on a
full page changes nothing.

For: `sync.window`, `sync.refunds`, `sync.customers`, `sync.orders`, `sync.products`.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterable, Mapping
from contextlib import closing
from functools import partial
from typing import Any, Protocol

from rules import notes
from sync.ahead import in_order
from sync.errors import StoreAnswerTooComplex, StoreAnswerUnusable, StoreError
from sync.fields import is_id

#: Requests a listing may make, per page the store announced, and on top of that.
CEILING_PER_PAGE = 3
CEILING_EXTRA = 10
#: The items a listing may bring when the store announces no X-WP-Total: its ceiling is their
#: pages (10,000 requests at 100 a page, 100,000 at 10).
UNANNOUNCED_ITEMS = 1_000_000
#: WooCommerce and WordPress list at most 100 items a page: the most `per_page` may be, and the
#: most ids one `include=` request holds.
MAX_PER_PAGE = 100
#: What a page too complex to decode is asked for again with, to read its items one by one.
LIGHT_FIELDS = "id,date_modified_gmt"
#: A listing's paging, order and window parameters: what a read of the same items by id drops
#: (an item modified since is still read; the walk places it by its new date).
_NOT_FILTERS = frozenset(
    {"page", "per_page", "offset", "order", "orderby", "include", "exclude"}
    | {"modified_after", "modified_before", "after", "before", "dates_are_gmt"}
)
#: The key naming why an item stands for one the store could not deliver readably.
UNREADABLE = "_unreadable"
#: How much of one query value an error message shows (an `exclude` list can hold 400 ids).
_SHOWN_VALUE = 60


class ListingStalled(StoreError):
    """The store's answers make no progress, a listing reached its request ceiling, or an answer
    is not a page of items.

    Not retryable within the run: asking again gets the same answer. The message names the
    endpoint, the query and what the store did; `detail` is that part alone.
    """

    def __init__(self, message: str, *, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


def _page_size(page: Any, total: int, per_page: int) -> int:
    """The store's page size, from the first page that announced a total: `per_page`, or fewer
    where the page came short of both (a plugin or proxy capping pages: its listing needs that
    many more pages, and so a ceiling that many times higher)."""
    items = getattr(page, "items", None)
    count = len(items) if isinstance(items, list) else 0
    return count if 0 < count < min(per_page, total) else per_page


class PageLike(Protocol):
    @property
    def items(self) -> Any: ...
    @property
    def total(self) -> int | None: ...


class PageSource(Protocol):
    def get(self, endpoint: str, params: Mapping[str, Any] | None = None) -> Any: ...


class Listing:
    """One listing of `endpoint`: its request count, its ceiling and its no-progress guard.

    Thread-safe: the time slices of a window share one listing (and one ceiling).
    """

    def __init__(self, source: PageSource, endpoint: str, *, per_page: int) -> None:
        self._source = source
        self.endpoint = endpoint
        self.per_page = min(MAX_PER_PAGE, max(1, per_page))
        self._lock = threading.Lock()
        self._requests = 0
        self._announced: int | None = None
        self._ceiling = -(-UNANNOUNCED_ITEMS // self.per_page)

    @property
    def requests(self) -> int:
        """Requests this listing has made so far (each page once, whatever its retries)."""
        with self._lock:
            return self._requests

    @property
    def announced(self) -> int | None:
        """The X-WP-Total of the listing's first page that announced one (None before)."""
        with self._lock:
            return self._announced

    @property
    def ceiling(self) -> int:
        with self._lock:
            return self._ceiling

    def get(self, params: Mapping[str, Any], *, by_ids: bool = False) -> Any:
        """One page; raises `ListingStalled` instead of going past the ceiling.

        A by-ids request (`by_ids`) is outside the ceiling, which bounds the pages of a listing
        whose length the store announces: a read by ids is bounded by the ids asked, one request
        a hundred, and the total each answer announces is only that request's count.
        """
        with self._lock:
            if self._requests >= self._ceiling and not by_ids:
                raise self.stalled(params, self._ceiling_reached())
            self._requests += 1
        page = self._source.get(self.endpoint, params)
        total = getattr(page, "total", None)
        with self._lock:
            if not by_ids and self._announced is None and isinstance(total, int) and total >= 0:
                self._announced = total
                pages = -(-total // _page_size(page, total, self.per_page))
                self._ceiling = CEILING_PER_PAGE * pages + CEILING_EXTRA
        return page

    def page(
        self, params: Mapping[str, Any], *, label: str | None = None, by_ids: bool = False
    ) -> tuple[list[Any], int | None]:
        """One page's items and the X-WP-Total it announced; an answer that is not a JSON array
        is `StoreAnswerUnusable` naming `label` (default: the request's path). `by_ids`: as
        `get`'s."""
        try:
            page = self.get(params, by_ids=by_ids)
        except StoreAnswerTooComplex as problem:
            if by_ids:
                raise
            return self._item_by_item(params, str(problem), label)
        items = require_list(page.items, label or f"GET {self._path()}")
        total = getattr(page, "total", None)
        return items, total if isinstance(total, int) else None

    def _item_by_item(
        self, params: Mapping[str, Any], problem: str, label: str | None
    ) -> tuple[list[Any], int | None]:
        """A page too big or too deep to decode (one item's meta can make it so, and every run
        stopped there): the same page asked for again with only ids and modified dates, then its
        items by id (`by_ids`, which delivers the one that cannot be read as `unreadable_item`).
        The page keeps its items, their order and its length, so paging goes on as it would
        have: an item no longer there when read by id (deleted or trashed meanwhile) is
        delivered as unreadable too, and set aside until the listing brings it again."""
        light = {**params, "_fields": LIGHT_FIELDS}
        page = self.get(light)  # a request of the listing, as the one it stands for
        items = require_list(page.items, label or f"GET {self._path()}")
        total = getattr(page, "total", None)
        filters = {k: v for k, v in params.items() if k not in _NOT_FILTERS}
        wanted = [i for i in map(item_id, items) if isinstance(i, int) and is_id(i)]
        found = {
            item["id"]: item
            for batch in self.by_ids(wanted, filters, unusable_missing=True)
            for item in batch
            if isinstance(item, dict) and is_id(item.get("id"))
        }
        whole: list[Any] = []
        for item in items:
            key = item_id(item)
            if not isinstance(key, int) or not is_id(key):  # as the light page gave it: set
                whole.append(item)  # aside when parsed, for its missing fields
                continue
            known = {f: item[f] for f in LIGHT_FIELDS.split(",") if f in item}
            gone = unreadable_item(
                key, f"{problem}; read alone, it had left the listing: read again later"
            )
            whole.append({**known, **found.get(key, gone)})
        return whole, total if isinstance(total, int) else None

    def numbered(
        self, params: Mapping[str, Any], *, ahead: int = 1
    ) -> Generator[list[dict[str, Any]], None, None]:
        """Pages 1, 2, ... of `params` (`per_page` items a page) until the last page (`_ended`);
        a full page with nothing new stops it.

        With `ahead` > 1 the pages the first one's X-WP-Total announces are asked for that many at
        a time (`sync.ahead.in_order`), still delivered in order; only for a caller that reads
        to the end, as the requests sent ahead are made whether or not it stops early. A caller
        that may stop early (a newest-first walk that reached what it knows) keeps `ahead` 1.
        """
        delivered: set[int | str | None] = set()
        params = {**params, "per_page": self.per_page}
        query = {**params, "page": 1}
        items, total = self.page(query)
        new = self.check_progress(query, items, delivered)
        yield items
        if self._ended(items, new, total, delivered):
            return
        announced = -(-total // self.per_page) if ahead > 1 and total is not None else 1
        # Drawn as they are asked (`in_order` is lazy): a store may announce 10^18 items.
        queries = ({**params, "page": n} for n in range(2, announced + 1))
        answers = in_order((partial(self._asked, q) for q in queries), ahead)
        with closing(answers):
            for query, (items, total) in answers:
                new = self.check_progress(query, items, delivered)
                yield items
                if self._ended(items, new, total, delivered):
                    return
        number = max(2, announced + 1)
        while True:
            query = {**params, "page": number}
            items, total = self.page(query)
            new = self.check_progress(query, items, delivered)
            yield items
            if self._ended(items, new, total, delivered):
                return
            number += 1

    def _ended(
        self, items: list[Any], new: int, total: int | None, delivered: set[int | str | None]
    ) -> bool:
        """Whether a numbered listing ends with this page: a short page ends it, unless the
        store's X-WP-Total (this page's, counted afresh) says items were not delivered yet and
        the page brought new ones. A store (a plugin, a proxy) that caps its pages below
        `per_page` answers every page short: ending on its first page lost all the rest (250
        refunds read as 50). Its pages are then asked for on to an empty one or one with nothing
        new, within the listing's ceiling."""
        if len(items) >= self.per_page:
            return False
        return new == 0 or total is None or len(delivered) >= total

    def _asked(self, query: dict[str, Any]) -> tuple[dict[str, Any], tuple[list[Any], int | None]]:
        return query, self.page(query)

    def check_progress(
        self, query: Mapping[str, Any], items: list[Any], delivered: set[int | str | None]
    ) -> int:
        """Stops the listing if `items` is a full page of nothing but ids in `delivered` (the
        store ignored the page number); else adds their ids to `delivered`. Returns how many
        were new."""
        ids = {item_id(item) for item in items}
        if len(items) >= self.per_page and ids <= delivered:
            raise self.stalled(
                query,
                f"page {query['page']} brought only items already delivered by earlier pages "
                "(the store ignored the page number)",
            )
        before = len(delivered)
        delivered |= ids
        return len(delivered) - before

    def by_ids(
        self,
        ids: Iterable[int],
        params: Mapping[str, Any] | None = None,
        *,
        unusable_missing: bool = False,
    ) -> Generator[list[dict[str, Any]], None, None]:
        """The items among `ids` that the store has, `per_page` ids a request (`include=`).

        An answer holding an id that was not asked for means the store ignored `include`: then
        a missing id would look deleted, so the listing stops instead. So does, by default, an item
        without an id the ledger could hold (none, `null`, text, 2^64): the id it stands for would
        look missing. A caller for whom a missing item only holds something back (a refund: its
        order waits in quarantine) says `unusable_missing`: such an item is then delivered as it
        is, for the caller to set aside, and the id it stands for is missing.

        An answer too deep or too big to decode (`StoreAnswerTooComplex`: one item's meta can make
        it so) is asked for again in halves, down to the one id whose answer cannot be read,
        which is delivered as `unreadable_item`: there (so never taken for deleted), and set
        aside by whoever parses it (at most 2n - 1 requests for a batch of n).
        """
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), self.per_page):
            yield self._readable(wanted[start : start + self.per_page], params, unusable_missing)

    def _readable(
        self, batch: list[int], params: Mapping[str, Any] | None, unusable_missing: bool
    ) -> list[dict[str, Any]]:
        """`_batch`, halving a batch whose answer is too complex to decode (see `by_ids`)."""
        try:
            return self._batch(batch, params, unusable_missing)
        except StoreAnswerTooComplex as problem:
            if len(batch) == 1:
                return [unreadable_item(batch[0], str(problem))]
        half = len(batch) // 2
        return [
            *self._readable(batch[:half], params, unusable_missing),
            *self._readable(batch[half:], params, unusable_missing),
        ]

    def _batch(
        self, batch: list[int], params: Mapping[str, Any] | None, unusable_missing: bool
    ) -> list[dict[str, Any]]:
        """One batch's items. A store that sends fewer items than the X-WP-Total it announces
        for them (a proxy or plugin capping pages below 100) is asked again for the ids it left
        out, until it has sent them all; each new request must bring one of them, else the
        listing stops (bounded by the batch: at most one request per id)."""
        found: list[dict[str, Any]] = []
        pending = batch
        while True:
            query = {**(params or {}), "include": pending, "per_page": self.per_page}
            items, total = self.page(query, by_ids=True)
            asked = set(pending)
            strangers = sorted(
                {
                    i
                    for i in map(item_id, items)
                    if i not in asked and (is_id(i) or not unusable_missing)
                },
                key=str,
            )
            if strangers:
                shown = ", ".join(str(s) for s in strangers[:5])
                raise self.stalled(
                    query,
                    f"the answer holds {len(strangers)} item(s) not asked for ({shown}): "
                    "the store ignored `include`",
                )
            found += items
            if total is None or total <= len(items):
                return found
            sent = {i for i in map(item_id, items) if i in asked}
            rest = [i for i in pending if i not in sent]
            if not rest:
                return found
            if not sent:
                raise self.stalled(
                    query,
                    f"the store announced {total:,} of the {len(pending):,} ids asked "
                    f"(X-WP-Total) but sent {len(items):,} of them: the ids it left out would "
                    "look deleted",
                )
            pending = rest

    def stalled(self, params: Mapping[str, Any], what: str) -> ListingStalled:
        """The error that stops this listing: endpoint, query without secrets, what happened."""
        detail = f"GET {self._path()}?{describe_query(params)}: {what}"
        return ListingStalled(
            notes.LISTING_STOPPED(endpoint=self.endpoint, error=detail),
            detail=detail,
        )

    def _ceiling_reached(self) -> str:
        if self._announced is None:
            basis = "the store announced no X-WP-Total"
        else:
            basis = f"the store announced {self._announced:,} item(s) (X-WP-Total)"
        return (
            f"{self._requests:,} requests reached this listing's ceiling of {self._ceiling:,} "
            f"({basis}); the store keeps answering without finishing"
        )

    def _path(self) -> str:
        path_of = getattr(self._source, "path_of", None)
        return str(path_of(self.endpoint)) if callable(path_of) else self.endpoint


def unreadable_item(wc_id: int, why: str) -> dict[str, Any]:
    """Stands for an item the store could not deliver readably even alone: its id and why.
    Parsing sets it aside (`sync.quarantine.parse_page` quarantines it with that reason); a read
    by ids counts it as there."""
    return {"id": wc_id, UNREADABLE: why}


def is_unreadable(item: Any) -> bool:
    return isinstance(item, Mapping) and UNREADABLE in item


def item_id(item: Any) -> int | str | None:
    """An item's `id` as the store sent it, if it is a number or a string (else None)."""
    value = item.get("id") if isinstance(item, Mapping) else None
    return value if isinstance(value, int | str) else None


def describe_query(params: Mapping[str, Any]) -> str:
    """`params` as a readable query string, long values shortened (no secret is ever a param)."""
    parts = []
    for name, value in params.items():
        many = isinstance(value, list | tuple | set | frozenset)
        text = ",".join(str(v) for v in value) if many else str(value)
        if len(text) > _SHOWN_VALUE:
            count = text.count(",") + 1
            text = f"{text[:_SHOWN_VALUE]}…({count} values)"
        parts.append(f"{name}={text}")
    return "&".join(parts)


def require_list(items: Any, request: str) -> list[Any]:
    """`items` if the store answered a JSON array, as a collection must; else StoreAnswerUnusable
    naming `request` ("GET /wp-json/wc/v3/orders")."""
    if not isinstance(items, list):
        raise StoreAnswerUnusable(
            f"{request}: expected a JSON array of items, the store answered {_json_kind(items)}"
        )
    return items


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a JSON object"
    if value is None:
        return "null"
    return f"a JSON {type(value).__name__.replace('str', 'string').replace('bool', 'boolean')}"
