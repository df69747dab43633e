"""Fixtures for the command-line tests (each `main()` call configures logging)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

_TOUCHED = ("", "urllib3", "requests_oauthlib", "oauthlib", "alembic", "sqlalchemy")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put back the root handlers and the levels `configure_logging` changes, for later tests."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    levels = {name: logging.getLogger(name).level for name in _TOUCHED}
    yield
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
