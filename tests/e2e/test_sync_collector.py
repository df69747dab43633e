"""A sync run relaxes Python's collector while it lasts (`sync.collector`) and restores it after,
whether the run succeeds or fails: the CLI, the worker and the dashboard all go through here."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine

from loyalty.config import Config
from loyalty.sync_settings import sync_settings
from sync.collector import RUN_THRESHOLDS
from sync.progress import Progress
from sync.service import run_sync

DEFAULTS = (700, 10, 10)


class Watching(Progress):
    """Notes the collector's thresholds when a listing starts; raises there if asked."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.seen: list[tuple[int, int, int]] = []

    def start(self, stage: str, total: int | None = None) -> None:
        self.seen.append(gc.get_threshold())
        if self.fail:
            raise RuntimeError("a listing broke")


@pytest.fixture(autouse=True)
def default_collector() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*DEFAULTS)
    yield
    gc.set_threshold(*before)


def test_a_run_is_relaxed_while_it_lasts_and_restored_after(
    config: Config, engine_for: Callable[[], Engine]
) -> None:
    watching = Watching()
    summary = run_sync(sync_settings(config), full=True, progress=watching, engine=engine_for())
    assert summary.ok
    assert watching.seen
    assert set(watching.seen) == {RUN_THRESHOLDS}
    assert gc.get_threshold() == DEFAULTS
    assert gc.get_freeze_count() == 0


def test_a_failed_run_restores_the_collector_too(
    config: Config, engine_for: Callable[[], Engine]
) -> None:
    watching = Watching(fail=True)
    with pytest.raises(RuntimeError, match="a listing broke"):
        run_sync(sync_settings(config), full=True, progress=watching, engine=engine_for())
    assert watching.seen == [RUN_THRESHOLDS]
    assert gc.get_threshold() == DEFAULTS
    assert gc.get_freeze_count() == 0
