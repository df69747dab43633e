"""Redaction of secrets from any text: the one mechanism behind logs, CLI output and the database.

The config loader (and the sync, for the credentials it is handed) registers every secret value
with `register_secret`; `redact` then masks those values, in their URL-encoded forms too, and
credentials that have a recognisable shape whether registered or not: `consumer_secret=...` in a
URL, `Authorization:` headers, WooCommerce `ck_`/`cs_` keys, `Basic`/`Bearer` credentials.
`loyalty.log` applies it to every log record; the sync applies it to whatever a store said before
storing it (`meta_writes.last_error`, `sync_runs.summary`, quarantined items).
"""

from __future__ import annotations

import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words and digits all over the log

_lock = threading.Lock()
_secrets: list[str] = []  # longest first, so a secret containing another is masked whole

# Credentials that have a shape, whether or not they were registered: query parameters of the
# WooCommerce client (Basic-over-query and OAuth 1.0a), the same names as quoted dict keys, and
# Authorization headers up to the end of the line or the closing quote.
_QUERY_CREDENTIAL = re.compile(
    r"(?i)\b(oauth_signature|oauth_consumer_key|consumer_key|consumer_secret)=[^&\s'\"]+"
)
_QUOTED_CREDENTIAL = re.compile(
    r"(?i)(['\"](?:oauth_signature|oauth_consumer_key|consumer_key|consumer_secret)['\"]\s*:\s*)"
    r"(['\"])[^'\"]*\2"
)
# (Up to a backslash too: inside JSON text the closing quote is escaped, and the escape must stay.)
_AUTHORIZATION = re.compile(r"(?i)(\bauthorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n\\]+")
# Shapes a store may echo without a header name: WooCommerce keys (ck_/cs_ and 40 hex digits, or
# anything as long) and HTTP Basic or Bearer credentials.
_WOOCOMMERCE_KEY = re.compile(r"\b(c[ks])_[0-9A-Za-z]{16,}")
_SCHEME_CREDENTIAL = re.compile(r"\b(Basic|Bearer)(\s+)[A-Za-z0-9+/._~-]{16,}=*")


def register_secret(value: str) -> None:
    """Mask `value` (and its URL-encoded forms) in every log record from now on.

    Called by the config loader for each secret it reads. Values shorter than four characters are
    ignored: masking "abc" everywhere would make the log unreadable and protects nothing.
    """
    if len(value) < MIN_SECRET_LENGTH:
        return
    forms = {value, quote(value, safe=""), quote_plus(value)}
    with _lock:
        for form in forms:
            if form not in _secrets:
                _secrets.append(form)
        _secrets.sort(key=len, reverse=True)


def forget_secrets() -> None:
    """Drop every registered secret. For tests that need a clean registry."""
    with _lock:
        _secrets.clear()


def redact(text: str) -> str:
    """Return `text` with registered secrets and shaped credentials replaced by `***`.

    The CLI passes every error line it prints through this too, not only log records.
    """
    with _lock:
        secrets = list(_secrets)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    text = _QUERY_CREDENTIAL.sub(lambda m: f"{m.group(1)}={MASK}", text)
    text = _QUOTED_CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", text)
    text = _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _WOOCOMMERCE_KEY.sub(lambda m: f"{m.group(1)}_{MASK}", text)
    return _SCHEME_CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)


def redact_value(value: Any) -> Any:
    """`value` with `redact` applied to every string in it (dict keys and values, list items),
    for structures about to be stored as JSON: redacting the JSON text could break its quoting."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value
