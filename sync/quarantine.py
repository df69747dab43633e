"""Source items the sync could not use: kept (redacted, bounded), counted, released once they parse.

One mechanism for every source (orders, refunds, customers; reviews, comments and signups later):
each page is parsed at the edge into typed values or `Rejected` records, the rejected go into the
`quarantined_items` table with their reason and the item as received, and the rest of the page and
the run go on. A broken item never stops a sync and is never silently dropped: `loyalty quarantine`
lists it, and when it comes back well-formed it is processed normally and its record resolved.

An item is known by its id (`"1042"`). One without a usable id is known by the id it carried
(`id="abc"`) or, failing that, by a digest of its content (`sha256:…`); its reason names the item
before it in the listing, which is where an admin finds it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledger.batches import chunks
from ledger.models import QuarantinedItem
from sync.errors import InvalidSourceData
from sync.fields import is_id
from sync.paging import UNREADABLE, is_unreadable
from sync.redaction import MASK, redact

#: The most of an item kept: enough to see what was wrong, never a flood in the database.
MAX_PAYLOAD_CHARS = 16_000
#: Deeper than this, nested values are replaced by a marker (real WooCommerce items nest ~5 deep).
MAX_DEPTH = 32
_TRUNCATED = "…(truncated)"
# JSON keys whose values are credentials, and WooCommerce meta entries (`{"key", "value"}`) named
# so: their values are masked whatever they look like (strings go through `sync.redaction` too).
_SECRET_NAME = re.compile(
    r"(?i)(password|passwd|secret|token|api[_-]?key|authorization|signature|consumer_key|"
    r"app_password|session)"
)

T = TypeVar("T")


@dataclass(frozen=True)
class Rejected:
    """One item of a page that could not be used, with where it came from and why."""

    source: str  # "orders", "customers", "refunds", ...
    ref: str
    raw: Any
    reason: str
    field: str | None = None


def valid_id(raw: Any) -> int | None:
    """The item's id when it is a usable one (an integer from 1 to the BIGINT maximum)."""
    if not isinstance(raw, Mapping):
        return None
    value = raw.get("id")
    return value if is_id(value) else None


def item_ref(raw: Any) -> str:
    """How a quarantined item is known: its id, else the id it carried (redacted: a store may echo a
    credential anywhere), else a content digest."""
    found = valid_id(raw)
    if found is not None:
        return str(found)
    if isinstance(raw, Mapping):
        value = raw.get("id")
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return f"id={redact(json.dumps(value))[:60]}"
    canonical = json.dumps(_bounded(raw, MAX_DEPTH), sort_keys=True, default=str)
    return f"sha256:{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


def reject(source: str, raw: Any, error: InvalidSourceData, *, after: int | None) -> Rejected:
    """The record of one unusable item; `after` is the id of the usable item before it, if any."""
    reason = str(error)
    if valid_id(raw) is None:
        where = f"after {source} item {after}" if after is not None else "first of its page"
        reason = f"{reason} (an item without a usable id, {where})"
    return Rejected(source, item_ref(raw), raw, reason, error.field)


def parse_page(
    source: str, items: Sequence[Any], parse: Callable[[Any], T]
) -> tuple[list[tuple[T, Any]], list[Rejected]]:
    """Each item parsed, or rejected with its reason: (value, raw) pairs and the rejected."""
    parsed: list[tuple[T, Any]] = []
    rejected: list[Rejected] = []
    previous: int | None = None
    for raw in items:
        try:
            if is_unreadable(raw):  # the store's answer for it could not be decoded, even alone
                raise InvalidSourceData(
                    f"the store's answer for this item is unusable: {raw[UNREADABLE]}"
                )
            parsed.append((parse(raw), raw))
        except InvalidSourceData as error:
            rejected.append(reject(source, raw, error, after=previous))
        previous = valid_id(raw) or previous
    return parsed, rejected


