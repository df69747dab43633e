"""One HTTP exchange with a store: signed, bounded in time and in size.

For `sync.client`, which adds pacing, retries, redirects and what statuses mean. Built on
`requests`, with what it lacks for talking to a server that may be broken or hostile:

- `WooCommerceAuth`, a requests auth object: HTTP Basic over https, OAuth 1.0a over plain http,
  exactly as WooCommerce checks them. The signature itself comes from the official `woocommerce`
  package's `OAuth` class: that is all this project uses of it.
- A total deadline per exchange. `requests` timeouts apply to each socket read, so a server sending
  a byte every few seconds never trips them. Here a timer shuts the exchange's socket at the
  deadline, which ends any read blocked on it, whether in the headers or in the body. The socket
  is found through urllib3's documented extension points (a pool's `ConnectionCls`, the pool
  classes of a pool manager), mounted on our own sessions only: nothing is patched. (Through an
  HTTP proxy from the environment, the deadline is checked between reads of the body only.)
- A cap on the body: a declared `Content-Length` above it is refused before reading, and the body
  is read in chunks that stop at the cap (after decompression, so a small gzip bomb is refused too).

Redirects are never followed here (`allow_redirects=False`): the client decides which are safe.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from woocommerce.oauth import OAuth

CHUNK_BYTES = 64 * 1024
USER_AGENT = "woo-loyalty"


class DeadlineExceeded(Exception):
    """The exchange had no complete answer within its total deadline."""


class AnswerTooLarge(Exception):
    """The body is larger than the cap; `declared` is its Content-Length when it said one."""

    def __init__(self, limit: int, declared: int | None) -> None:
        super().__init__(f"the answer is larger than {limit} bytes")
        self.limit = limit
        self.declared = declared


@dataclass(frozen=True)
class Answer:
    """A complete answer: status, headers and the whole (decompressed) body."""

    status_code: int
    headers: CaseInsensitiveDict[str]
    content: bytes = field(repr=False)
    url: str = field(repr=False)  # the URL asked, query included (OAuth signature over http)


class WooCommerceAuth(AuthBase):
    """WooCommerce's REST API key authentication, chosen per request by the URL's scheme.

    Over https, HTTP Basic. Over http, where WooCommerce refuses Basic, a one-legged OAuth 1.0a
    HMAC-SHA256 signature in the query string (computed by `woocommerce.oauth.OAuth`).
    """

    def __init__(self, consumer_key: str, consumer_secret: str, version: str) -> None:
        self._key = consumer_key
        self._secret = consumer_secret
        self._version = version

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        url = str(request.url)
        if urlsplit(url).scheme == "https":
            return HTTPBasicAuth(self._key, self._secret)(request)
        request.url = OAuth(
            url=url,
            consumer_key=self._key,
            consumer_secret=self._secret,
            version=self._version,
            method=str(request.method),
            oauth_timestamp=int(time.time()),
        ).get_oauth_url()
        return request

    def __repr__(self) -> str:
        return "WooCommerceAuth(***)"


class Transport:
    """Sends one request and returns its complete answer, within `timeout` seconds in total and
    `max_bytes` of body. Thread-safe: each exchange borrows a keep-alive session of its own (see
    `_Sessions`)."""

    def __init__(
        self, auth: AuthBase, *, timeout: float, max_bytes: int, verify_tls: bool | str
    ) -> None:
        self._auth = auth
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._verify = verify_tls
        self._sessions = _Sessions()

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    def exchange(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Answer:
        """Send and read the whole answer. Raises DeadlineExceeded, AnswerTooLarge, or one of
        requests' exceptions (their text may hold the URL: never show it)."""
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json; charset=utf-8"
        # The session goes back to the stack only once the watch is closed: a deadline passing
        # after that can never shut a connection another exchange has borrowed since.
        with self._sessions.lent() as session:
            watch = _Watch(self._timeout)
            _current.watch = watch
            try:
                with session.request(
                    method,
                    url,
                    params=params,
                    data=data,
                    headers=headers,
                    auth=self._auth,
                    timeout=self._timeout,  # per read; the watch bounds the whole exchange
                    verify=self._verify,
                    allow_redirects=False,
                    stream=True,
                ) as response:
                    content = b"" if response.is_redirect else self._read(response, watch)
                    answer = Answer(
                        response.status_code, response.headers, content, str(response.request.url)
                    )
            except requests.exceptions.RequestException:
                if watch.expired:
                    raise DeadlineExceeded from None
                raise
            finally:
                watch.close()
                _current.watch = None
            if watch.expired:  # a body without a length ends at the shutdown, as if complete
                raise DeadlineExceeded  # (and the session, its connection shut, is not lent again)
        return answer

    def close(self) -> None:
        """Close the idle keep-alive sessions (and their connections); exchanges may still follow."""
        self._sessions.close()

    def _read(self, response: requests.Response, watch: _Watch) -> bytes:
        declared = _content_length(response)
        if declared is not None and declared > self._max_bytes:
            raise AnswerTooLarge(self._max_bytes, declared)
        body = bytearray()
        for chunk in response.iter_content(CHUNK_BYTES):
            body += chunk
            if len(body) > self._max_bytes:
                raise AnswerTooLarge(self._max_bytes, declared)
            if watch.expired:
                raise DeadlineExceeded
        return bytes(body)


