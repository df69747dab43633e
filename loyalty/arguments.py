"""Argument types the CLI's commands share (`loyalty.cli`, `loyalty.report_cli`)."""

from __future__ import annotations

import argparse

from ledger.types import storable_text


def plain_text(text: str) -> str:
    """An argument without NUL or another control character (a file name, a host, a reason):
    PostgreSQL, the file system and the socket layer each refuse them, as an internal error."""
    if not storable_text(text):
        raise argparse.ArgumentTypeError(f"{text!r} holds a control character")
    return text