class Quarantine:
    """Records rejected items of one store, with the logs' redaction (`sync.redaction`) applied to
    every string and the values of secret-named keys masked."""

    def __init__(self, store_id: int) -> None:
        self.store_id = store_id
        #: Source -> the refs of its items that may be open: read once a run (on the first
        #: release), then grown by every item added. Never shrunk (a released item's transaction
        #: may yet roll back): a ref in it costs an UPDATE that may find nothing; one not in it is
        #: not open, so releasing a page of items nobody quarantined costs no statement.
        self._open: dict[str, set[str]] = {}

    def add(self, session: Session, items: Iterable[Rejected], *, now: datetime) -> int:
        """Record (or re-record) each item, keyed by source and ref; returns how many."""
        count = 0
        for item in items:
            self._add_one(session, item, now)
            if item.source in self._open:
                self._open[item.source].add(item.ref)
            count += 1
        return count

    def release(self, session: Session, source: str, refs: Iterable[str], *, now: datetime) -> None:
        """Mark items resolved: they came back well-formed and were processed."""
        wanted = sorted(self._possibly_open(session, source).intersection(refs))
        for chunk in chunks(wanted):
            session.execute(
                update(QuarantinedItem)
                .where(
                    QuarantinedItem.store_id == self.store_id,
                    QuarantinedItem.resource == source,
                    QuarantinedItem.item_ref.in_(chunk),
                    QuarantinedItem.resolved_at.is_(None),
                )
                .values(resolved_at=now)
                .execution_options(synchronize_session=False)
            )

    def open_refs(self, session: Session, source: str) -> set[str]:
        """The refs of the source's items that may be open (see `_open`)."""
        return set(self._possibly_open(session, source))

    def _possibly_open(self, session: Session, source: str) -> set[str]:
        refs = self._open.get(source)
        if refs is None:
            refs = self._open[source] = set(
                session.execute(
                    select(QuarantinedItem.item_ref).where(
                        QuarantinedItem.store_id == self.store_id,
                        QuarantinedItem.resource == source,
                        QuarantinedItem.resolved_at.is_(None),
                    )
                ).scalars()
            )
        return refs

    def payload(self, raw: Any) -> tuple[str, int]:
        """The item as stored (secrets masked, cut to the bound) and its size before the cut."""
        text = json.dumps(self._redacted(raw, MAX_DEPTH), sort_keys=True, default=str)
        if len(text) <= MAX_PAYLOAD_CHARS:
            return text, len(text)
        return text[:MAX_PAYLOAD_CHARS] + _TRUNCATED, len(text)

    def _add_one(self, session: Session, item: Rejected, now: datetime) -> None:
        payload, size = self.payload(item.raw)
        reason = redact(item.reason)
        field = redact(item.field)[:255] if item.field else None
        existing = session.execute(
            select(QuarantinedItem).where(
                QuarantinedItem.store_id == self.store_id,
                QuarantinedItem.resource == item.source,
                QuarantinedItem.item_ref == item.ref,
            )
        ).scalar_one_or_none()
        if existing is None:
            session.add(
                QuarantinedItem(
                    store_id=self.store_id,
                    resource=item.source,
                    item_ref=item.ref,
                    payload=payload,
                    raw_size=size,
                    error=reason,
                    field=field,
                    first_seen=now,
                    last_seen=now,
                    count=1,
                )
            )
            session.flush()  # the same item twice in one page finds this row
            return
        existing.payload, existing.raw_size = payload, size
        existing.error, existing.field = reason, field
        existing.last_seen = now
        existing.count += 1
        existing.resolved_at = None

    def _redacted(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return redact(value)
        if isinstance(value, list | tuple):
            return [self._redacted(v, depth - 1) for v in value] if depth else "…(too deep)"
        if not isinstance(value, Mapping):
            return value if isinstance(value, int | float | bool) or value is None else str(value)
        if not depth:
            return "…(too deep)"
        named = value.get("key")
        secret_entry = isinstance(named, str) and _SECRET_NAME.search(named) is not None
        out: dict[str, Any] = {}
        for key, inner in value.items():
            name = redact(str(key))  # keys are the store's text too
            hidden = _SECRET_NAME.search(name) is not None or (secret_entry and name == "value")
            out[name] = (
                MASK if hidden and inner not in (None, "") else self._redacted(inner, depth - 1)
            )
        return out


def _bounded(value: Any, depth: int) -> Any:
    if isinstance(value, list | tuple):
        return [_bounded(v, depth - 1) for v in value] if depth else "…"
    if isinstance(value, Mapping):
        return {str(k): _bounded(v, depth - 1) for k, v in value.items()} if depth else "…"
    return value
