"""The one wrapper every resource module uses to talk to a WooCommerce store.

Each request goes through `sync.transport` (requests, signed the way WooCommerce checks keys,
bounded in total time and body size). This module adds what a sync needs on top: one shared
request pace per client, retries with backoff that honour `Retry-After`, redirects followed only
within the store's origin, JSON decoded within bounds (`sync.bounded_json`), typed errors
(`StoreUnavailable` retryable, `StoreRejected` and `StoreAnswerUnusable` not) and request counting.
Whatever a store answers, the caller gets a Page or one of those errors, with one line naming the
endpoint: never a traceback.

For: `sync.orders`, `sync.reviews`, `sync.comments`, `sync.customers`, `sync.coupons` and the
write-back. No message, log line or repr produced here carries the consumer key or secret: over http
the query string holds the key and the signature, so only endpoint paths are ever shown.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from sync import bounded_json
from sync.errors import (
    StoreAnswerTooComplex,
    StoreAnswerUnusable,
    StoreRejected,
    StoreUnavailable,
)
from sync.paging import MAX_PER_PAGE, Listing, require_list
from sync.store_clock import StoreClock
from sync.transport import (
    Answer,
    AnswerTooLarge,
    DeadlineExceeded,
    Transport,
    WooCommerceAuth,
)

log = logging.getLogger("sync.client")


class _RedactQuerySecrets(logging.Filter):
    """Masks OAuth and key parameters in urllib3's DEBUG lines, which print each request's query."""

    _PATTERN = re.compile(
        r"((?:oauth_consumer_key|oauth_signature|consumer_key|consumer_secret)=)[^&\s\"']*"
    )

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._PATTERN.sub(r"\1***", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _guard_urllib3_log() -> None:
    """urllib3 logs each request line and retry with the full URL; over http that has the key."""
    for name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry"):
        target = logging.getLogger(name)
        if not any(isinstance(f, _RedactQuerySecrets) for f in target.filters):
            target.addFilter(_RedactQuerySecrets())


RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 30.0
MIN_PACE_PER_SECOND = 0.2
AUTH_HINT = "check the consumer key and secret, and that the key has Read/Write permissions"
DEFAULT_MAX_RESPONSE_BYTES = 32 * 2**20
#: How much more than its size a body may take once decoded (a real page takes about 5 times).
DECODED_PER_RESPONSE_BYTE = 8
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_OAUTH_PARAMS = frozenset(
    {"oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature_method"}
    | {"oauth_signature", "oauth_version", "consumer_key", "consumer_secret"}
)

# Transport faults worth another attempt: the connection dropped, timed out, or the body was cut
# off mid-way.
# SSLError is a ConnectionError too, but a certificate problem does not heal by retrying.
_TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    http.client.IncompleteRead,
)

ParamValue = str | int | bool | Sequence[int | str]


@dataclass(frozen=True)
class ClientSettings:
    """How to reach one store; built by the sync from the typed config. Secrets stay out of repr."""

    url: str
    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    timeout: float = 30.0
    max_requests_per_second: float = 5.0
    max_retry_seconds: float = 120.0
    verify_tls: bool | str = True  # a path = CA bundle (the sandbox's TLS cert in tests)
    version: str = "wc/v3"
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES  # a larger body is refused unread
    #: True for WordPress's own routes (`wp/v2`): HTTP Basic with a user and its Application
    #: Password on any scheme, never WooCommerce's OAuth over http (which WordPress ignores).
    basic_auth: bool = False
    #: What a 401 tells the admin to check.
    auth_hint: str = AUTH_HINT
    #: At most this many requests in flight at once, whichever threads send them; the sync's
    #: listings and write-back keep this many going (`[store] concurrency`).
    concurrency: int = 1
    #: Items a request asks for or sends: per page of every listing, ids per `include=` read,
    #: customers per write-back batch (`[store] per_page`; at most 100).
    per_page: int = MAX_PER_PAGE


@dataclass(frozen=True)
class Page:
    """One decoded answer: `items` is the JSON (a list for collections, a dict for one object)."""

    items: Any
    total: int | None  # X-WP-Total
    total_pages: int | None  # X-WP-TotalPages
    status: int


class _Pacer:
    """At most `rate` request starts per second across every thread sharing the client.

    Each caller reserves the next free start slot under the lock and sleeps outside it, so threads
    never wait on each other's sleep and the slots stay evenly spaced.
    """

    def __init__(
        self, rate: float, sleep: Callable[[float], None], monotonic: Callable[[], float]
    ) -> None:
        if rate <= 0:
            raise ValueError(f"max_requests_per_second: expected a positive number, got {rate!r}")
        self._rate = rate
        self._sleep = sleep
        self._monotonic = monotonic
        self._next_start = monotonic()
        self._lock = threading.Lock()

    @property
    def rate(self) -> float:
        return self._rate

    def wait_for_slot(self) -> None:
        with self._lock:
            now = self._monotonic()
            start = max(now, self._next_start)
            self._next_start = start + 1.0 / self._rate
        if start > now:
            self._sleep(start - now)

    def slow_down(self) -> float:
        """Halve the pace for the rest of the client's life (never below the floor)."""
        with self._lock:
            self._rate = max(self._rate / 2, min(self._rate, MIN_PACE_PER_SECOND))
            return self._rate


