"""Who is calling the sandbox store: WooCommerce keys and WordPress Application Passwords.

For the sandbox server, mirroring `class-wc-rest-authentication.php` (WooCommerce) and
`wp_validate_application_password` (WordPress) closely enough that the official `woocommerce`
client, and our sync, meet the same successes and the same 401 bodies as on a real store:

- `wc/...` routes over HTTPS: `consumer_key`/`consumer_secret` query parameters (they win) or HTTP
  Basic with the key pair. Over plain HTTP both are ignored, as WooCommerce ignores them.
- `wc/...` routes, any scheme: OAuth 1.0a one-legged (HMAC-SHA1 or HMAC-SHA256) from the query,
  a form body or an `Authorization: OAuth` header; signature first, then the ±15 minute timestamp
  window, then nonce reuse (nonces are remembered per key and timestamp, as WooCommerce does).
- any route: HTTP Basic with the WordPress user and its Application Password (spaces optional).
  The sandbox is a WordPress `local` environment, where Application Passwords work without HTTPS.
  A wrong password is 401 `incorrect_password`. On `wp/v2` a Basic username that is no user is
  401 `invalid_username` (`invalid_email` when it looks like an email), as
  `wp_authenticate_application_password` answers: WooCommerce keys never authenticate `wp/v2`.
  On `wc/...` routes such a username is left to WooCommerce's own check (anonymous).

An unknown consumer key over Basic leaves the request anonymous; the controller then answers
401 `woocommerce_rest_cannot_view`. Secrets never reach a repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from sandbox.errors import SandboxError

NONCE_WINDOW_SECONDS = 15 * 60
_OAUTH_REQUIRED = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
_HASHES = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
_NUMERIC = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
EMAIL_LIKE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # what WordPress's is_email accepts, roughly
_OAUTH_HEADER_PARAM = re.compile(r'(oauth_[a-z_-]*)=(:?"([^"]*)"|([^,]*))')


@dataclass(frozen=True)
class ApiKey:
    """A WooCommerce REST API key. `permissions`: read, write or read_write."""

    consumer_key: str = field(repr=False)
    consumer_secret: str = field(repr=False)
    permissions: str = "read_write"
    user_id: int = 1

    def __post_init__(self) -> None:
        if self.permissions not in ("read", "write", "read_write"):
            raise ValueError(
                f"permissions must be read, write or read_write, got {self.permissions!r}"
            )


@dataclass(frozen=True)
class WpUser:
    """The WordPress administrator with an Application Password (for `wp/v2` moderation)."""

    username: str
    app_password: str = field(repr=False)
    email: str = "admin@sandbox.test"
    user_id: int = 1


@dataclass(frozen=True)
class Identity:
    """The outcome of authentication. `kind`: anonymous, api_key or wp_user."""

    kind: str = "anonymous"
    permissions: str = ""

    @property
    def authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def can_moderate(self) -> bool:
        """May see `context=edit` and `author_email` on `wp/v2` (an administrator)."""
        return self.kind == "wp_user"


ANONYMOUS = Identity()


@dataclass(frozen=True)
class AuthRequest:
    """What the authenticator reads from one request. `url` is scheme://host/path without query."""

    method: str
    url: str
    query: dict[str, Any]
    form: dict[str, Any]
    authorization: str
    is_ssl: bool
    wc_route: bool


def _auth_error(message: str, code: str = "woocommerce_rest_authentication_error") -> SandboxError:
    return SandboxError(code, message, 401)


