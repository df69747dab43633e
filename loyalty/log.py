"""Logging for the CLI and the worker, with every secret redacted before it is written.

`configure_logging` sets up one plain, one-line-per-message handler (readable on a terminal and in a
cron mail alike). `RedactingFilter` sits on that handler: whatever a log record carries (message,
args, traceback text) is scrubbed of registered secret values and of credentials that have a
recognisable shape (`consumer_secret=...` in a URL, `Authorization:` headers), and its control
characters are shown escaped (`terminal_safe`), never run by the terminal. The config loader
registers every secret it reads with `register_secret`, so code that logs a URL or an exception from
`requests` cannot leak a key by accident.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

from sync.redaction import MASK, forget_secrets, redact, redact_value, register_secret

__all__ = [
    "MASK",
    "RedactingFilter",
    "configure_logging",
    "forget_secrets",
    "redact",
    "redact_value",
    "register_secret",
    "terminal_safe",
]

_HANDLER_NAME = "loyalty"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S%z"
_NOISY_LOGGERS = ("urllib3", "requests_oauthlib", "oauthlib", "alembic")
_QUIET_LOGGERS = ("sqlalchemy",)  # its DEBUG logs every result row: never useful on a terminal
#: What a terminal acts on rather than shows: C0 controls but tab and line feed, DEL, C1 controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """`text` with each control character a terminal would act on written as its escape
    (`\\x1b`): store text (an email, a coupon code in a note, an error message) reaches the
    CLI's output and the log, and its escape sequences would clear the screen, retitle the
    window, write the clipboard or hide the rest of a line. Tabs and line breaks stay."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites each record so no secret reaches the output.

    The message is formatted with its args first (a secret may sit in either) and the record keeps
    only the redacted text; a traceback is formatted and redacted here too, because exception
    messages from HTTP libraries often quote the full request URL.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = terminal_safe(redact(record.getMessage()))
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = terminal_safe(redact(record.exc_text))
        if record.stack_info:
            record.stack_info = terminal_safe(redact(record.stack_info))
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