#: How urgent the requests of this context are: 0 (the default) most, then 1, 2, ... When every
#: slot of `concurrency` is taken, a freed one goes to the most urgent request waiting.
_RANK: ContextVar[int] = ContextVar("request_rank", default=0)


@contextmanager
def ranked(rank: int) -> Iterator[None]:
    """Requests made in this block, and in the threads started from it (`sync.ahead` and
    `sync.window` start theirs in a copy of the starter's context), wait for a slot behind those
    of a lower rank. A sync ranks what it fetches ahead by when the ledger will need it: the
    listing being taken now first, then the ones after it in turn, so the store answers the
    pages the sync waits for before those it only holds."""
    token = _RANK.set(rank)
    try:
        yield
    finally:
        _RANK.reset(token)


class _Slots:
    """At most `size` requests in flight, whichever threads send them; a freed slot goes to the
    waiting request of the lowest rank (`ranked`), first come first served within a rank."""

    def __init__(self, size: int) -> None:
        self._free = max(1, size)
        self._waiting: list[tuple[int, int]] = []  # a heap of (rank, ticket)
        self._tickets = itertools.count()
        self._changed = threading.Condition()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._changed:
            me = (_RANK.get(), next(self._tickets))
            heapq.heappush(self._waiting, me)
            try:
                while not (self._free and self._waiting[0] == me):
                    self._changed.wait()
            except BaseException:
                self._waiting.remove(me)
                heapq.heapify(self._waiting)
                self._changed.notify_all()
                raise
            heapq.heappop(self._waiting)
            self._free -= 1
            if self._free and self._waiting:
                self._changed.notify_all()  # the next one in line may take a slot too
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._changed.notify_all()


@dataclass
class _Failure:
    """Why one attempt did not produce a page: a status or a transport error class."""

    what: str  # "HTTP 503" or "ConnectionError"
    retry_after: float | None = None


