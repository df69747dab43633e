"""A small hostile store for tests: a WooCommerce URL whose answers are broken on purpose.

Each behaviour is one answer real hosts (or something in front of them) have given. The chosen
endpoint (every endpoint by default) answers with it; the others answer an empty page, so a sync
gets as far as that endpoint. Served by `http.server` on a free loopback port, in a daemon thread;
`stop()` ends every answer still streaming. Every request is recorded (method, path, query,
headers) so a test can tell what reached this host.

    with HostileStore("nested", endpoint="orders") as store:
        ... store.base_url ...
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MB = 2**20
API_PREFIX = "/wp-json/wc/v3/"

#: Each behaviour and what it does; tests parametrize over these names.
BEHAVIOURS = {
    "endless": "200, then a JSON array that never ends, as fast as the socket takes it",
    "drip": "200 headers at once, then the body one byte every `drip_seconds`",
    "drip_headers": "the status line and headers themselves one byte every `drip_seconds`",
    "big_array": "a `big_mb` MB JSON array of small orders, with its Content-Length",
    "big_array_chunked": "the same array in chunked encoding, no length announced",
    "dense": "a `dense_mb` MB array of empty arrays: small to send, huge once decoded",
    "maintenance": "200 with a WooCommerce error body, as maintenance plugins answer",
    "nested": "a JSON array nested 100,000 levels deep",
    "object": "a JSON object where a list of items belongs",
    "string": "a JSON string where a list of items belongs",
    "null": "JSON null where a list of items belongs",
    "redirect": "301 to `redirect_to` (the path and query kept)",
}

_ORDER = b'{"id":1,"status":"completed","total":"10.00","date_modified_gmt":"2024-01-01T00:00:00"}'
_MAINTENANCE = {
    "code": "rest_maintenance",
    "message": "Briefly unavailable for scheduled maintenance. Check back in a minute.",
    "data": {"status": 503},
}


@dataclass(frozen=True)
class Seen:
    """One request as this host received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str] = field(repr=False)


class HostileStore:
    """A WooCommerce-looking HTTP server answering `behaviour` on `endpoint` (None: everywhere)."""

    def __init__(
        self,
        behaviour: str,
        *,
        endpoint: str | None = None,
        host: str = "127.0.0.1",
        drip_seconds: float = 0.2,
        big_mb: int = 50,
        dense_mb: int = 24,
        redirect_to: str | None = None,
    ) -> None:
        if behaviour not in BEHAVIOURS and behaviour != "empty":
            raise ValueError(f"unknown behaviour {behaviour!r} (known: {', '.join(BEHAVIOURS)})")
        if behaviour == "redirect" and not redirect_to:
            raise ValueError("the redirect behaviour needs redirect_to")
        self.behaviour = behaviour
        self.endpoint = endpoint
        self.drip_seconds = drip_seconds
        self.big_mb = big_mb
        self.dense_mb = dense_mb
        self.redirect_to = redirect_to
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _Server((host, 0), _Handler)
        self._httpd.store = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HostileStore:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and end every answer still being sent."""
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> HostileStore:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def is_target(self, path: str) -> bool:
        if not path.startswith(API_PREFIX):
            return False
        return self.endpoint is None or path[len(API_PREFIX) :] == self.endpoint


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    store: HostileStore

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the store records requests itself."""

    def _serve(self) -> None:
        store = self.server.store
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        store.record(
            Seen(self.command, split.path, dict(parse_qsl(split.query)), dict(self.headers))
        )
        if not store.is_target(split.path) or store.behaviour == "empty":
            self._empty(split.path)
            return
        with contextlib.suppress(OSError):  # the client gave up: that is the point
            _ANSWERS[store.behaviour](self, store)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    # -- plain answers -------------------------------------------------------------------------

    def _empty(self, path: str) -> None:
        body = b'{"create":[],"update":[],"delete":[]}' if path.endswith("/batch") else b"[]"
        self.answer(200, body, {"X-WP-Total": "0", "X-WP-TotalPages": "0"})

    def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def start_stream(self, *, chunked: bool = False, length: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is not None:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")  # the body ends when the socket does
            self.close_connection = True
        self.end_headers()

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


# -- the behaviours ------------------------------------------------------------------------------


def _endless(handler: _Handler, store: HostileStore) -> None:
    handler.start_stream()
    handler.wfile.write(b"[")
    block = (_ORDER + b",") * 1000
    while not store.stopping.is_set():
        handler.wfile.write(block)


def _drip(handler: _Handler, store: HostileStore) -> None:
    body = b"[" + b",".join([_ORDER] * 1000) + b"]"
    handler.start_stream(length=len(body))
    handler.wfile.flush()
    for byte in body:
        if store.stopping.wait(store.drip_seconds):
            return
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()


def _drip_headers(handler: _Handler, store: HostileStore) -> None:
    handler.close_connection = True
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"a" * 60_000
    for byte in head:
        if store.stopping.wait(store.drip_seconds):
            return
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()


def _big_array(handler: _Handler, store: HostileStore, *, chunked: bool) -> None:
    block = (_ORDER + b",") * (MB // (len(_ORDER) + 1))
    blocks = store.big_mb * MB // len(block)
    length = 1 + blocks * len(block) + len(_ORDER) + 1
    handler.start_stream(chunked=chunked, length=None if chunked else length)
    parts = [b"[", *([block] * blocks), _ORDER + b"]"]
    for part in parts:
        if store.stopping.is_set():
            return
        if chunked:
            handler.write_chunk(part)
        else:
            handler.wfile.write(part)
    if chunked:
        handler.wfile.write(b"0\r\n\r\n")


def _dense(handler: _Handler, store: HostileStore) -> None:
    count = store.dense_mb * MB // 3
    handler.answer(200, b"[" + b"[]," * count + b"[]]", {"X-WP-Total": str(count + 1)})


def _redirect(handler: _Handler, store: HostileStore) -> None:
    assert store.redirect_to is not None
    handler.send_response(301)
    handler.send_header("Location", store.redirect_to.rstrip("/") + handler.path)
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def _json(value: Any) -> Callable[[_Handler, HostileStore], None]:
    return lambda handler, store: handler.answer(200, json.dumps(value).encode())


_ANSWERS: dict[str, Callable[[_Handler, HostileStore], None]] = {
    "endless": _endless,
    "drip": _drip,
    "drip_headers": _drip_headers,
    "big_array": lambda h, s: _big_array(h, s, chunked=False),
    "big_array_chunked": lambda h, s: _big_array(h, s, chunked=True),
    "dense": _dense,
    "maintenance": _json(_MAINTENANCE),
    "nested": lambda h, s: h.answer(200, b"[" * 100_000 + b"]" * 100_000),
    "object": _json({"id": 1, "orders": []}),
    "string": _json("orders"),
    "null": _json(None),
    "redirect": _redirect,
}