class Authenticator:
    """Checks credentials against the configured keys and user; remembers OAuth nonces. Thread-safe."""

    def __init__(
        self,
        keys: Sequence[ApiKey],
        wp_user: WpUser | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = {key.consumer_key: key for key in keys}
        self._wp_user = wp_user
        self._clock = clock
        self._nonces: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def authenticate(self, request: AuthRequest) -> Identity:
        """The caller's identity; raises `SandboxError` (401) with WooCommerce's or WordPress's body."""
        if request.wc_route:
            key = self._woocommerce(request)
            if key is not None:
                return Identity(kind="api_key", permissions=key.permissions)
        return self._application_password(request)

    @staticmethod
    def check_permissions(identity: Identity, method: str) -> None:
        """WooCommerce's read/write check of the key, done before routing (rest_pre_dispatch)."""
        if identity.kind != "api_key":
            return
        perms = identity.permissions
        if method in ("GET", "HEAD"):
            if perms not in ("read", "read_write"):
                raise _auth_error("The API key provided does not have read permissions.")
        elif method in ("POST", "PUT", "PATCH", "DELETE"):
            if perms not in ("write", "read_write"):
                raise _auth_error("The API key provided does not have write permissions.")
        elif method != "OPTIONS":
            raise _auth_error("Unknown request method.")

    # --- WooCommerce keys -------------------------------------------------------------------

    def _woocommerce(self, request: AuthRequest) -> ApiKey | None:
        error: SandboxError | None = None
        if request.is_ssl:
            key, error = self._basic_key(request)
            if key is not None:
                return key
        key, oauth_error = self._oauth(request)
        # A failed Basic check stays the answer even if OAuth then succeeds, as in WooCommerce.
        error = oauth_error or error
        if error is not None:
            raise error
        return key

    def _basic_key(self, request: AuthRequest) -> tuple[ApiKey | None, SandboxError | None]:
        ck, cs = request.query.get("consumer_key"), request.query.get("consumer_secret")
        if _php_empty(ck) or _php_empty(cs):
            ck, cs = _basic_credentials(request.authorization)
        if _php_empty(ck) or _php_empty(cs) or not isinstance(ck, str) or not isinstance(cs, str):
            return None, None
        key = self._keys.get(ck)
        if key is None:
            return None, None
        if not hmac.compare_digest(key.consumer_secret.encode(), cs.encode()):
            return None, _auth_error("Consumer secret is invalid.")
        return key, None

    def _oauth(self, request: AuthRequest) -> tuple[ApiKey | None, SandboxError | None]:
        params = {**request.query, **request.form, **_oauth_header_params(request.authorization)}
        missing = [name for name in _OAUTH_REQUIRED if _php_empty(params.get(name))]
        if len(missing) == len(_OAUTH_REQUIRED):
            return None, None
        if missing:
            noun = "parameter" if len(missing) == 1 else "parameters"
            message = f"Missing OAuth {noun} {', '.join(missing)}"
            return None, _auth_error(message, "woocommerce_rest_authentication_missing_parameter")
        key = self._keys.get(str(params["oauth_consumer_key"]))
        if key is None:
            return None, _auth_error("Consumer key is invalid.")
        problem = _signature_problem(request.method, request.url, params, key.consumer_secret)
        if problem is None:
            problem = self._timestamp_and_nonce_problem(
                key, params["oauth_timestamp"], params["oauth_nonce"]
            )
        return (None, _auth_error(problem)) if problem else (key, None)

    def _timestamp_and_nonce_problem(self, key: ApiKey, timestamp: Any, nonce: Any) -> str | None:
        now = self._clock()
        if not isinstance(timestamp, str) or not _NUMERIC.match(timestamp):
            return "Invalid timestamp."
        stamp = float(timestamp)
        if stamp < now - NONCE_WINDOW_SECONDS or stamp > now + NONCE_WINDOW_SECONDS:
            return "Invalid timestamp."
        with self._lock:
            used = self._nonces.setdefault(key.consumer_key, {})
            if nonce in used.values():
                return "Invalid nonce - nonce has already been used."
            # Keyed by timestamp as WooCommerce stores them: one remembered nonce per second.
            used[timestamp.strip()] = str(nonce)
            for stamp_key in [k for k in used if float(k) < now - NONCE_WINDOW_SECONDS]:
                del used[stamp_key]
        return None

    # --- WordPress Application Passwords ------------------------------------------------------

    def _application_password(self, request: AuthRequest) -> Identity:
        user = self._wp_user
        username, password = _basic_credentials(request.authorization)
        if user is None or username is None or password is None:
            return ANONYMOUS
        if username.lower() not in (user.username.lower(), user.email.lower()):
            if request.wc_route:
                return ANONYMOUS
            if EMAIL_LIKE.match(username):
                raise SandboxError(
                    "invalid_email",
                    "<strong>Error</strong>: Unknown email address. Check again or try your"
                    " username.",
                    401,
                )
            raise SandboxError(
                "invalid_username",
                "<strong>Error</strong>: Unknown username. Check again or try your email address.",
                401,
            )
        given = re.sub(r"[^a-zA-Z0-9]", "", password).encode()
        expected = re.sub(r"[^a-zA-Z0-9]", "", user.app_password).encode()
        if not hmac.compare_digest(given, expected):
            raise SandboxError(
                "incorrect_password",
                "The provided password is an invalid application password.",
                401,
            )
        return Identity(kind="wp_user", permissions="read_write")


# --- OAuth 1.0a signature, as WooCommerce computes it -----------------------------------------


def oauth_signature(method: str, url: str, params: dict[str, Any], secret: str, algo: str) -> str:
    """The base64 HMAC WooCommerce expects for these parameters (`oauth_signature` excluded)."""
    pairs = _joined_pairs(_normalized({k: v for k, v in params.items() if k != "oauth_signature"}))
    base = f"{method.upper()}&{_rfc3986(url)}&{'%26'.join(pairs)}"
    digest = hmac.new(f"{secret}&".encode(), base.encode(), _HASHES[algo]).digest()
    return base64.b64encode(digest).decode()


def _signature_problem(method: str, url: str, params: dict[str, Any], secret: str) -> str | None:
    algo = params.get("oauth_signature_method")
    if algo not in _HASHES:
        return "Invalid signature - signature method is invalid."
    given = unquote(str(params["oauth_signature"]).replace(" ", "+"))
    expected = oauth_signature(method, url, params, secret, str(algo))
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return "Invalid signature - provided signature does not match."
    return None


def _rfc3986(value: str) -> str:
    """PHP's rawurlencode: everything but A-Z a-z 0-9 - _ . ~ is percent-encoded (UTF-8)."""
    return quote(value, safe="-_.~")


def _normalized(params: dict[str, Any]) -> dict[str, Any]:
    """Top-level keys sorted byte-wise and encoded; values encoded at every depth (keys below not)."""

    def encode_values(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: encode_values(v) for k, v in value.items()}
        return _rfc3986(str(value))

    return {_rfc3986(key): encode_values(params[key]) for key in sorted(params)}


def _joined_pairs(params: dict[str, Any], prefix: str = "") -> list[str]:
    pairs: list[str] = []
    for key, value in params.items():
        name = f"{prefix}%5B{key}%5D" if prefix else key
        if isinstance(value, dict):
            pairs.extend(_joined_pairs(value, name))
        else:
            pairs.append(_rfc3986(f"{name}={value}"))
    return pairs


def _oauth_header_params(header: str) -> dict[str, str]:
    header = header.strip()
    if not header.startswith("OAuth "):
        return {}
    params: dict[str, str] = {}
    for name, _, quoted, bare in _OAUTH_HEADER_PARAM.findall(header):
        params[name] = unquote_plus(quoted or bare)
    return params


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None, None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None, None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else (None, None)


def _php_empty(value: Any) -> bool:
    return value is None or value in ("", "0") or value == {}


# --- PHP's view of a query string -------------------------------------------------------------


def php_parse_str(query: str) -> dict[str, Any]:
    """Parse a query string or form body the way PHP fills `$_GET`/`$_POST`.

    The last of repeated plain keys wins; `a[]=1&a[]=2` and `a[x]=1` build nested dicts
    (PHP arrays) with string keys; dots and spaces in top-level names become underscores.
    """
    result: dict[str, Any] = {}
    for pair in query.split("&"):
        raw_key, _, raw_value = pair.partition("=")
        key = unquote_plus(raw_key)
        if key and not key.startswith("["):
            _assign(result, key, unquote_plus(raw_value))
    return result


def _assign(target: dict[str, Any], key: str, value: str) -> None:
    bracket = key.find("[")
    if bracket < 0 or "]" not in key[bracket:]:
        target[re.sub(r"[. \[]", "_", key)] = value
        return
    base = re.sub(r"[. ]", "_", key[:bracket])
    segments = re.findall(r"\[([^\]]*)\]", key[bracket:])
    node, name = target, base
    for segment in segments:
        child = node.get(name)
        if not isinstance(child, dict):
            child = {}
            node[name] = child
        node = child
        name = segment if segment != "" else _next_index(node)
    node[name] = value


def _next_index(node: dict[str, Any]) -> str:
    numeric = [int(k) for k in node if k.lstrip("-").isdigit()]
    return str(max(numeric) + 1 if numeric else 0)
