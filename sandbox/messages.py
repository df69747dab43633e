"""HTTP requests and responses as the sandbox dispatchers see them; JSON as WordPress writes it.

For `sandbox.server` (which reads and writes them on the socket) and the route modules
(`sandbox.rest`, `sandbox.control`), which answer a `Request` with a `Response`.
`public_query` is the one place that says which query parameters are secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from email.message import Message
from typing import Any

from sandbox.errors import SandboxError
from sandbox.fields import Spec, filtered

Json = dict[str, Any]
SECRET_PARAMS = frozenset(
    {"oauth_signature", "oauth_consumer_key", "consumer_key", "consumer_secret"}
)


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
    #: The value a JSON answer was encoded from (for `_fields`, `sandbox.fields`), else None.
    payload: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        headers = {**_JSON_HEADERS, **(headers or {})}
        return cls(status, encode_json(payload), headers, payload=payload)

    def with_fields(self, spec: Spec | None) -> Response:
        """This answer trimmed to the `_fields` asked for (an error answer never is)."""
        if spec is None or self.payload is None or self.status >= 400:
            return self
        payload = filtered(self.payload, spec)
        return replace(self, body=encode_json(payload), payload=payload)


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


def error_response(error: SandboxError, headers: dict[str, str] | None = None) -> Response:
    return Response.json(error.status, error.body(), headers)
