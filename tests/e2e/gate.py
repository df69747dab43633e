"""Pausing a client mid-run at a request to the sandbox, so tests can act (or kill it) meanwhile."""

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


class Hold:
    """Holds the first API request matching `method` and a path ending in `path` until released.

    `when="before"`: the store has not seen it yet. `when="after"`: the store has acted on it
    (a coupon created...) and the answer waits, as if the client were about to read it. `reached`
    is set once the request is held: a test waits on it instead of sleeping, then acts (kills the
    client) and releases it, so that the sandbox's thread ends.
    """

    def __init__(self, sandbox: SandboxServer, method: str, path: str, *, when: str) -> None:
        if when not in ("before", "after"):
            raise ValueError(f"when must be before or after, got {when!r}")
        self.reached = threading.Event()
        self.released = threading.Event()
        self._method, self._path, self._when = method, path, when
        self._taken = threading.Lock()
        self._sandbox = sandbox
        if when == "before":
            sandbox.before_request = self._before
        else:
            sandbox.after_request = self._after

    def _before(self, method: str, path: str, query: dict[str, object]) -> None:
        self._hold(method, path)

    def _after(self, method: str, path: str, query: dict[str, object], status: int) -> None:
        self._hold(method, path)

    def _hold(self, method: str, path: str) -> None:
        if method != self._method or not path.endswith(self._path) or self.reached.is_set():
            return
        with self._taken:
            if self.reached.is_set():
                return
            self.reached.set()
        assert self.released.wait(timeout=120)

    def release(self) -> None:
        self.released.set()
        self._sandbox.before_request = None
        self._sandbox.after_request = None
