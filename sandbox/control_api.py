"""The sandbox store's control API: act as shoppers and admins, switch faults, read the log.

For tests, the demo and owners' dry runs; `sandbox.server` hands it every request under
`/sandbox`. Outside the WooCommerce namespace, JSON in and out, no authentication (the server
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

import json
import re
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from sandbox import faults as fl
from sandbox.faults import FaultConfig
from sandbox.messages import Request, Response, error_response
from sandbox.store import SandboxError

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

Json = dict[str, Any]


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
