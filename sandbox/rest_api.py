"""The sandbox store's wc/v3 and wp/v2 routes: authentication, routing, permissions, shapes.

For `sandbox.server`, which hands every request under `/wp-json` to `RestApi.dispatch`. Routes
answer as WooCommerce's and WordPress's REST controllers do: authentication (WooCommerce's
consumer keys first, then WordPress application passwords), paging headers (X-WP-Total,
X-WP-TotalPages, Link), error bodies, JSON with escaped slashes.

    *      /wp-json                                     the index (any method)
    GET    /wp-json/wc/v3/orders[/{id}]                 also PUT/PATCH/POST and DELETE on {id}
    GET    /wp-json/wc/v3/orders/{id}/refunds[/{id}]    (sandbox.rest_refunds)
    GET    /wp-json/wc/v3/refunds                       every refund in the store
    GET    /wp-json/wc/v3/customers[/{id}]              also POST, PUT/PATCH/POST and DELETE on
                                                        {id}, and batch (sandbox.rest_batch)
    GET    /wp-json/wc/v3/coupons[/{id}]                as customers
    GET    /wp-json/wc/v3/products[/{id}]
    GET    /wp-json/wc/v3/products/reviews[/{id}]
    GET    /wp-json/wp/v2/comments[/{id}]               WordPress's rules (sandbox.rest_comments)

HEAD is answered as GET.

Listing arguments, filters and sort orders are in `sandbox.listed_collections`; the served shapes
and `_links` in `sandbox.presentation`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from sandbox.arguments import validate
from sandbox.auth import Authenticator, AuthRequest, php_parse_str
from sandbox.faults import FaultDecision
from sandbox.listed_collections import COLLECTIONS, Predicate
from sandbox.listing import Page, SortCache, list_page
from sandbox.messages import SECRET_PARAMS, Request, Response, error_response
from sandbox.presentation import present
from sandbox.resources import refund_with_parent
from sandbox.rest_batch import batch
from sandbox.rest_call import DELETE_ARGS, ITEM_ARGS, Call, Handler, require
from sandbox.rest_comments import get_comment, list_comments
from sandbox.rest_refunds import get_order_refund, list_order_refunds, list_store_refunds
from sandbox.store import SandboxError

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

Json = dict[str, Any]

_NO_ROUTE = SandboxError(
    "rest_no_route", "No route was found matching the URL and request method", 404
)


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
        self._add("GET", f"{wc}/orders", lambda c: self.serve_list(c, "orders", "order"))
        self._add("GET", f"{wc}/orders/(\\d+)", lambda c: self._get(c, "orders", "order"))
        self._add(
            edit, f"{wc}/orders/(\\d+)", lambda c: self._update(c, "orders", store.update_order)
        )
        self._add("DELETE", f"{wc}/orders/(\\d+)", lambda c: self._delete(c, "orders"))
        self._add("GET", f"{wc}/orders/(\\d+)/refunds", lambda c: list_order_refunds(self, c))
        self._add("GET", f"{wc}/orders/(\\d+)/refunds/(\\d+)", lambda c: get_order_refund(self, c))
        self._add("GET", f"{wc}/refunds", lambda c: list_store_refunds(self, c))
        for base, kind in (("customers", "customer"), ("coupons", "coupon")):
            create, update = getattr(store, f"create_{kind}"), getattr(store, f"update_{kind}")
            self._add("GET", f"{wc}/{base}", partial(self.serve_list, name=base, kind=kind))
            self._add("POST", f"{wc}/{base}", partial(self._create, kind=kind, create=create))
            self._add(edit, f"{wc}/{base}/batch", partial(batch, self, kind=kind))
            self._add("GET", f"{wc}/{base}/(\\d+)", partial(self._get, resource=base, kind=kind))
            self._add(
                edit, f"{wc}/{base}/(\\d+)", partial(self._update, resource=base, update=update)
            )
            self._add("DELETE", f"{wc}/{base}/(\\d+)", partial(self._delete, resource=base))
        self._add("GET", f"{wc}/products", lambda c: self.serve_list(c, "products", "product"))
        self._add(
            "GET", f"{wc}/products/reviews", lambda c: self.serve_list(c, "reviews", "review")
        )
        self._add(
            "GET", f"{wc}/products/reviews/(\\d+)", lambda c: self._get(c, "reviews", "review")
        )
        self._add("GET", f"{wc}/products/(\\d+)", lambda c: self._get(c, "products", "product"))
        self._add("GET", "/wp/v2/comments", lambda c: list_comments(self, c))
        self._add("GET", "/wp/v2/comments/(\\d+)", lambda c: get_comment(self, c))

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

    def exists(self, resource: str, obj_id: int) -> bool:
        """Whether the store holds `resource` `obj_id` (permission checks answer differently)."""
        try:
            self.store.get(resource, obj_id)
        except SandboxError:
            return False
        return True

    # --- generic handlers -----------------------------------------------------------------------

    def serve_list(
        self,
        call: Call,
        name: str,
        kind: str,
        scope: Callable[[dict[str, Any]], list[Predicate]] | None = None,
    ) -> Response:
        """One page of collection `name`, served as `kind`; `scope` adds the route's filters."""
        collection = COLLECTIONS[name]
        args = validate(collection.params, call.params)
        if name != "comments":  # blog comments are public; list_comments() applied its rules
            require(call, "list")
        extra = scope(args) if scope else ()
        page = list_page(self.store, collection, args, scope=extra, cache=self.sort_cache)
        shared = self._shared(kind)
        items = [self.shape(kind, obj, args["context"], shared) for obj in page.items]
        response = Response.json(200, items, self._paging_headers(call.request, page))
        if call.decision.kind == "dup" and name == "orders" and page.ids:
            # Modified between requests: the item comes again on a later page of a modified walk.
            self.store.touch_order(page.ids[int(call.decision.fraction * len(page.ids))])
            response.fault = "dup"
        return response

    def _get(self, call: Call, resource: str, kind: str) -> Response:
        args = validate(ITEM_ARGS, call.params)
        require(call, "view", exists=self.exists(resource, call.ids[0]))
        obj = self.store.get(resource, call.ids[0])
        return Response.json(200, self.shape(kind, obj, args["context"]))

    def _create(self, call: Call, kind: str, create: Callable[[Json], Json]) -> Response:
        require(call, "create")
        obj = create(call.body)
        location = f"{self.server.api_url}/wc/v3/{kind}s/{obj['id']}"
        return Response.json(201, self.shape(kind, obj, "edit"), {"Location": location})

    def _update(self, call: Call, resource: str, update: Callable[[int, Json], Json]) -> Response:
        require(call, "edit", exists=self.exists(resource, call.ids[0]))
        obj = update(call.ids[0], call.body)
        return Response.json(200, self.shape(resource[:-1], obj, "edit"))

    def _delete(self, call: Call, resource: str) -> Response:
        args = validate(DELETE_ARGS, call.params)
        obj_id = call.ids[0]
        require(call, "delete", exists=self.exists(resource, obj_id))
        if resource == "customers":
            obj = self.store.delete_customer(obj_id, force=args["force"], reassign=args["reassign"])
        else:
            obj = getattr(self.store, f"delete_{resource[:-1]}")(obj_id, force=args["force"])
        return Response.json(200, self.shape(resource[:-1], obj, "edit"))

    # --- shapes and headers ---------------------------------------------------------------------

    def shape(self, kind: str, obj: Json, context: str, shared: Json | None = None) -> Json:
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
