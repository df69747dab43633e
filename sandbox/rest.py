"""The REST layer: wc/v3 and wp/v2 requests authenticated, routed, checked, listed and shaped.

For `sandbox.server`, which hands every request under `/wp-json` to `RestApi.dispatch`, and for
the resource modules in `sandbox.resources`, which declare their `Route`s (a regex under
`/wp-json` and a handler) and how their objects are `Served` (store table, listing, `_links`).
Routes answer as WooCommerce's and WordPress's REST controllers do: authentication
(WooCommerce's consumer keys first, then WordPress application passwords), permission checks
(`require`), paging headers (X-WP-Total, X-WP-TotalPages, Link), error bodies, JSON with
escaped slashes. HEAD is answered as GET; `/wp-json` itself is the index (any method).

The generic handlers (`serve_list`, `get`, `create`, `update`, `delete`) cover what most
resources need; a resource module writes its own handler only where WooCommerce behaves
differently (refunds of one order, WordPress's comment rules, a batch).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from collections.abc import Collection as Sized
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from sandbox.arguments import Param, validate
from sandbox.auth import Authenticator, AuthRequest, Identity, php_parse_str
from sandbox.errors import SandboxError
from sandbox.faults import FaultDecision, without_exclude
from sandbox.fields import requested
from sandbox.listing import Collection, Page, Predicate, SortCache, list_page
from sandbox.messages import SECRET_PARAMS, Request, Response, error_response
from sandbox.overrides import ServedOverrides
from sandbox.state import StoreBase

Json = dict[str, Any]
T = TypeVar("T")

ITEM_ARGS = {"context": Param("enum", "view", ("view", "edit"))}
DELETE_ARGS = {"force": Param("boolean", False), "reassign": Param("integer")}
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
    ids: tuple[Any, ...]  # ints, or strings for slug routes (payment_gateways/{id})
    params: dict[str, Any]
    body: Json
    decision: FaultDecision


Handler = Callable[["RestApi", Call], Response]


@dataclass(frozen=True)
class Route:
    """A REST route: methods (space-separated), a regex under /wp-json (ids as `(\\d+)` groups)."""

    methods: str
    pattern: str
    handler: Handler


def link(href: str, **attributes: Any) -> list[Json]:
    """One `_links` entry as WordPress writes it."""
    return [{**attributes, "href": href}]


def wc_links(base: str) -> Callable[[Json, str, Json], Json]:
    """The `_links` of a plain wc/v3 object: self and collection under /wc/v3/{base}."""

    def links(obj: Json, api_url: str, extra: Json) -> Json:
        url = f"{api_url}/wc/v3/{base}"
        return {"self": link(f"{url}/{obj['id']}"), "collection": link(url)}

    return links


def _as_stored(store: StoreBase, obj: Json, extra: Json) -> Json:
    return obj


def _same_view(obj: Json, context: str) -> Json:
    return obj


def _nothing_shared(store: StoreBase) -> Json:
    return {}


@dataclass(frozen=True)
class Served:
    """How one kind of object is served: its store table, listing, view and `_links`.

    `prepare(store, obj, extra)` may add what the links need to `extra` and return a changed
    object; `view(obj, context)` settles the context fields; `shared(store)` is computed once
    per page for every object on it; `links(obj, api_url, extra)` builds `_links`.
    """

    resource: str
    links: Callable[[Json, str, Json], Json]
    collection: Collection | None = None
    prepare: Callable[[StoreBase, Json, Json], Json] = _as_stored
    view: Callable[[Json, str], Json] = _same_view
    shared: Callable[[StoreBase], Json] = _nothing_shared


def require(call: Call, action: str, *, exists: bool = True) -> None:
    """WooCommerce's permission callbacks: anonymous callers get 401, except on a missing
    object, where the controller's invalid-id error answers instead."""
    if call.identity.authenticated or not exists:
        return
    code, message = _DENIED[action]
    raise SandboxError(code, message, 401)


class Site(Protocol):
    """What the REST layer needs from the server serving it."""

    @property
    def store(self) -> StoreBase: ...
    @property
    def authenticator(self) -> Authenticator: ...
    @property
    def base_url(self) -> str: ...
    @property
    def api_url(self) -> str: ...
    @property
    def overrides(self) -> ServedOverrides: ...


