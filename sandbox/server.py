"""The sandbox store's HTTP server: WooCommerce's wc/v3 and WordPress's wp/v2 over a `SandboxStore`.

For tests, the demo and owners' dry runs: start it on a free port, give a client `base_url` and the
credentials, and it answers as a WooCommerce store would (routes under `/wp-json/wc/v3/...` and
`/wp-json/wp/v2/...`, authentication, paging headers, error bodies, JSON with escaped slashes).

    with SandboxServer(store, consumer_key=ck, consumer_secret=cs,
                       wp_username="admin", wp_app_password=pw) as server:
        API(url=server.base_url, consumer_key=ck, consumer_secret=cs).get("orders")

This module holds the HTTP plumbing and the server's lifecycle: binding, TLS, serving threads,
latency and injected faults, the request log. The routes live elsewhere: the REST layer in
`sandbox.rest` and the control API under `/sandbox` in `sandbox.control`, each serving the routes
the resource modules declare (`sandbox.routes`); requests and responses in `sandbox.messages`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from sandbox import faults as fl
from sandbox.auth import ApiKey, Authenticator, WpUser, php_parse_str
from sandbox.control import ControlApi
from sandbox.faults import FaultConfig, FaultDecision, FaultInjector
from sandbox.messages import (
    SECRET_PARAMS,
    Request,
    Response,
    encode_json,
    error_response,
    public_query,
)
from sandbox.overrides import ServedOverrides
from sandbox.request_log import RequestLog, RequestRecord
from sandbox.rest import RestApi
from sandbox.routes import CONTROL_ROUTES, REST_ROUTES
from sandbox.store import SandboxStore
from sandbox.tls import TlsMaterial, generate_tls

__all__ = [
    "SECRET_PARAMS",
    "BeforeRequest",
    "ControlApi",
    "Request",
    "RequestLog",
    "RequestRecord",
    "Response",
    "RestApi",
    "SandboxServer",
    "encode_json",
    "error_response",
    "public_query",
]

logger = logging.getLogger(__name__)

Json = dict[str, Any]
#: Called with the method, path and query before an API request is served (it may change the
#: store, or wait). It may return faults (the `--faults` syntax: "repeat_page=1") for this request
#: alone: `set_faults` reaches whichever request decides next, and requests are served in threads.
BeforeRequest = Callable[[str, str, dict[str, Any]], str | None]
#: Called with the method, path, query and the answer's status once the store has acted on an API
#: request and before the answer goes out (tests hold an answer there: "the store did it, the
#: client never heard").
AfterRequest = Callable[[str, str, dict[str, Any], int], None]


class SandboxServer:
    """A threaded HTTP(S) server for one store; `start()` serves in a daemon thread, `stop()` ends it."""

    def __init__(
        self,
        store: SandboxStore,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        consumer_key: str,
        consumer_secret: str,
        read_only_keys: Sequence[tuple[str, str]] = (),
        wp_username: str,
        wp_app_password: str,
        tls: bool = False,
        latency_ms: int = 0,
        faults: FaultConfig | None = None,
        fault_seed: int = 0,
        auth_clock: Callable[[], float] = time.time,
        clock_skew_seconds: int = 0,
    ) -> None:
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {latency_ms}")
        self.store = store
        self.host = host
        self.tls = tls
        self.latency_ms = latency_ms
        self.request_log = RequestLog()
        self.before_request: BeforeRequest | None = None
        self.after_request: AfterRequest | None = None
        self.overrides = ServedOverrides()  # broken items served instead of real ones, for tests
        self._port = port
        self._keys = [ApiKey(consumer_key, consumer_secret)] + [
            ApiKey(ck, cs, permissions="read") for ck, cs in read_only_keys
        ]
        self._wp_user = WpUser(wp_username, wp_app_password)
        self.authenticator = Authenticator(self._keys, self._wp_user, clock=auth_clock)
        self.injector = FaultInjector(faults, seed=fault_seed)
        self.set_clock_skew(clock_skew_seconds)
        # Per listing route, the last page served: what a `repeat_page` fault answers with.
        #: The last page served per listing: route and `status` (a sync lists live and trashed
        #: orders at once, and a proxy caching by URL keeps them apart).
        self._last_pages: dict[tuple[str, str], Response] = {}
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._tls_material: TlsMaterial | None = None
        self._lock = threading.Lock()
        self.rest = RestApi(self, REST_ROUTES)
        self.control = ControlApi(self, CONTROL_ROUTES)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        """Bind and serve in a daemon thread; returns self. Raises if already started."""
        with self._lock:
            if self._httpd is not None:
                raise RuntimeError("the sandbox server is already running")
            self.store.build_indexes()
            context = None
            if self.tls:
                self._tls_material = generate_tls()
                context = self._tls_material.server_context()
            self._httpd = _HttpServer((self.host, self._port), self, context)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},  # how soon stop() is noticed
                name="sandbox-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and remove the TLS files. Idempotent."""
        with self._lock:
            httpd, thread, self._httpd, self._thread = self._httpd, self._thread, None, None
            if httpd is not None:
                httpd.shutdown()
                httpd.close_connections()
                httpd.server_close()
            if thread is not None:
                thread.join(timeout=10)
            if self._tls_material is not None:
                self._tls_material.remove()
                self._tls_material = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what clients need ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (the configured one, maybe 0, before start())."""
        return int(self._httpd.server_address[1]) if self._httpd is not None else self._port

    @property
    def base_url(self) -> str:
        """The store URL a client is given (WordPress's home_url): scheme://host:port."""
        host = self.host if self.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/wp-json"

    @property
    def ca_bundle(self) -> str | None:
        """The CA certificate (PEM path) to trust in TLS mode, e.g. requests' `verify=`."""
        return str(self._tls_material.ca_bundle) if self._tls_material else None

    def credentials(self) -> Json:
        """What a client needs to connect, secrets included (for the control API and the CLI)."""
        key = self._keys[0]
        return {
            "base_url": self.base_url,
            "consumer_key": key.consumer_key,
            "consumer_secret": key.consumer_secret,
            "read_only_keys": [
                {"consumer_key": k.consumer_key, "consumer_secret": k.consumer_secret}
                for k in self._keys[1:]
            ],
            "wp_username": self._wp_user.username,
            "wp_app_password": self._wp_user.app_password,
            "ca_bundle": self.ca_bundle,
        }

    def set_faults(self, faults: FaultConfig | str | None, *, seed: int | None = None) -> None:
        """Switch faults at run time (a config, a spec string, or None for off); a seed restarts
        the draw sequence."""
        config = FaultConfig.parse(faults) if isinstance(faults, str) else faults or FaultConfig()
        self.injector.configure(config, seed=seed)

    def set_clock_skew(self, seconds: float) -> None:
        """Run the shop server's clock `seconds` off (negative: behind): its stamps and its Date."""
        self.store.clock_skew = timedelta(seconds=seconds)

    def date_header(self) -> str:
        """The Date header of an answer, on the store's (possibly skewed) clock."""
        return formatdate(self.store.now().timestamp(), usegmt=True)

    # --- one request ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (without the socket): control API, REST API or a plain 404."""
        if request.path == "/sandbox" or request.path.startswith("/sandbox/"):
            return self.control.dispatch(request)
        if request.path == "/wp-json" or request.path.startswith("/wp-json/"):
            response = self._api(request)
            if self.after_request is not None:
                query = public_query(request.query)
                self.after_request(request.method, request.path, query, response.status)
            return response
        page = b"<!doctype html><title>Page not found</title><h1>Not Found</h1>"
        return Response(404, page, {"Content-Type": "text/html; charset=UTF-8"})

    def _api(self, request: Request) -> Response:
        hook, faults = self.before_request, None
        if hook is not None:
            faults = hook(request.method, request.path, public_query(request.query))
        # A hook's faults are this request's alone, their settings too (`hostile_body`...).
        config = FaultConfig.parse(faults) if faults else self.injector.config
        decision = self.injector.decide(config)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if decision.kind in ("5xx", "429"):
            status, headers, body = fl.error_response(decision, config)
            return Response(status, body, headers, fault=decision.kind)
        if decision.kind == "hostile":
            status, headers, body = fl.hostile_response(decision, config, request.path)
            return Response(status, body, headers, fault="hostile")
        if decision.kind == "slow":
            time.sleep(config.slow_ms / 1000)
        listing = request.method == "GET"
        cached = (request.path, str(request.query.get("status", "")))
        if decision.kind == "repeat_page" and listing and cached in self._last_pages:
            # A caching proxy: the last page of this route again, whatever the query asked.
            return replace(self._last_pages[cached], fault="repeat_page")
        response = self.rest.dispatch(request, decision)
        if listing and response.status == 200 and "X-WP-Total" in response.headers:
            self._last_pages[cached] = replace(response, headers=dict(response.headers))
        return _apply_fault(response, decision)


def _apply_fault(response: Response, decision: FaultDecision) -> Response:
    if decision.kind == "slow":
        response.fault = "slow"
    elif decision.kind == "malformed" and response.status == 200:
        response.body, response.fault = fl.malformed_body(response.body, decision), "malformed"
    elif decision.kind == "drop":
        response.drop_at, response.fault = fl.drop_point(response.body, decision), "drop"
    return response


# --- the socket side --------------------------------------------------------------------------


class _HttpServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with per-thread TLS handshakes and connection tracking for stop()."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], app: SandboxServer, context: ssl.SSLContext | None
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        self.context = context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def close_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for sock in open_now:
            with contextlib.suppress(OSError):  # already closed by the peer
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug(
            "sandbox connection from %s ended with an error", client_address, exc_info=True
        )


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, lets the SandboxServer answer it, writes the answer (or drops it)."""

    protocol_version = "HTTP/1.1"
    server_version = "Apache"
    sys_version = ""
    timeout = 30  # idle keep-alive connections close after this many seconds
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK cost 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):  # the client or a drop fault closed the socket first
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the RequestLog records requests, and query strings may carry credentials."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header: the store's clock, so `--clock-skew` shifts it as it shifts stamps."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return self.server.app.date_header()

    def _serve(self) -> None:
        in_flight = self.server.app.request_log.arrived()
        try:
            self._answer(in_flight)
        finally:
            self.server.app.request_log.answered()

    def _answer(self, in_flight: int) -> None:
        started, cpu_started = time.perf_counter(), time.thread_time()
        app = self.server.app
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=split.path,
            query=php_parse_str(split.query),
            headers=self.headers,
            body=self._read_body(),
            is_ssl=app.tls,
        )
        try:
            response = app.handle(request)
        except Exception:
            logger.exception("sandbox server failed on %s %s", request.method, request.path)
            response = Response.json(500, _INTERNAL_ERROR)
        # Recorded before the answer goes out: a client that has its answer can count on the log.
        duration = (time.perf_counter() - started) * 1000
        app.request_log.record(
            RequestRecord(
                method=request.method,
                path=request.path,
                query=public_query(request.query),
                status=response.status,
                duration_ms=round(duration, 3),
                cpu_ms=round((time.thread_time() - cpu_started) * 1000, 3),
                fault=response.fault,
                in_flight=in_flight,
            )
        )
        self._write(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        body = b"" if self.command == "HEAD" else response.body
        if response.drop_at is None:
            self.wfile.write(body)
            return
        self.wfile.write(body[: response.drop_at])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client went away first
            self.connection.shutdown(socket.SHUT_RDWR)


_INTERNAL_ERROR = {
    "code": "internal_server_error",
    "message": "<p>There has been a critical error on this website.</p>",
    "data": {"status": 500},
    "additional_errors": [],
}
