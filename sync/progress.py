"""Progress for long syncs: a live line on a terminal, periodic plain log lines under cron."""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

log = logging.getLogger("sync")


class Progress:
    """Counts items through named stages. The base class is silent (tests, --json)."""

    def start(self, stage: str, total: int | None = None) -> None:
        """A new stage begins; `total` when the store said how many items there are."""

    def total(self, total: int) -> None:
        """The total became known after the stage started."""

    def advance(self, count: int) -> None:
        """`count` more items are done."""

    def finish(self) -> None:
        """The stage is over."""


class TerminalProgress(Progress):
    """One line rewritten in place: `orders  1,200 / 10,000  12%  85/s`."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.stage = ""
        self.done = 0
        self.expected: int | None = None
        self.started = time.monotonic()

    def start(self, stage: str, total: int | None = None) -> None:
        self.stage, self.done, self.expected, self.started = stage, 0, total, time.monotonic()
        self._draw()

    def total(self, total: int) -> None:
        self.expected = total
        self._draw()

    def advance(self, count: int) -> None:
        self.done += count
        self._draw()

    def finish(self) -> None:
        self._draw()
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self) -> None:
        rate = self.done / max(time.monotonic() - self.started, 1e-6)
        line = f"{self.stage:<16} {self.done:>9,}"
        if self.expected:
            line += f" / {self.expected:,}  {min(100, 100 * self.done // self.expected):>3}%"
        self.stream.write(f"\r{line}  {rate:,.0f}/s   ")
        self.stream.flush()


class LogProgress(Progress):
    """A log line when a stage ends, and every `every` items in between (for cron's mail)."""

    def __init__(self, every: int = 5000) -> None:
        self.every = every
        self.stage = ""
        self.done = 0
        self.next_report = every
        self.expected: int | None = None

    def start(self, stage: str, total: int | None = None) -> None:
        self.stage, self.done, self.next_report, self.expected = stage, 0, self.every, total

    def total(self, total: int) -> None:
        self.expected = total

    def advance(self, count: int) -> None:
        self.done += count
        if self.done >= self.next_report:
            self.next_report += self.every
            of = f" of {self.expected:,}" if self.expected else ""
            log.info("%s: %s%s done", self.stage, f"{self.done:,}", of)

    def finish(self) -> None:
        log.info("%s: %s done", self.stage, f"{self.done:,}")


def make_progress(*, enabled: bool) -> Progress:
    """A terminal progress line when `enabled` (stderr is a terminal), log lines otherwise."""
    return TerminalProgress() if enabled else LogProgress()
