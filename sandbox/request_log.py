"""The sandbox server's request log: what was asked, how it was answered, which fault was injected.

For tests and the control API (`GET /sandbox/requests`), which count and inspect the requests a
client made. Records carry the query without credentials (see `sandbox.messages.public_query`).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

_LOG_LIMIT = 200_000


@dataclass(frozen=True)
class RequestRecord:
    """One served request. `query` has no credentials; `fault` names an injected fault.

    `duration_ms` is wall time from the request read to the answer ready; `cpu_ms` the CPU time
    the server's thread spent on it (what it costs, however busy the machine is); `in_flight`
    how many requests the server was answering when it arrived, itself included."""

    method: str
    path: str
    query: dict[str, Any]
    status: int
    duration_ms: float
    fault: str | None = None
    cpu_ms: float = 0.0
    #: Requests being served when this one arrived, itself included: 2 or more means a client
    #: had requests in flight at once (a fact of the log, not of timing).
    in_flight: int = 1


class RequestLog:
    """Every request the server answered, in order (the newest 200,000 kept). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=_LOG_LIMIT)
        self._in_flight = 0

    def arrived(self) -> int:
        """A request arrived: how many are being answered now, itself included."""
        with self._lock:
            self._in_flight += 1
            return self._in_flight

    def answered(self) -> None:
        """A request that `arrived` has been answered (or failed)."""
        with self._lock:
            self._in_flight -= 1

    def record(self, entry: RequestRecord) -> None:
        with self._lock:
            self._records.append(entry)

    def entries(
        self, *, path_prefix: str | None = None, method: str | None = None
    ) -> list[RequestRecord]:
        """The records, oldest first; optionally only those under a path prefix and/or of a method."""
        with self._lock:
            records = list(self._records)
        return [
            r
            for r in records
            if (path_prefix is None or r.path.startswith(path_prefix))
            and (method is None or r.method == method.upper())
        ]

    def count(self, *, path_prefix: str | None = None, method: str | None = None) -> int:
        return len(self.entries(path_prefix=path_prefix, method=method))

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
