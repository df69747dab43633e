"""glibc's allocator hands a run's freed page buffers back to the system (sync/allocator.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sync import allocator

ROOT = Path(__file__).resolve().parents[2]

# A page's body freed under something kept, after glibc has seen one big block freed: the pattern
# of a sync's fetching threads. Prints how many MB of the freed bodies the process still holds.
_PAGES = textwrap.dedent(
    """
    import sys
    from sync.allocator import give_back_freed_memory
    if sys.argv[2] == "fixed":
        assert give_back_freed_memory()

    def rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024

    big = bytearray(4 << 20)
    del big  # glibc raises its thresholds past 4 MiB here, unless they are fixed
    before = rss_mb()
    bodies, kept = [], []
    for _ in range(int(sys.argv[1])):
        bodies.append(b"x" * 300_000)  # a page's body
        kept.append(b"y" * 1000)  # something the run keeps, allocated after it
    del bodies
    print(rss_mb() - before)
    """
)


def _held_after_freeing(pages: int, mode: str) -> float:
    # glibc's own settings from the environment would change what the control shows
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    answer = subprocess.run(
        [sys.executable, "-c", _PAGES, str(pages), mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return float(answer.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc, /proc")
def test_freed_page_buffers_go_back_to_the_system_once_the_thresholds_are_fixed() -> None:
    if allocator._mallopt() is None:
        pytest.skip("not glibc")
    # How much glibc keeps with its own raised thresholds depends on where the blocks fell; at
    # some of these counts (not all) it keeps megabytes: the control that this test can fail.
    counts = (50, 100, 150)
    assert max(_held_after_freeing(n, "raised") for n in counts) >= 5
    assert all(_held_after_freeing(n, "fixed") < 1 for n in counts)


def test_fixing_the_thresholds_is_done_once_and_is_a_no_op_without_glibc(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[int, int]] = []

    def mallopt(parameter: int, value: int) -> int:
        calls.append((parameter, value))
        return 1

    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setattr(allocator, "_mallopt", lambda: mallopt)
    assert allocator.give_back_freed_memory()
    assert allocator.give_back_freed_memory()
    assert calls == [
        (allocator.M_MMAP_THRESHOLD, allocator.THRESHOLD_BYTES),
        (allocator.M_TRIM_THRESHOLD, allocator.THRESHOLD_BYTES),
    ]
    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setattr(allocator, "_mallopt", lambda: None)
    assert not allocator.give_back_freed_memory()


# Freed blocks under the mmap threshold, each under a block the run keeps: the heap cannot shrink
# from its top, and only `malloc_trim` hands the free pages inside it back. Prints the MB held
# after freeing, then after handing back.
_HOLES = textwrap.dedent(
    """
    import sys
    from sync.allocator import give_back_freed_memory, hand_back_free_pages
    assert give_back_freed_memory()

    def rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024

    before = rss_mb()
    bodies, kept = [], []
    for i in range(200):
        bodies.append(b"x" * 100_000)  # a decoded page's larger strings: from the heap
        kept.append(b"y" * 1000 + str(i).encode())  # kept, after it (not a folded constant)
    del bodies
    held = rss_mb() - before
    assert hand_back_free_pages()
    print(held, rss_mb() - before)
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc, /proc")
def test_free_pages_inside_the_heap_are_handed_back() -> None:
    if allocator._malloc_trim() is None:
        pytest.skip("not glibc")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    answer = subprocess.run(
        [sys.executable, "-c", _HOLES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    held, after = map(float, answer.stdout.split())
    assert held >= 10  # the control: 20 MB of freed bodies, most of it still in the process
    assert after < 3


def test_each_unit_of_work_hands_free_pages_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import create_engine, text

    from sync import context

    calls: list[int] = []

    def hand_back() -> bool:
        calls.append(1)
        return True

    monkeypatch.setattr(context, "hand_back_free_pages", hand_back)
    engine = create_engine("sqlite://")
    try:
        for dry_run in (False, True):
            with context.Transactions(engine, dry_run=dry_run) as tx:
                for _ in range(3):
                    with tx.unit() as session:
                        session.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert len(calls) == 6


def test_handing_back_is_a_no_op_without_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "_malloc_trim", lambda: None)
    assert not allocator.hand_back_free_pages()