class StoreClient:
    """A thread-safe, paced, retrying client for one store's REST API.

    `sleep`, `monotonic`, `rng` and `wall_clock` are injectable so tests never wait for real.
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        _guard_urllib3_log()
        self._settings = settings
        # Keys never go in the query over https: they would end up in server and proxy logs.
        auth: AuthBase = (
            HTTPBasicAuth(settings.consumer_key, settings.consumer_secret)
            if settings.basic_auth
            else WooCommerceAuth(settings.consumer_key, settings.consumer_secret, settings.version)
        )
        self._transport = Transport(
            auth,
            timeout=settings.timeout,
            max_bytes=settings.max_response_bytes,
            verify_tls=settings.verify_tls,
        )
        self._origin = _Origin.of(settings.url)
        self._upgrade_noted = False
        self._sleep = sleep
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self._wall_clock = wall_clock
        self._pacer = _Pacer(settings.max_requests_per_second, sleep, monotonic)
        self._in_flight = _Slots(settings.concurrency)
        self._count_lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._secrets = tuple(s for s in (settings.consumer_key, settings.consumer_secret) if s)
        #: The store's time, from the Date header of the first response (see sync.store_clock).
        self.store_clock = StoreClock(monotonic=monotonic, wall_clock=wall_clock)

    def close(self) -> None:
        """Close its idle keep-alive connections (a run's end); a later request opens one again."""
        self._transport.close()

    def __repr__(self) -> str:
        return f"StoreClient(url={self._settings.url!r})"

    @property
    def requests_made(self) -> int:
        """Every HTTP attempt made so far, retries included."""
        with self._count_lock:
            return sum(self._counts.values())

    def requests_by_endpoint(self) -> dict[str, int]:
        """HTTP attempts per endpoint, keyed as the caller named it ("orders", "orders/727")."""
        with self._count_lock:
            return dict(self._counts)

    @property
    def concurrency(self) -> int:
        """How many requests this client keeps in flight at most (`ClientSettings.concurrency`)."""
        return max(1, self._settings.concurrency)

    @property
    def per_page(self) -> int:
        """Items per page, ids per `include=` read, customers per write-back batch (1 to 100)."""
        return min(MAX_PER_PAGE, max(1, self._settings.per_page))

    def listing(self, endpoint: str) -> Listing:
        """A new listing of `endpoint` (`sync.paging.Listing`), `per_page` items a page."""
        return Listing(self, endpoint, per_page=self.per_page)

    @property
    def pace(self) -> float:
        """The current request pace in requests per second (lowered by 429 answers)."""
        return self._pacer.rate

    def get(self, endpoint: str, params: Mapping[str, ParamValue] | None = None) -> Page:
        """GET `endpoint` (relative to /wp-json/{version}/) with query `params`."""
        return self._request("GET", endpoint, params=params)

    def get_list(self, endpoint: str, params: Mapping[str, ParamValue] | None = None) -> Page:
        """GET a collection: its answer must be a JSON array, else StoreAnswerUnusable."""
        page = self.get(endpoint, params)
        require_list(page.items, f"GET {self._path(endpoint.strip('/'))}")
        return page

    def get_by_ids(
        self,
        endpoint: str,
        ids: Iterable[int],
        params: Mapping[str, ParamValue] | None = None,
        *,
        unusable_missing: bool = False,
    ) -> list[Any]:
        """The items of collection `endpoint` among `ids` (`include=`), `per_page` a request.

        Ids the store does not have are simply absent from the result; an answer holding ids not
        asked for (or, unless `unusable_missing`, an item without a usable id) stops with
        `sync.paging.ListingStalled`; an item whose answer cannot be decoded even alone comes as
        `sync.paging.unreadable_item` (see `Listing.by_ids`).
        """
        found = self.listing(endpoint).by_ids(ids, params, unusable_missing=unusable_missing)
        return [item for items in found for item in items]

    def path_of(self, endpoint: str) -> str:
        """The endpoint's path for messages (`/wp-json/wc/v3/orders`): no host, no query."""
        return self._path(endpoint.strip("/"))

    def post(self, endpoint: str, data: Mapping[str, Any]) -> Page:
        """POST a JSON body. Retried like every call: creating endpoints must tolerate a replay."""
        return self._request("POST", endpoint, data=data)

    def put(self, endpoint: str, data: Mapping[str, Any]) -> Page:
        """PUT a JSON body."""
        return self._request("PUT", endpoint, data=data)

    def delete(self, endpoint: str, params: Mapping[str, ParamValue] | None = None) -> Page:
        """DELETE `endpoint` (WooCommerce wants `force=True` to delete instead of trashing)."""
        return self._request("DELETE", endpoint, params=params)

    # -- one request, with retries ---------------------------------------------------------------

    def _request(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, ParamValue] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Page:
        endpoint = endpoint.strip("/")
        path = self._path(endpoint)
        query = encode_params(params)
        deadline = self._monotonic() + self._settings.max_retry_seconds
        attempt = 0
        while True:
            attempt += 1
            outcome = self._attempt(method, endpoint, path, query, data)
            if isinstance(outcome, Page):
                return outcome
            delay = self._delay_before_retry(outcome, attempt, deadline)
            if delay is None:
                raise StoreUnavailable(
                    f"{method} {path}: store unavailable after {attempt} attempt(s) in "
                    f"{self._settings.max_retry_seconds:g}s; last: {outcome.what}"
                )
            log.info(
                "retrying %s %s in %.2fs (attempt %d failed: %s)",
                method,
                path,
                delay,
                attempt,
                outcome.what,
            )
            self._sleep(delay)

    def _attempt(
        self,
        method: str,
        endpoint: str,
        path: str,
        query: dict[str, str],
        data: Mapping[str, Any] | None,
    ) -> Page | _Failure:
        """One attempt: a request and the redirects within the store's origin it leads to."""
        url = f"{self._settings.url.rstrip('/')}/wp-json/{self._settings.version}/{endpoint}"
        params: dict[str, str] | None = query
        for _ in range(MAX_REDIRECTS + 1):
            with self._in_flight.held():
                self._pacer.wait_for_slot()
                self._count(endpoint)
                answer = self._exchange(method, path, url, params, data)
            if isinstance(answer, _Failure):
                return answer
            # A redirect is not the store's answer yet (one outside its origin is refused here):
            # its clock, which the listings started ahead wait for, comes from the final one.
            target = self._redirect_target(method, path, answer)
            if target is None:
                self.store_clock.observe(answer.headers.get("Date"))
                return self._interpret(method, path, answer)
            url, params = target, None  # the Location carries the query
        raise StoreAnswerUnusable(
            f"{method} {path}: the store redirected more than {MAX_REDIRECTS} times"
        )

    def _exchange(
        self,
        method: str,
        path: str,
        url: str,
        params: dict[str, str] | None,
        data: Mapping[str, Any] | None,
    ) -> Answer | _Failure:
        body = dict(data or {}) if method in ("POST", "PUT") else None
        try:
            return self._transport.exchange(method, url, params=params, body=body)
        except DeadlineExceeded:
            return _Failure(f"no complete answer within {self._transport.timeout:g}s")
        except AnswerTooLarge as too_large:
            declared = "" if too_large.declared is None else f" ({_mb(too_large.declared)} sent)"
            raise StoreAnswerTooComplex(
                f"{method} {path}: the answer is larger than the {_mb(too_large.limit)} limit on"
                f" one answer{declared}; raise [store] max_response_mb if the store is right"
            ) from None
        except requests.exceptions.SSLError:
            raise StoreUnavailable(
                f"{method} {path}: TLS verification failed (check the store's certificate "
                "or the CA bundle configured for it)"
            ) from None
        except _TRANSIENT_ERRORS as exc:
            # Its text holds the full URL (with the OAuth key over http): keep the class only.
            return _Failure(type(exc).__name__)
        except requests.exceptions.RequestException as exc:
            raise StoreUnavailable(
                f"{method} {path}: request failed: {type(exc).__name__}"
            ) from None

    def _redirect_target(self, method: str, path: str, answer: Answer) -> str | None:
        """Where a redirect within the store's origin leads (its OAuth parameters removed), or
        None when `answer` is no redirect. A redirect elsewhere is refused: the next request
        would carry the credentials there."""
        location = answer.headers.get("Location")
        if answer.status_code not in REDIRECT_STATUSES or not location:
            return None
        target = urljoin(answer.url, location.strip())
        origin = _Origin.of(target)
        if origin is None or self._origin is None or not self._origin.allows(origin):
            shown = origin.display if origin is not None else "an unusable address"
            raise StoreAnswerUnusable(
                f"{method} {path}: the store redirected (HTTP {answer.status_code}) to {shown},"
                f" outside {self._origin.display if self._origin else 'its origin'}; redirects"
                " are followed only within the store's own origin (http to https allowed):"
                " check [store] url"
            )
        if method != "GET" and answer.status_code == 303:  # "see other": not a place to send to
            raise StoreAnswerUnusable(
                f"{method} {path}: the store answered HTTP 303 (see other) to a {method}: set"
                " [store] url to the address the store expects"
            )
        if origin.scheme != self._origin.scheme and not self._upgrade_noted:
            self._upgrade_noted = True
            log.warning(
                "the store redirects http:// to https://; set [store] url to %s to save a"
                " request each time",
                origin.display,
            )
        return _without_auth_params(target)

    def _interpret(self, method: str, path: str, response: Answer) -> Page | _Failure:
        status = response.status_code
        if status in RETRYABLE_STATUSES:
            retry_after = None
            if status in RETRY_AFTER_STATUSES:
                retry_after = self._retry_after_seconds(response.headers.get("Retry-After"))
            if status == 429:
                pace = self._pacer.slow_down()
                log.info("%s %s: rate limited (429); pace lowered to %.2f/s", method, path, pace)
            return _Failure(f"HTTP {status}", retry_after)
        if 500 <= status < 600:
            raise StoreUnavailable(f"{method} {path}: store answered HTTP {status}")
        if not 200 <= status < 300:
            raise self._rejection(method, path, response)
        if status == 204:
            return Page(items=None, total=None, total_pages=None, status=status)
        try:
            items = bounded_json.decode(response.content, max_memory=self._max_decoded)
        except bounded_json.JsonTooComplex as problem:
            raise StoreAnswerTooComplex(f"{method} {path}: {problem}") from None
        except bounded_json.NotJson as problem:  # a truncated or malformed page: a transport fault
            return _Failure(f"HTTP {status} with an undecodable JSON body ({problem})")
        if _is_error_body(items):  # a maintenance or security plugin answering 200
            code, message = _error_fields(items)
            raise StoreRejected(
                f"{method} {path}: the store answered an error with status {status}:"
                f" {self._scrub(f'{code}: {message}')}",
                status=status,
                code=code,
            )
        return Page(
            items=items,
            total=_int_header(response, "X-WP-Total"),
            total_pages=_int_header(response, "X-WP-TotalPages"),
            status=status,
        )

    def _delay_before_retry(self, failure: _Failure, attempt: int, deadline: float) -> float | None:
        """Seconds to wait before the next attempt, or None when the budget does not allow one."""
        remaining = deadline - self._monotonic()
        if remaining <= 0:
            return None
        if failure.retry_after is not None:
            # The store named a time: retrying earlier is pointless, so give up if it is too late.
            return failure.retry_after if failure.retry_after <= remaining else None
        ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        with self._rng_lock:
            delay = self._rng.uniform(0, ceiling)  # full jitter
        return min(delay, remaining)

    def _retry_after_seconds(self, value: str | None) -> float | None:
        """`Retry-After` in seconds from now (delta-seconds or an HTTP date); None if absent/bad."""
        if value is None or not value.strip():
            return None
        value = value.strip()
        if value.isascii() and value.isdigit():
            return float(value)
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - self._wall_clock()).total_seconds())

    def _rejection(self, method: str, path: str, response: Answer) -> StoreRejected:
        status = response.status_code
        code, message = self._error_body(response)
        detail = f"{code}: {message}" if code else message
        text = f"{method} {path} rejected with HTTP {status}: {self._scrub(detail)}"
        if status == 401:
            text = f"{text} ({self._settings.auth_hint})"
        return StoreRejected(text, status=status, code=code)

    # -- small helpers ---------------------------------------------------------------------------

    @property
    def _max_decoded(self) -> int:
        return self._settings.max_response_bytes * DECODED_PER_RESPONSE_BYTE

    def _error_body(self, response: Answer) -> tuple[str | None, str]:
        """The WooCommerce error `code` and `message` of a `{code, message, data}` body, if any."""
        try:
            body = bounded_json.decode(response.content, max_memory=self._max_decoded)
        except (bounded_json.NotJson, bounded_json.JsonTooComplex):
            body = None
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return _error_fields(body)
        return None, "the answer is not a WooCommerce error body"

    def _path(self, endpoint: str) -> str:
        """The endpoint's path for messages: never the full URL, never a query string."""
        return f"/wp-json/{self._settings.version}/{endpoint.split('?', 1)[0]}"

    def _count(self, endpoint: str) -> None:
        with self._count_lock:
            self._counts[endpoint.split("?", 1)[0]] += 1

    def _scrub(self, text: str) -> str:
        """Mask the key and secret should a store ever echo them back in an error message."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def encode_params(params: Mapping[str, ParamValue] | None) -> dict[str, str]:
    """Query parameters as the store and the OAuth signature both expect them: all strings.

    Sequences become comma-separated strings (the OAuth signer signs a Python list
    differently from how requests sends it, and the store answers 401); bools become true/false.
    """
    encoded: dict[str, str] = {}
    for name, value in (params or {}).items():
        if isinstance(value, bool):
            encoded[name] = "true" if value else "false"
        elif isinstance(value, int | str):
            encoded[name] = str(value)
        elif isinstance(value, Sequence) and all(
            isinstance(v, int | str) and not isinstance(v, bool) for v in value
        ):
            encoded[name] = ",".join(str(v) for v in value)
        else:
            raise ValueError(
                f"query parameter {name}: expected a string, int, bool or a sequence of "
                f"ints/strings, got {type(value).__name__}"
            )
    return encoded


def _int_header(response: Answer, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


_MAX_MESSAGE = 300
_WHITESPACE = re.compile(r"\s+")


def _is_error_body(body: Any) -> bool:
    """A WooCommerce (WP_Error) body: `code` and `message`, and no `id` as every object has."""
    return (
        isinstance(body, dict)
        and isinstance(body.get("code"), str)
        and "message" in body
        and "id" not in body
    )


def _error_fields(body: dict[str, Any]) -> tuple[str, str]:
    message = body.get("message")
    text = message if isinstance(message, str) else ""
    code = _WHITESPACE.sub(" ", body["code"]).strip()[:_MAX_MESSAGE]
    return code, _WHITESPACE.sub(" ", text).strip()[:_MAX_MESSAGE]


def _mb(size: int) -> str:
    return f"{size / 2**20:.3g} MB"


@dataclass(frozen=True)
class _Origin:
    """scheme://host:port of a URL, for deciding which redirects stay with the store."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> _Origin | None:
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:  # a port out of range, a malformed IPv6 address
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        return cls(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80))

    @property
    def display(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def allows(self, target: _Origin) -> bool:
        """Same host; same scheme and port, or an upgrade from http to https."""
        if target.host != self.host:
            return False
        if (target.scheme, target.port) == (self.scheme, self.port):
            return True
        return self.scheme == "http" and target.scheme == "https"


def _without_auth_params(url: str) -> str:
    """`url` without OAuth or key parameters: a redirect's Location may echo our signed query."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    kept = [(k, v) for k, v in query if k not in _OAUTH_PARAMS]
    return urlunsplit(parts._replace(query=urlencode(kept), fragment=""))
