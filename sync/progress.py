"""Progress for long syncs: a live line on a terminal, periodic plain log lines under cron.

Several listings run at once (refunds and the order listings are fetched concurrently), so a
progress counts items through several named stages at a time: each listing's `start` adds its
stage, `fetched` counts what its thread has read ahead, `advance` what the ledger has taken, and
`finish` removes it. Calls without a `stage` go to the stage started last, so a source with one
listing at a time never names it. Thread-safe: totals and reads arrive from fetching threads.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

log = logging.getLogger("sync")


class Progress:
    """Counts items through named stages. The base class is silent (tests, --json)."""

    def start(self, stage: str, total: int | None = None) -> None:
        """A new stage begins (beside those still running); `total` when the store said it."""

    def total(self, total: int, stage: str | None = None) -> None:
        """The total became known after the stage started."""

    def fetched(self, count: int, stage: str | None = None) -> None:
        """`count` more items were read from the store ahead of the ledger."""

    def advance(self, count: int, stage: str | None = None) -> None:
        """`count` more items are done."""

    def finish(self, stage: str | None = None) -> None:
        """The stage is over."""


@dataclass
class _Stage:
    name: str
    expected: int | None = None
    done: int = 0
    read: int = 0
    started: float = field(default_factory=time.monotonic)
    next_report: int = 0


class _Stages(Progress):
    """The running stages, in the order they started; subclasses say what to show."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages: dict[str, _Stage] = {}

    def _find(self, stage: str | None) -> _Stage | None:
        if stage is not None:
            return self._stages.get(stage)
        return next(reversed(self._stages.values()), None)

    def start(self, stage: str, total: int | None = None) -> None:
        with self._lock:
            self._stages.pop(stage, None)
            self._stages[stage] = self._begun(_Stage(stage, total))
            self._changed(self._stages[stage])

    def total(self, total: int, stage: str | None = None) -> None:
        with self._lock:
            if (found := self._find(stage)) is not None:
                found.expected = total
                self._changed(found)

    def fetched(self, count: int, stage: str | None = None) -> None:
        with self._lock:
            if (found := self._find(stage)) is not None:
                found.read += count
                self._changed(found)

    def advance(self, count: int, stage: str | None = None) -> None:
        with self._lock:
            if (found := self._find(stage)) is not None:
                found.done += count
                found.read = max(found.read, found.done)
                self._advanced(found)

    def finish(self, stage: str | None = None) -> None:
        with self._lock:
            found = self._find(stage)
            if found is not None:
                del self._stages[found.name]
                self._finished(found)

    def _begun(self, stage: _Stage) -> _Stage:
        return stage

    def _changed(self, stage: _Stage) -> None: ...

    def _advanced(self, stage: _Stage) -> None:
        self._changed(stage)

    def _finished(self, stage: _Stage) -> None: ...


class TerminalProgress(_Stages):
    """One line rewritten in place, each running listing on it:
    `refunds  300 / 1,000  30%  85/s | orders  1,200 / 10,000  12% (2,000 read)  410/s`."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        super().__init__()
        self.stream = stream
        self._width = 0

    def _changed(self, stage: _Stage) -> None:
        self._draw()

    def _finished(self, stage: _Stage) -> None:
        # A finished stage's last state stays on the screen, on a line of its own.
        self._write(_describe(stage))
        self.stream.write("\n")
        self._width = 0
        self._draw()

    def _draw(self) -> None:
        if self._stages:
            self._write(" | ".join(_describe(s) for s in self._stages.values()))
        self.stream.flush()

    def _write(self, line: str) -> None:
        padding = " " * max(0, self._width - len(line))
        self.stream.write(f"\r{line}{padding}")
        self._width = len(line)


def _describe(stage: _Stage) -> str:
    rate = stage.done / max(time.monotonic() - stage.started, 1e-6)
    line = f"{stage.name:<16} {stage.done:>9,}"
    if stage.expected:
        line += f" / {stage.expected:,}  {min(100, 100 * stage.done // stage.expected):>3}%"
    if stage.read > stage.done:
        line += f" ({stage.read:,} read)"
    return f"{line}  {rate:,.0f}/s"


class LogProgress(_Stages):
    """A log line when a stage ends, and every `every` items in between (for cron's mail)."""

    def __init__(self, every: int = 5000) -> None:
        super().__init__()
        self.every = every

    def _begun(self, stage: _Stage) -> _Stage:
        stage.next_report = self.every
        return stage

    def _advanced(self, stage: _Stage) -> None:
        if stage.done >= stage.next_report:
            while stage.next_report <= stage.done:
                stage.next_report += self.every
            of = f" of {stage.expected:,}" if stage.expected else ""
            log.info("%s: %s%s done", stage.name, f"{stage.done:,}", of)

    def _finished(self, stage: _Stage) -> None:
        log.info("%s: %s done", stage.name, f"{stage.done:,}")


def make_progress(*, enabled: bool) -> Progress:
    """A terminal progress line when `enabled` (stderr is a terminal), log lines otherwise."""
    return TerminalProgress() if enabled else LogProgress()
