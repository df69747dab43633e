"""Logging for the CLI and the worker, with every secret redacted before it is written.

`configure_logging` sets up one plain, one-line-per-message handler (readable on a terminal and in a
cron mail alike). `RedactingFilter` sits on that handler: whatever a log record carries (message,
args, traceback text) is scrubbed of registered secret values and of credentials that have a
recognisable shape (`consumer_secret=...` in a URL, `Authorization:` headers). The config loader
registers every secret it reads with `register_secret`, so code that logs a URL or an exception from
`requests` cannot leak a key by accident.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import TextIO
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
_AUTHORIZATION = re.compile(r"(?i)(\bauthorization['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n]+")

_HANDLER_NAME = "loyalty"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S%z"
_NOISY_LOGGERS = ("urllib3", "requests_oauthlib", "oauthlib", "alembic")
_QUIET_LOGGERS = ("sqlalchemy",)  # its DEBUG logs every result row: never useful on a terminal


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
    return _AUTHORIZATION.sub(lambda m: f"{m.group(1)}{MASK}", text)


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites each record so no secret reaches the output.

    The message is formatted with its args first (a secret may sit in either) and the record keeps
    only the redacted text; a traceback is formatted and redacted here too, because exception
    messages from HTTP libraries often quote the full request URL.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging(*, verbose: bool = False, stream: TextIO | None = None) -> None:
    """Send log records to `stream` (stderr by default), one plain line each, secrets redacted.

    INFO and up by default; `verbose` shows DEBUG, including the chatty HTTP and database
    libraries. Calling it again replaces the handler it installed before instead of adding one.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(_FORMAT, datefmt=_DATE_FORMAT))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