class _Sessions:
    """Keep-alive sessions, each lent to one exchange at a time and taken back after it.

    A sync's requests come from many short-lived threads (one a call ahead, see `sync.ahead`), so a
    session per thread opened a connection, and over https a TLS handshake, for most requests: 54
    connections for the 154 requests of a 10,000-order sync, about 460 at 100,000. Lent from a
    shared stack instead, the sessions are as many as the requests ever in flight at once (the
    client's `concurrency`), each connection reused by whichever thread asks next. A session whose
    exchange failed is closed, not lent again (its connection may be half-read or shut).
    """

    #: Idle sessions kept: more than the client ever has in flight (`concurrency` is at most 10).
    MAX_IDLE = 16

    def __init__(self) -> None:
        self._idle: list[requests.Session] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lent(self) -> Iterator[requests.Session]:
        with self._lock:
            session = self._idle.pop() if self._idle else None
        if session is None:
            session = _new_session()
        try:
            yield session
        except BaseException:
            session.close()
            raise
        with self._lock:
            if len(self._idle) < self.MAX_IDLE:
                self._idle.append(session)
                return
        session.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for session in idle:
            session.close()


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = _WatchedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _content_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length", "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


# -- the deadline ---------------------------------------------------------------------------------

_current = threading.local()  # the calling thread's _Watch, seen by the connection it uses


class _Watch:
    """Shuts the socket of one exchange when its deadline passes, ending any blocked read."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._connection: HTTPConnection | None = None
        self.closed = False
        self.expired = False
        self.deadline = time.monotonic() + seconds
        _watchdog.add(self)

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            self._connection = connection
            if self.expired:
                _shut(connection)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._connection = None  # the watchdog may hold this watch until its deadline

    def expire(self) -> None:
        with self._lock:
            if self.closed:  # finished in time: the connection may already serve another request
                return
            self.expired = True
            if self._connection is not None:
                _shut(self._connection)


class _Watchdog:
    """One thread expires every exchange's watch at its deadline (a timer thread per exchange cost
    a thread start, about 0.1 ms of CPU, on every request). Watches closed in time stay in the
    heap until their deadline, doing nothing; the thread ends after IDLE_SECONDS without any, and
    starts again with the next exchange."""

    IDLE_SECONDS = 5.0

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, watch: _Watch) -> None:
        with self._condition:
            heapq.heappush(self._heap, (watch.deadline, next(self._order), watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="deadline-watchdog", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:  # sooner than what the thread waits for
                self._condition.notify()

    def _run(self) -> None:
        with self._condition:
            while True:
                now = time.monotonic()
                while self._heap and (self._heap[0][2].closed or self._heap[0][0] <= now):
                    heapq.heappop(self._heap)[2].expire()  # nothing if it closed in time
                if self._heap:
                    self._condition.wait(self._heap[0][0] - now)
                elif not self._condition.wait(self.IDLE_SECONDS) and not self._heap:
                    self._thread = None
                    return


_watchdog = _Watchdog()
# A forked process (a worker) starts with a fresh watchdog: the parent's thread is not in it.
os.register_at_fork(after_in_child=lambda: globals().update(_watchdog=_Watchdog()))


def _shut(connection: HTTPConnection) -> None:
    sock = connection.sock
    if sock is None:  # still connecting: the connect timeout bounds that
        return
    with contextlib.suppress(OSError):  # already closed
        # socket.socket's own shutdown, also for a TLS socket: it wakes the reader at once.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watch_current(connection: HTTPConnection) -> None:
    watch: _Watch | None = getattr(_current, "watch", None)
    if watch is not None:
        watch.watch(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_current(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_current(self)
        super().request(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connections the deadline watch can reach."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS
