"""The control API under `/sandbox`: act as shoppers and admins, switch faults, read the log.

For tests, the demo and owners' dry runs; `sandbox.server` hands it every request under
`/sandbox`. Outside the WooCommerce namespace, JSON in and out, no authentication (the server
binds to loopback by default). Errors are `{"code", "message", "data": {"status", ...}}`.

The routes of the server itself live here: `GET /sandbox` (the list of routes), credentials,
faults, served overrides (broken JSON in place of an order, refund, customer, review or
comment) and the request log. Each resource module in `sandbox.resources` adds its own
`ControlRoute`s (placing orders, refunds, registrations, reviews, comments, ...), with a usage line
that `GET /sandbox` lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, Protocol, TypeVar

from sandbox import faults as fl
from sandbox.errors import SandboxError
from sandbox.faults import FaultConfig, FaultInjector
from sandbox.messages import Request, Response, error_response
from sandbox.overrides import RESOURCES as OVERRIDABLE
from sandbox.overrides import ServedOverrides
from sandbox.request_log import RequestLog
from sandbox.state import StoreBase

Json = dict[str, Any]
T = TypeVar("T")


def _bad_field(name: str, expected: str) -> SandboxError:
    return SandboxError(
        "sandbox_invalid_field", f"{name} must be {expected}.", 400, {"field": name}
    )


def take(body: Json, name: str, kind: str, *, required: bool = False, default: Any = None) -> Any:
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


@dataclass(frozen=True)
class ControlCall:
    """One matched control request: the store, the JSON body, the URL ids and the request."""

    store: StoreBase
    body: Json
    ids: tuple[int, ...]
    request: Request

    def store_as(self, kind: type[T]) -> T:
        """The store as the part (mixin) a resource module works with."""
        store = self.store
        if not isinstance(store, kind):
            raise TypeError(f"the sandbox store has no {kind.__name__}")
        return store


ControlHandler = Callable[[ControlCall], tuple[int, Any]]


@dataclass(frozen=True)
class ControlRoute:
    """A control route: method, a regex under /sandbox (ids as `(\\d+)` groups), its handler and
    the usage line `GET /sandbox` shows (the path as written for people, then what it does)."""

    method: str
    pattern: str
    handler: ControlHandler
    usage: str

    @property
    def listing(self) -> str:
        return f"{self.method:<6} /sandbox{self.usage}"


class Controlled(Protocol):
    """What the control API needs from the server it controls."""

    @property
    def store(self) -> StoreBase: ...
    @property
    def request_log(self) -> RequestLog: ...
    @property
    def injector(self) -> FaultInjector: ...
    @property
    def overrides(self) -> ServedOverrides: ...
    def credentials(self) -> Json: ...
    def set_faults(self, faults: FaultConfig | str | None, *, seed: int | None = None) -> None: ...


class ControlApi:
    """`/sandbox/...`: the server's own routes plus those the resource modules declare."""

    def __init__(self, server: Controlled, routes: Iterable[ControlRoute]) -> None:
        self.server = server
        self.store = server.store
        own = [
            ControlRoute("GET", "", lambda c: (200, {"routes": self._listing()}), "  this list"),
            ControlRoute(
                "GET",
                "/credentials",
                lambda c: (200, self.server.credentials()),
                "/credentials  base_url, keys, WordPress user and app password",
            ),
        ]
        tail = [
            ControlRoute(
                "GET", "/faults", lambda c: (200, self._faults()), "/faults  the faults, spec, seed"
            ),
            ControlRoute(
                "PUT",
                "/faults",
                self._set_faults,
                '/faults  {"spec": "5xx=0.1,429=0.05"} or fields; "seed"?',
            ),
            ControlRoute("DELETE", "/faults", self._faults_off, "/faults  faults off"),
            ControlRoute(
                "GET",
                "/requests",
                self._requests,
                "/requests  the request log: ?path_prefix=&method=",
            ),
            ControlRoute("DELETE", "/requests", self._clear_requests, "/requests  clear it"),
        ]
        for resource in OVERRIDABLE:
            tail += [
                ControlRoute(
                    "PUT",
                    rf"/served/{resource}/(\d+)",
                    partial(self._serve_broken, resource),
                    f"/served/{resource}/{{id}}  serve broken JSON for it instead:"
                    ' {"item": any JSON} or {"patch": {...}} (merge patch: null removes)',
                ),
                ControlRoute(
                    "DELETE",
                    rf"/served/{resource}/(\d+)",
                    partial(self._serve_real, resource),
                    f"/served/{resource}/{{id}}  serve the real item again",
                ),
            ]
        self.routes = [*own, *routes, *tail]
        self._compiled = [
            (route, re.compile(f"^/sandbox{route.pattern}/?$")) for route in self.routes
        ]

    def dispatch(self, request: Request) -> Response:
        try:
            for route, regex in self._compiled:
                if route.method == request.method and (found := regex.match(request.path)):
                    ids = tuple(int(g) for g in found.groups())
                    call = ControlCall(self.store, self._body(request), ids, request)
                    status, payload = route.handler(call)
                    return Response.json(status, payload)
            raise SandboxError(
                "sandbox_no_route", f"No control route {request.method} {request.path}", 404
            )
        except SandboxError as error:
            return error_response(error)
        except fl.FaultSpecError as error:
            return error_response(SandboxError("sandbox_invalid_faults", str(error), 400))

    def _listing(self) -> list[str]:
        return [route.listing for route in self.routes]

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

    def _faults(self) -> Json:
        config = self.server.injector.config
        return {
            "spec": config.to_spec(),
            "config": config.to_dict(),
            "seed": self.server.injector.seed,
        }

    def _set_faults(self, call: ControlCall) -> tuple[int, Any]:
        body = call.body
        seed = take(body, "seed", "int")
        values = {k: v for k, v in body.items() if k != "seed"}
        if "spec" in values:
            config = FaultConfig.parse(take(values, "spec", "str", required=True))
        else:
            config = FaultConfig.from_mapping(values)
        self.server.set_faults(config, seed=seed)
        return 200, self._faults()

    def _faults_off(self, call: ControlCall) -> tuple[int, Any]:
        self.server.set_faults(None)
        return 200, self._faults()

    def _requests(self, call: ControlCall) -> tuple[int, Any]:
        query = call.request.query
        prefix, method = query.get("path_prefix"), query.get("method")
        log = self.server.request_log
        entries = log.entries(
            path_prefix=prefix if isinstance(prefix, str) else None,
            method=method if isinstance(method, str) else None,
        )
        return 200, {"count": len(entries), "entries": [asdict(e) for e in entries]}

    def _serve_broken(self, resource: str, call: ControlCall) -> tuple[int, Any]:
        self.store.get(resource, call.ids[0])  # 404 for an item the store does not have
        overrides = self.server.overrides
        if "item" in call.body:
            overrides.replace(resource, call.ids[0], call.body["item"])
        elif isinstance(call.body.get("patch"), dict):
            overrides.patch(resource, call.ids[0], call.body["patch"])
        else:
            raise _bad_field("item", 'any JSON value, or "patch" an object')
        return 200, {"resource": resource, "id": call.ids[0], "served": "override"}

    def _serve_real(self, resource: str, call: ControlCall) -> tuple[int, Any]:
        removed = self.server.overrides.remove(resource, call.ids[0])
        return 200, {"resource": resource, "id": call.ids[0], "removed": removed}

    def _clear_requests(self, call: ControlCall) -> tuple[int, Any]:
        self.server.request_log.clear()
        return 200, {"cleared": True}