class RestApi:
    """The wc/v3 and wp/v2 routes: authentication, routing, permissions, store calls, shapes."""

    def __init__(self, site: Site, routes: Iterable[Route]) -> None:
        self.site = site
        self.store = site.store
        self.sort_cache = SortCache()
        self.routes = [
            (frozenset(r.methods.split()), re.compile(f"^{r.pattern}/?$", re.IGNORECASE), r.handler)
            for r in routes
        ]

    def store_as(self, kind: type[T]) -> T:
        """The store as the part (mixin) a resource module works with."""
        store = self.store
        if not isinstance(store, kind):
            raise TypeError(f"the sandbox store has no {kind.__name__}")
        return store

    # --- dispatch -------------------------------------------------------------------------------

    def dispatch(self, request: Request, decision: FaultDecision) -> Response:
        """Authenticate (WooCommerce first, then WordPress), check the key, route, answer."""
        route = request.path[len("/wp-json") :]
        if route.strip("/") == "":
            return Response.json(200, self._index())
        try:
            identity = self.site.authenticator.authenticate(self._auth_request(request, route))
            Authenticator.check_permissions(identity, request.method)
            handler, ids = self._match(request.method, route)
            body = _body_params(request)
            call = Call(request, identity, ids, {**request.query, **body}, body, decision)
            return handler(self, call).with_fields(requested(call.params.get("_fields")))
        except SandboxError as error:
            return error_response(error)

    def _auth_request(self, request: Request, route: str) -> AuthRequest:
        form = {}
        if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            form = php_parse_str(request.body.decode("utf-8", "replace"))
        return AuthRequest(
            method=request.method,
            url=f"{self.site.base_url}{request.path}",
            query=request.query,
            form=form,
            authorization=request.headers.get("Authorization", ""),
            is_ssl=request.is_ssl,
            wc_route=route.lstrip("/").lower().startswith(("wc/", "wc-")),
        )

    def _match(self, method: str, route: str) -> tuple[Handler, tuple[Any, ...]]:
        """The handler and the URL's ids: numbers as ints, slugs (gateway, tool ids) as strings."""
        method = "GET" if method == "HEAD" else method
        for methods, regex, handler in self.routes:
            if method in methods and (found := regex.match(route)):
                return handler, tuple(int(g) if g.isdigit() else g for g in found.groups())
        raise _NO_ROUTE

    def _index(self) -> Json:
        return {
            "name": "Sandbox Store",
            "description": "A local WooCommerce store for tests and dry runs",
            "url": self.site.base_url,
            "home": self.site.base_url,
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
        served: Served,
        scope: Callable[[dict[str, Any]], list[Predicate]] | None = None,
        *,
        among: Sized[int] | None = None,
        public: bool = False,
    ) -> Response:
        """One page of `served`'s collection; `scope` adds the route's filters, `among` limits
        it to some ids."""
        return self.page_response(call, served, scope, among=among, public=public)[0]

    def page_response(
        self,
        call: Call,
        served: Served,
        scope: Callable[[dict[str, Any]], list[Predicate]] | None = None,
        *,
        among: Sized[int] | None = None,
        public: bool = False,
    ) -> tuple[Response, Page]:
        """`serve_list`, with the page served (its ids) for handlers that act on it after."""
        collection = served.collection
        if collection is None:
            raise TypeError(f"{served.resource} is not a listed resource")
        args = validate(collection.params, without_exclude(call.params, call.decision))
        if not public:  # public listings (blog comments) apply their own rules first
            require(call, "list")
        extra = scope(args) if scope else ()
        page = list_page(
            self.store, collection, args, scope=extra, among=among, cache=self.sort_cache
        )
        shared = served.shared(self.store)
        items = [
            self.site.overrides.apply(
                served.resource, obj.get("id"), self.shape(served, obj, args["context"], shared)
            )
            for obj in page.items
        ]
        response = Response.json(200, items, self.paging_headers(call.request, page))
        if call.decision.kind == "ignore_exclude":
            response.fault = "ignore_exclude"
        return response, page

    def get(self, call: Call, served: Served) -> Response:
        """GET {base}/{id}: one object."""
        args = validate(ITEM_ARGS, call.params)
        require(call, "view", exists=self.exists(served.resource, call.ids[0]))
        obj = self.store.get(served.resource, call.ids[0])
        shaped = self.shape(served, obj, args["context"])
        return Response.json(200, self.site.overrides.apply(served.resource, obj.get("id"), shaped))

    def create(self, call: Call, served: Served, create: Callable[[Json], Json]) -> Response:
        """POST {base}: 201 with the new object and its Location."""
        require(call, "create")
        obj = create(call.body)
        location = f"{self.site.api_url}/wc/v3/{served.resource}/{obj['id']}"
        return Response.json(201, self.shape(served, obj, "edit"), {"Location": location})

    def update(self, call: Call, served: Served, update: Callable[[int, Json], Json]) -> Response:
        """PUT/PATCH/POST {base}/{id}: the updated object."""
        require(call, "edit", exists=self.exists(served.resource, call.ids[0]))
        obj = update(call.ids[0], call.body)
        return Response.json(200, self.shape(served, obj, "edit"))

    def delete(
        self, call: Call, served: Served, delete: Callable[[int, dict[str, Any]], Json]
    ) -> Response:
        """DELETE {base}/{id}: the object as it was; `delete` gets the id and `force`/`reassign`."""
        args = validate(DELETE_ARGS, call.params)
        obj_id = call.ids[0]
        require(call, "delete", exists=self.exists(served.resource, obj_id))
        obj = delete(obj_id, args)
        return Response.json(200, self.shape(served, obj, "edit"))

    # --- shapes and headers ---------------------------------------------------------------------

    def shape(self, served: Served, obj: Json, context: str, shared: Json | None = None) -> Json:
        """`obj` as served; `shared` holds what a whole page's links need (computed once)."""
        extra: Json = dict(shared) if shared is not None else served.shared(self.store)
        obj = served.view(served.prepare(self.store, obj, extra), context)
        return {**obj, "_links": served.links(obj, self.site.api_url, extra)}

    def paging_headers(self, request: Request, page: Page) -> dict[str, str]:
        """X-WP-Total, X-WP-TotalPages and Link (prev/next) as WooCommerce's get_items() sends."""
        headers = {"X-WP-Total": str(page.total), "X-WP-TotalPages": str(page.total_pages)}
        links = []
        if page.page > 1:
            links.append(
                f'<{self._page_url(request, min(page.page - 1, page.total_pages))}>; rel="prev"'
            )
        if page.total_pages > page.page:
            links.append(f'<{self._page_url(request, page.page + 1)}>; rel="next"')
        headers["Link"] = ", ".join(links) or f'<{self.site.api_url}/>; rel="https://api.w.org/"'
        return headers

    def _page_url(self, request: Request, number: int) -> str:
        pairs = [
            (k, v)
            for k, v in _flatten(request.query)
            if not k.startswith("oauth_") and k not in SECRET_PARAMS
        ]
        pairs = [(k, v) for k, v in pairs if k != "page"] + [("page", str(number))]
        return f"{self.site.base_url}{request.path}?{urlencode(pairs)}"


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


EDIT = "POST PUT PATCH"


def collection_routes(
    path: str,
    served: Served,
    *,
    create: Callable[[RestApi], Callable[[Json], Json]],
    update: Callable[[RestApi], Callable[[int, Json], Json]],
    batch: Handler,
    delete: Handler,
) -> tuple[Route, ...]:
    """A writable collection's routes: list, create, batch, get, update and delete by id."""
    item = path + r"/(\d+)"
    return (
        Route("GET", path, lambda api, c: api.serve_list(c, served)),
        Route("POST", path, lambda api, c: api.create(c, served, create(api))),
        Route(EDIT, path + "/batch", batch),
        Route("GET", item, lambda api, c: api.get(c, served)),
        Route(EDIT, item, lambda api, c: api.update(c, served, update(api))),
        Route("DELETE", item, delete),
    )
