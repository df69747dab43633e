"""`Gate`: pause a sync at its first request to the sandbox, so tests can act while it runs."""

from __future__ import annotations

import threading

from sandbox.server import SandboxServer


class Gate:
    """Holds the store's first API request until opened: a sync paused mid-run, on purpose."""

    def __init__(self, sandbox: SandboxServer) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()
        self._first = True
        self._sandbox = sandbox
        sandbox.before_request = self

    def __call__(self, method: str, path: str, query: dict[str, object]) -> None:
        if self._first:
            self._first = False
            self.entered.set()
            assert self.opened.wait(timeout=120)

    def close(self) -> None:
        self.opened.set()
        self._sandbox.before_request = None
