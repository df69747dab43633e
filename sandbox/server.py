"""The sandbox store's HTTP server: WooCommerce's wc/v3 and WordPress's wp/v2 over a `SandboxStore`.

For tests, the demo and owners' dry runs: start it on a free port, give a client `base_url` and the
credentials, and it answers as a WooCommerce store would (routes under `/wp-json/wc/v3/...` and
`/wp-json/wp/v2/...`, authentication, paging headers, error bodies, JSON with escaped slashes).

    with SandboxServer(store, consumer_key=ck, consumer_secret=cs,
                       wp_username="admin", wp_app_password=pw) as server:
        API(url=server.base_url, consumer_key=ck, consumer_secret=cs).get("orders")

Control API (outside the WooCommerce namespace, JSON in and out, no authentication: the server
binds to loopback by default). Errors are `{"code", "message", "data": {"status", ...}}`.
    GET    /sandbox                           this list of routes
    GET    /sandbox/credentials               base_url, keys, WordPress user and app password
    POST   /sandbox/orders                    place an order: {"items": [[product_id, qty], ...],
                                              "customer_id"?, "email"? (guest), "status"?,
                                              "coupon_code"?, "shipping"?, "fee"?}
    POST   /sandbox/orders/{id}/status        {"status": "completed"}
    POST   /sandbox/orders/{id}/refunds       {"amount"?, "lines"?: [[line_id, qty]], "shipping"?,
                                              "reason"?}
    POST   /sandbox/orders/{id}/touch         an admin edit: date_modified only
    POST   /sandbox/orders/{id}/trash         move to the trash
    DELETE /sandbox/orders/{id}               delete for good
    DELETE /sandbox/refunds/{id}              delete a refund
    POST   /sandbox/customers                 register: {"email", "first_name"?, "last_name"?}
    POST   /sandbox/reviews                   {"product_id", "email", "name", "rating", "text",
                                              "status"?, "verified"?}
    POST   /sandbox/reviews/{id}/status       {"status": "approved" | "hold" | "spam" | "trash"}
    GET    /sandbox/posts                     blog post ids comments can go on
    POST   /sandbox/comments                  {"post_id", "email", "name", "text", "author"?,
                                              "parent"?, "status"?}
    POST   /sandbox/comments/{id}/status      {"status": ...}
    GET    /sandbox/faults                    the fault config, its spec and seed
    PUT    /sandbox/faults                    {"spec": "5xx=0.1,429=0.05"} or fields; "seed"?
    DELETE /sandbox/faults                    faults off
    GET    /sandbox/requests                  the request log: ?path_prefix=&method=
    DELETE /sandbox/requests                  clear it
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from email.message import Message
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

from sandbox import faults as fl
from sandbox.auth import ApiKey, Authenticator, AuthRequest, Identity, WpUser, php_parse_str
from sandbox.faults import FaultConfig, FaultDecision, FaultInjector
from sandbox.listing import (
    COLLECTIONS,
    Page,
    Param,
    Predicate,
    SortCache,
    list_page,
    present,
    validate,
)
from sandbox.resources import refund_with_parent
from sandbox.store import SandboxError, SandboxStore
from sandbox.tls import TlsMaterial, generate_tls

logger = logging.getLogger(__name__)

Json = dict[str, Any]
BeforeRequest = Callable[[str, str, dict[str, Any]], None]
SECRET_PARAMS = frozenset(
    {"oauth_signature", "oauth_consumer_key", "consumer_key", "consumer_secret"}
)
_LOG_LIMIT = 200_000


@dataclass(frozen=True)
class RequestRecord:
    """One served request. `query` has no credentials; `fault` names an injected fault."""

    method: str
    path: str
    query: dict[str, Any]
    status: int
    duration_ms: float
    fault: str | None = None


class RequestLog:
    """Every request the server answered, in order (the newest 200,000 kept). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=_LOG_LIMIT)

    def record(self, entry: RequestRecord) -> None:
        with self._lock:
            self._records.append(entry)

    def entries(
        self, *, path_prefix: str | None = None, method: str | None = None
    ) -> list[RequestRecord]:
        """The records, oldest first; optionally only those under a path prefix and/or of a method."""
        with self._lock:
            records = list(self._records)
        return [
            r
            for r in records
            if (path_prefix is None or r.path.startswith(path_prefix))
            and (method is None or r.method == method.upper())
        ]

    def count(self, *, path_prefix: str | None = None, method: str | None = None) -> int:
        return len(self.entries(path_prefix=path_prefix, method=method))

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


@dataclass
class Request:
    """An HTTP request as the dispatcher sees it (PHP-parsed query, raw body)."""

    method: str
    path: str
    query: dict[str, Any]
    headers: Message
    body: bytes = b""
    is_ssl: bool = False


@dataclass
class Response:
    """What to send back; `fault` names an injected fault, `drop_at` cuts the body there (drop)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    drop_at: int | None = None

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(status, encode_json(payload), {**_JSON_HEADERS, **(headers or {})})


_JSON_HEADERS = {
    "Content-Type": "application/json; charset=UTF-8",
    "X-Robots-Tag": "noindex",
    "X-Content-Type-Options": "nosniff",
    "Access-Control-Expose-Headers": "X-WP-Total, X-WP-TotalPages, Link",
}


def encode_json(payload: Any) -> bytes:
    """JSON as PHP's json_encode writes it for WordPress: compact, ASCII, slashes escaped."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


def public_query(query: dict[str, Any]) -> dict[str, Any]:
    """The query without credentials: what the request log, hooks and Link headers may carry."""
    return {k: v for k, v in query.items() if k not in SECRET_PARAMS}


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
    ) -> None:
        if latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {latency_ms}")
        self.store = store
        self.host = host
        self.tls = tls
        self.latency_ms = latency_ms
        self.request_log = RequestLog()
        self.before_request: BeforeRequest | None = None
        self._port = port
        self._keys = [ApiKey(consumer_key, consumer_secret)] + [
            ApiKey(ck, cs, permissions="read") for ck, cs in read_only_keys
        ]
        self._wp_user = WpUser(wp_username, wp_app_password)
        self.authenticator = Authenticator(self._keys, self._wp_user, clock=auth_clock)
        self.injector = FaultInjector(faults, seed=fault_seed)
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._tls_material: TlsMaterial | None = None
        self._lock = threading.Lock()
        self.rest = RestApi(self)
        self.control = ControlApi(self)

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> SandboxServer:
        """Bind and serve in a daemon thread; returns self. Raises if already started."""
        with self._lock:
            if self._httpd is not None:
                raise RuntimeError("the sandbox server is already running")
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

    # --- one request ----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one request (without the socket): control API, REST API or a plain 404."""
        if request.path == "/sandbox" or request.path.startswith("/sandbox/"):
            return self.control.dispatch(request)
        if request.path == "/wp-json" or request.path.startswith("/wp-json/"):
            return self._api(request)
        page = b"<!doctype html><title>Page not found</title><h1>Not Found</h1>"
        return Response(404, page, {"Content-Type": "text/html; charset=UTF-8"})

    def _api(self, request: Request) -> Response:
        if self.before_request is not None:
            self.before_request(request.method, request.path, public_query(request.query))
        decision = self.injector.decide()
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        if decision.kind in ("5xx", "429"):
            status, headers, body = fl.error_response(decision, self.injector.config)
            return Response(status, body, headers, fault=decision.kind)
        if decision.kind == "slow":
            time.sleep(self.injector.config.slow_ms / 1000)
        response = self.rest.dispatch(request, decision)
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

    def _serve(self) -> None:
        started = time.perf_counter()
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
                fault=response.fault,
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


def error_response(error: SandboxError, headers: dict[str, str] | None = None) -> Response:
    return Response.json(error.status, error.body(), headers)


# --- wc/v3 and wp/v2 ----------------------------------------------------------------------------

_ITEM_ARGS = {"context": Param("enum", "view", ("view", "edit"))}
_DELETE_ARGS = {"force": Param("boolean", False), "reassign": Param("integer")}
_BATCH_LIMIT = 100
_DENIED = {
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": (
        "woocommerce_rest_cannot_delete",
        "Sorry, you are not allowed to delete this resource.",
    ),
    "batch": (
        "woocommerce_rest_cannot_batch",
        "Sorry, you are not allowed to batch manipulate this resource.",
    ),
}
_NO_ROUTE = SandboxError(
    "rest_no_route", "No route was found matching the URL and request method", 404
)


@dataclass
class Call:
    """One matched REST request: who calls, the URL ids, the merged parameters and the body."""

    request: Request
    identity: Identity
    ids: tuple[int, ...]
    params: dict[str, Any]
    body: Json
    decision: FaultDecision


Handler = Callable[[Call], Response]


class RestApi:
    """The wc/v3 and wp/v2 routes: authentication, routing, permissions, store calls, shapes."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.store = server.store
        self.routes: list[tuple[frozenset[str], re.Pattern[str], Handler]] = []
        self.sort_cache = SortCache()
        self._register()

    def _add(self, methods: str, pattern: str, handler: Handler) -> None:
        regex = re.compile(f"^{pattern}/?$", re.IGNORECASE)
        self.routes.append((frozenset(methods.split()), regex, handler))

    def _register(self) -> None:
        store, edit, wc = self.store, "POST PUT PATCH", "/wc/v3"
        self._add("GET", f"{wc}/orders", lambda c: self._list(c, "orders", "order"))
        self._add("GET", f"{wc}/orders/(\\d+)", lambda c: self._get(c, "orders", "order"))
        self._add(
            edit, f"{wc}/orders/(\\d+)", lambda c: self._update(c, "orders", store.update_order)
        )
        self._add("DELETE", f"{wc}/orders/(\\d+)", lambda c: self._delete(c, "orders"))
        self._add("GET", f"{wc}/orders/(\\d+)/refunds", self._order_refunds)
        self._add("GET", f"{wc}/orders/(\\d+)/refunds/(\\d+)", self._order_refund)
        self._add("GET", f"{wc}/refunds", self._store_refunds)
        for base, kind in (("customers", "customer"), ("coupons", "coupon")):
            create, update = getattr(store, f"create_{kind}"), getattr(store, f"update_{kind}")
            self._add("GET", f"{wc}/{base}", partial(self._list, name=base, kind=kind))
            self._add("POST", f"{wc}/{base}", partial(self._create, kind=kind, create=create))
            self._add(edit, f"{wc}/{base}/batch", partial(self._batch, kind=kind))
            self._add("GET", f"{wc}/{base}/(\\d+)", partial(self._get, resource=base, kind=kind))
            self._add(
                edit, f"{wc}/{base}/(\\d+)", partial(self._update, resource=base, update=update)
            )
            self._add("DELETE", f"{wc}/{base}/(\\d+)", partial(self._delete, resource=base))
        self._add("GET", f"{wc}/products", lambda c: self._list(c, "products", "product"))
        self._add("GET", f"{wc}/products/reviews", lambda c: self._list(c, "reviews", "review"))
        self._add(
            "GET", f"{wc}/products/reviews/(\\d+)", lambda c: self._get(c, "reviews", "review")
        )
        self._add("GET", f"{wc}/products/(\\d+)", lambda c: self._get(c, "products", "product"))
        self._add("GET", "/wp/v2/comments", self._comments)
        self._add("GET", "/wp/v2/comments/(\\d+)", self._comment)

    # --- dispatch -------------------------------------------------------------------------------

    def dispatch(self, request: Request, decision: FaultDecision) -> Response:
        """Authenticate (WooCommerce first, then WordPress), check the key, route, answer."""
        route = request.path[len("/wp-json") :]
        if route.strip("/") == "":
            return Response.json(200, self._index())
        try:
            identity = self.server.authenticator.authenticate(self._auth_request(request, route))
            Authenticator.check_permissions(identity, request.method)
            handler, ids = self._match(request.method, route)
            body = _body_params(request)
            call = Call(request, identity, ids, {**request.query, **body}, body, decision)
            return handler(call)
        except SandboxError as error:
            return error_response(error)

    def _auth_request(self, request: Request, route: str) -> AuthRequest:
        form = {}
        if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            form = php_parse_str(request.body.decode("utf-8", "replace"))
        return AuthRequest(
            method=request.method,
            url=f"{self.server.base_url}{request.path}",
            query=request.query,
            form=form,
            authorization=request.headers.get("Authorization", ""),
            is_ssl=request.is_ssl,
            wc_route=route.lstrip("/").lower().startswith(("wc/", "wc-")),
        )

    def _match(self, method: str, route: str) -> tuple[Handler, tuple[int, ...]]:
        method = "GET" if method == "HEAD" else method
        for methods, regex, handler in self.routes:
            if method in methods and (found := regex.match(route)):
                return handler, tuple(int(g) for g in found.groups())
        raise _NO_ROUTE

    def _index(self) -> Json:
        return {
            "name": "Sandbox Store",
            "description": "A local WooCommerce store for tests and dry runs",
            "url": self.server.base_url,
            "home": self.server.base_url,
            "namespaces": ["wc/v3", "wp/v2"],
            "authentication": {"application-passwords": {}},
        }

    @staticmethod
    def _require(call: Call, action: str, *, exists: bool = True) -> None:
        """WooCommerce's permission callbacks: anonymous callers get 401, except on a missing
        object, where the controller's invalid-id error answers instead."""
        if call.identity.authenticated or not exists:
            return
        code, message = _DENIED[action]
        raise SandboxError(code, message, 401)

    def _exists(self, resource: str, obj_id: int) -> bool:
        try:
            self.store.get(resource, obj_id)
        except SandboxError:
            return False
        return True

    # --- generic handlers -----------------------------------------------------------------------

    def _list(
        self,
        call: Call,
        name: str,
        kind: str,
        scope: Callable[[dict[str, Any]], list[Predicate]] | None = None,
    ) -> Response:
        collection = COLLECTIONS[name]
        args = validate(collection.params, call.params)
        if name != "comments":  # blog comments are public; _comments() applied WordPress's rules
            self._require(call, "list")
        extra = scope(args) if scope else ()
        page = list_page(self.store, collection, args, scope=extra, cache=self.sort_cache)
        shared = self._shared(kind)
        items = [self._present(kind, obj, args["context"], shared) for obj in page.items]
        response = Response.json(200, items, self._paging_headers(call.request, page))
        if call.decision.kind == "dup" and name == "orders" and page.ids:
            # Modified between requests: the item comes again on a later page of a modified walk.
            self.store.touch_order(page.ids[int(call.decision.fraction * len(page.ids))])
            response.fault = "dup"
        return response

    def _get(self, call: Call, resource: str, kind: str) -> Response:
        args = validate(_ITEM_ARGS, call.params)
        self._require(call, "view", exists=self._exists(resource, call.ids[0]))
        obj = self.store.get(resource, call.ids[0])
        return Response.json(200, self._present(kind, obj, args["context"]))

    def _create(self, call: Call, kind: str, create: Callable[[Json], Json]) -> Response:
        self._require(call, "create")
        obj = create(call.body)
        location = f"{self.server.api_url}/wc/v3/{kind}s/{obj['id']}"
        return Response.json(201, self._present(kind, obj, "edit"), {"Location": location})

    def _update(self, call: Call, resource: str, update: Callable[[int, Json], Json]) -> Response:
        self._require(call, "edit", exists=self._exists(resource, call.ids[0]))
        obj = update(call.ids[0], call.body)
        return Response.json(200, self._present(resource[:-1], obj, "edit"))

    def _delete(self, call: Call, resource: str) -> Response:
        args = validate(_DELETE_ARGS, call.params)
        obj_id = call.ids[0]
        self._require(call, "delete", exists=self._exists(resource, obj_id))
        if resource == "customers":
            obj = self.store.delete_customer(obj_id, force=args["force"], reassign=args["reassign"])
        else:
            obj = getattr(self.store, f"delete_{resource[:-1]}")(obj_id, force=args["force"])
        return Response.json(200, self._present(resource[:-1], obj, "edit"))

    def _batch(self, call: Call, kind: str) -> Response:
        """POST {base}/batch: at most 100 items; each failure is reported in place, answer 200."""
        self._require(call, "batch")
        lists = {
            k: v for k in ("create", "update", "delete") if isinstance(v := call.body.get(k), list)
        }
        if sum(len(items) for items in lists.values()) > _BATCH_LIMIT:
            raise SandboxError(
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {_BATCH_LIMIT} items for this request.",
                413,
            )
        out: Json = {}
        for action, items in lists.items():
            if items:
                results = [self._batch_item(kind, action, item) for item in items]
                out[action] = [r for r in results if r is not None]
        return Response.json(200, out)

    def _batch_item(self, kind: str, action: str, item: Any) -> Json | None:
        store = self.store
        item_id = _int_or_zero(item.get("id") if isinstance(item, dict) else item)
        try:
            if not isinstance(item, dict) and action != "delete":
                raise SandboxError("rest_invalid_param", "Invalid parameter(s): item", 400)
            if action == "create":
                item_id, obj = 0, getattr(store, f"create_{kind}")(item)
            elif action == "update" and kind == "customer":
                obj = store.update_customer(item_id, item, from_batch=True)
            elif action == "update":
                obj = store.update_coupon(item_id, item)
            elif item_id == 0:
                return None  # WooCommerce skips ids that cast to 0
            elif kind == "customer":
                obj = store.delete_customer(item_id, force=True)
            else:
                obj = store.delete_coupon(item_id, force=True)
        except SandboxError as error:
            body = error.body()
            failure = {"code": body["code"], "message": body["message"], "data": body["data"]}
            failed_id = (
                0 if action == "create" else item.get("id") if isinstance(item, dict) else item_id
            )
            return {"id": failed_id, "error": failure}
        return self._present(kind, obj, "edit")

    # --- refunds --------------------------------------------------------------------------------

    def _order_refunds(self, call: Call) -> Response:
        order_id = call.ids[0]
        try:
            refund_ids = {e["id"] for e in self.store.get("orders", order_id)["refunds"]}
        except SandboxError:
            refund_ids = set()  # WooCommerce lists nothing for an unknown order
        return self._list(call, "refunds", "refund", lambda args: [lambda r: r["id"] in refund_ids])

    def _order_refund(self, call: Call) -> Response:
        order_id, refund_id = call.ids
        args = validate(_ITEM_ARGS, call.params)
        self._require(call, "view", exists=self._exists("refunds", refund_id))
        refund = self.store.get("refunds", refund_id)
        if not self._exists("orders", order_id):
            raise SandboxError("woocommerce_rest_invalid_order_id", "Invalid order ID.", 404)
        if self.store.refund_parent(refund_id) != order_id:
            raise SandboxError(
                "woocommerce_rest_invalid_order_refund_id", "Invalid order refund ID.", 404
            )
        return Response.json(200, self._present("refund", refund, args["context"]))

    def _store_refunds(self, call: Call) -> Response:
        def scope(args: dict[str, Any]) -> list[Predicate]:
            if not args["parent_exclude"]:
                return []
            excluded = set(args["parent_exclude"])
            return [lambda r: self.store.refund_parent(r["id"]) not in excluded]

        return self._list(call, "refunds", "store_refund", scope)

    # --- comments (WordPress's rules) -----------------------------------------------------------

    def _comments(self, call: Call) -> Response:
        args = validate(COLLECTIONS["comments"].params, call.params)
        if not call.identity.can_moderate:
            if args["context"] == "edit":
                raise _FORBIDDEN_CONTEXT
            forbidden = [
                name
                for name in ("author", "author_exclude", "author_email", "type", "status")
                if (name == "status" and args[name] != "approve")
                or (name == "type" and args[name] != "comment")
                or (name not in ("status", "type") and args[name])
            ]
            if forbidden:
                message = f"Query parameter not permitted: {', '.join(forbidden)}"
                raise SandboxError("rest_forbidden_param", message, 401)
        return self._list(call, "comments", "comment")

    def _comment(self, call: Call) -> Response:
        args = validate(_ITEM_ARGS, call.params)
        comment = self.store.get("comments", call.ids[0])
        if not call.identity.can_moderate:
            if args["context"] == "edit":
                raise _FORBIDDEN_CONTEXT
            if comment["status"] != "approved":
                raise SandboxError(
                    "rest_cannot_read", "Sorry, you are not allowed to read this comment.", 401
                )
        return Response.json(200, self._present("comment", comment, args["context"]))

    # --- shapes and headers ---------------------------------------------------------------------

    def _present(self, kind: str, obj: Json, context: str, shared: Json | None = None) -> Json:
        """`obj` as served; `shared` holds what a whole page's links need (computed once)."""
        extra: Json = dict(shared) if shared is not None else self._shared(kind)
        if kind in ("refund", "store_refund"):
            extra["parent"] = self.store.refund_parent(obj["id"])
            if kind == "store_refund":
                obj = refund_with_parent(obj, extra["parent"])
        elif kind == "review":
            extra["reviewer_id"] = self.store.customer_id_by_email(obj["reviewer_email"])
        return present(kind, obj, self.server.api_url, context=context, extra=extra)

    def _shared(self, kind: str) -> Json:
        if kind != "comment":
            return {}
        parents: set[int] = set()

        def visit(comment: Json) -> bool:
            if comment["status"] in ("approved", "hold"):  # get_children() counts these
                parents.add(comment["parent"])
            return False

        self.store.query("comments", where=visit)
        return {"with_children": parents}

    def _paging_headers(self, request: Request, page: Page) -> dict[str, str]:
        """X-WP-Total, X-WP-TotalPages and Link (prev/next) as WooCommerce's get_items() sends."""
        headers = {"X-WP-Total": str(page.total), "X-WP-TotalPages": str(page.total_pages)}
        links = []
        if page.page > 1:
            links.append(
                f'<{self._page_url(request, min(page.page - 1, page.total_pages))}>; rel="prev"'
            )
        if page.total_pages > page.page:
            links.append(f'<{self._page_url(request, page.page + 1)}>; rel="next"')
        headers["Link"] = ", ".join(links) or f'<{self.server.api_url}/>; rel="https://api.w.org/"'
        return headers

    def _page_url(self, request: Request, number: int) -> str:
        pairs = [
            (k, v)
            for k, v in _flatten(request.query)
            if not k.startswith("oauth_") and k not in SECRET_PARAMS
        ]
        pairs = [(k, v) for k, v in pairs if k != "page"] + [("page", str(number))]
        return f"{self.server.base_url}{request.path}?{urlencode(pairs)}"


_FORBIDDEN_CONTEXT = SandboxError(
    "rest_forbidden_context", "Sorry, you are not allowed to edit comments.", 401
)


def _flatten(query: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        name = f"{prefix}[{key}]" if prefix else key
        if isinstance(value, dict):
            pairs.extend(_flatten(value, name))
        else:
            pairs.append((name, value))
    return pairs


def _body_params(request: Request) -> Json:
    """The body's parameters: JSON (an invalid one is WordPress's 400) or a form."""
    content_type = request.headers.get("Content-Type", "")
    if not request.body.strip():
        return {}
    if content_type.startswith("application/x-www-form-urlencoded"):
        return php_parse_str(request.body.decode("utf-8", "replace"))
    if "json" not in content_type:
        return {}
    try:
        payload = json.loads(request.body)
    except ValueError:
        raise SandboxError(
            "rest_invalid_json",
            "Invalid JSON body passed.",
            400,
            {"json_error_code": 4, "json_error_message": "Syntax error"},
        ) from None
    return payload if isinstance(payload, dict) else {}


def _int_or_zero(value: Any) -> int:
    """PHP's (int) cast, enough for ids: numbers and numeric strings, anything else 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return 0


# --- the control API ----------------------------------------------------------------------------


def _bad_field(name: str, expected: str) -> SandboxError:
    return SandboxError(
        "sandbox_invalid_field", f"{name} must be {expected}.", 400, {"field": name}
    )


def _take(body: Json, name: str, kind: str, *, required: bool = False, default: Any = None) -> Any:
    """body[name] checked against `kind` (int, str, bool, money, pairs); a clear 400 otherwise."""
    value = body.get(name)
    if value is None:
        if required:
            raise SandboxError(
                "sandbox_missing_field", f"{name} is required.", 400, {"field": name}
            )
        return default
    if kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
        raise _bad_field(name, "a whole number")
    if kind == "str" and not isinstance(value, str):
        raise _bad_field(name, "a string")
    if kind == "bool" and not isinstance(value, bool):
        raise _bad_field(name, "true or false")
    if kind == "money":
        return _money(name, value)
    if kind == "pairs":
        return _pairs(name, value)
    return value


def _money(name: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _bad_field(name, 'an amount like "12.50"')
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise _bad_field(name, 'an amount like "12.50"') from None
    if not amount.is_finite():
        raise _bad_field(name, 'an amount like "12.50"')
    return amount


def _pairs(name: str, value: Any) -> list[tuple[int, int]]:
    expected = "a list of [id, quantity] pairs of whole numbers"
    if not isinstance(value, list):
        raise _bad_field(name, expected)
    pairs = []
    for n, pair in enumerate(value):
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
        ):
            raise _bad_field(f"{name}[{n}]", expected)
        pairs.append((pair[0], pair[1]))
    return pairs


ControlHandler = Callable[[Json, tuple[int, ...], Request], tuple[int, Any]]


class ControlApi:
    """`/sandbox/...`: act as shoppers and admins, switch faults, read the request log."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.store = server.store
        self.routes: list[tuple[str, re.Pattern[str], ControlHandler]] = []
        self._register()

    def _add(self, method: str, pattern: str, handler: ControlHandler) -> None:
        self.routes.append((method, re.compile(f"^/sandbox{pattern}/?$"), handler))

    def _register(self) -> None:
        add, store = self._add, self.store
        add("GET", "", lambda b, i, r: (200, {"routes": _control_routes()}))
        add("GET", "/credentials", lambda b, i, r: (200, self.server.credentials()))
        add("POST", "/orders", self._place_order)
        add("POST", r"/orders/(\d+)/status", self._order_status)
        add("POST", r"/orders/(\d+)/refunds", self._refund)
        add("POST", r"/orders/(\d+)/touch", lambda b, i, r: (200, store.touch_order(i[0])))
        add(
            "POST",
            r"/orders/(\d+)/trash",
            lambda b, i, r: (200, store.delete_order(i[0], force=False)),
        )
        add("DELETE", r"/orders/(\d+)", lambda b, i, r: (200, store.delete_order(i[0], force=True)))
        add("DELETE", r"/refunds/(\d+)", self._delete_refund)
        add("POST", "/customers", self._register_customer)
        add("POST", "/reviews", self._add_review)
        add("POST", r"/reviews/(\d+)/status", self._review_status)
        add("GET", "/posts", lambda b, i, r: (200, {"post_ids": store.post_ids()}))
        add("POST", "/comments", self._add_comment)
        add("POST", r"/comments/(\d+)/status", self._comment_status)
        add("GET", "/faults", lambda b, i, r: (200, self._faults()))
        add("PUT", "/faults", self._set_faults)
        add("DELETE", "/faults", self._faults_off)
        add("GET", "/requests", self._requests)
        add("DELETE", "/requests", self._clear_requests)

    def dispatch(self, request: Request) -> Response:
        try:
            for method, regex, handler in self.routes:
                if method == request.method and (found := regex.match(request.path)):
                    ids = tuple(int(g) for g in found.groups())
                    status, payload = handler(self._body(request), ids, request)
                    return Response.json(status, payload)
            raise SandboxError(
                "sandbox_no_route", f"No control route {request.method} {request.path}", 404
            )
        except SandboxError as error:
            return error_response(error)
        except fl.FaultSpecError as error:
            return error_response(SandboxError("sandbox_invalid_faults", str(error), 400))

    @staticmethod
    def _body(request: Request) -> Json:
        if not request.body.strip():
            return {}
        try:
            payload = json.loads(request.body)
        except ValueError:
            raise SandboxError("sandbox_invalid_json", "The body is not valid JSON.", 400) from None
        if not isinstance(payload, dict):
            raise SandboxError("sandbox_invalid_json", "The body must be a JSON object.", 400)
        return payload

    def _place_order(self, body: Json, ids: tuple[int, ...], request: Request) -> tuple[int, Any]:
        order = self.store.place_order(
            customer_id=_take(body, "customer_id", "int", default=0),
            email=_take(body, "email", "str"),
            items=_take(body, "items", "pairs", required=True),
            status=_take(body, "status", "str", default="processing"),
            coupon_code=_take(body, "coupon_code", "str"),
            shipping=_take(body, "shipping", "money"),
            fee=_take(body, "fee", "money"),
        )
        return 201, order

    def _order_status(self, body: Json, ids: tuple[int, ...], request: Request) -> tuple[int, Any]:
        status = _take(body, "status", "str", required=True)
        return 200, self.store.set_order_status(ids[0], status)

    def _refund(self, body: Json, ids: tuple[int, ...], request: Request) -> tuple[int, Any]:
        refund = self.store.refund_order(
            ids[0],
            amount=_take(body, "amount", "money"),
            lines=_take(body, "lines", "pairs"),
            shipping=_take(body, "shipping", "bool", default=False),
            reason=_take(body, "reason", "str", default=""),
        )
        return 201, refund

    def _delete_refund(self, body: Json, ids: tuple[int, ...], request: Request) -> tuple[int, Any]:
        self.store.delete_refund(ids[0])
        return 200, {"deleted": True, "id": ids[0]}

    def _register_customer(
        self, body: Json, ids: tuple[int, ...], request: Request
    ) -> tuple[int, Any]:
        customer = self.store.register_customer(
            email=_take(body, "email", "str", required=True),
            first_name=_take(body, "first_name", "str", default=""),
            last_name=_take(body, "last_name", "str", default=""),
        )
        return 201, customer

    def _add_review(self, body: Json, ids: tuple[int, ...], request: Request) -> tuple[int, Any]:
        review = self.store.add_review(
            product_id=_take(body, "product_id", "int", required=True),
            email=_take(body, "email", "str", required=True),
            name=_take(body, "name", "str", required=True),
            rating=_take(body, "rating", "int", required=True),
            text=_take(body, "text", "str", default=""),
            status=_take(body, "status", "str", default="hold"),
            verified=_take(body, "verified", "bool", default=False),
        )
        return 201, review

    def _review_status(self, body: Json, ids: tuple[int, ...], request: Request) -> tuple[int, Any]:
        status = _take(body, "status", "str", required=True)
        return 200, self.store.set_review_status(ids[0], status)

    def _add_comment(self, body: Json, ids: tuple[int, ...], request: Request) -> tuple[int, Any]:
        comment = self.store.add_comment(
            post_id=_take(body, "post_id", "int", required=True),
            email=_take(body, "email", "str", required=True),
            name=_take(body, "name", "str", required=True),
            text=_take(body, "text", "str", default=""),
            author=_take(body, "author", "int", default=0),
            parent=_take(body, "parent", "int", default=0),
            status=_take(body, "status", "str", default="hold"),
        )
        return 201, comment

    def _comment_status(
        self, body: Json, ids: tuple[int, ...], request: Request
    ) -> tuple[int, Any]:
        status = _take(body, "status", "str", required=True)
        return 200, self.store.set_comment_status(ids[0], status)

    def _faults(self) -> Json:
        config = self.server.injector.config
        return {
            "spec": config.to_spec(),
            "config": config.to_dict(),
            "seed": self.server.injector.seed,
        }

    def _set_faults(self, body: Json, ids: tuple[int, ...], request: Request) -> tuple[int, Any]:
        seed = _take(body, "seed", "int")
        values = {k: v for k, v in body.items() if k != "seed"}
        if "spec" in values:
            config = FaultConfig.parse(_take(values, "spec", "str", required=True))
        else:
            config = FaultConfig.from_mapping(values)
        self.server.set_faults(config, seed=seed)
        return 200, self._faults()

    def _faults_off(self, body: Json, ids: tuple[int, ...], request: Request) -> tuple[int, Any]:
        self.server.set_faults(None)
        return 200, self._faults()

    def _requests(self, body: Json, ids: tuple[int, ...], request: Request) -> tuple[int, Any]:
        prefix, method = request.query.get("path_prefix"), request.query.get("method")
        log = self.server.request_log
        entries = log.entries(
            path_prefix=prefix if isinstance(prefix, str) else None,
            method=method if isinstance(method, str) else None,
        )
        return 200, {"count": len(entries), "entries": [asdict(e) for e in entries]}

    def _clear_requests(
        self, body: Json, ids: tuple[int, ...], request: Request
    ) -> tuple[int, Any]:
        self.server.request_log.clear()
        return 200, {"cleared": True}


def _control_routes() -> list[str]:
    doc = __doc__ or ""
    return [
        line.strip()
        for line in doc.splitlines()
        if line.strip().startswith(("GET ", "POST ", "PUT ", "DELETE "))
    ]
