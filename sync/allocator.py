"""glibc's allocator told to hand big freed blocks back to the system during a sync run.

For `sync.service.run_sync`. A sync decodes a page of a hundred orders (a body of a few hundred
kilobytes, strings and buffers of as much) in several threads at once, then frees it. glibc's
malloc serves blocks of 128 KiB and more with `mmap` and returns them when freed, but the first
time such a block is freed it raises that threshold (up to 32 MiB) and the trimming threshold with
it: from then on the pages' buffers come from the heaps of the threads' arenas, where a freed block
under a live one stays in the process. The longer the run, the more such holes: peak memory grew
with the shop's size.

`give_back_freed_memory()` fixes both thresholds at glibc's own defaults (`mallopt`; setting
either one turns the raising off). Measured with `bench/bench_sync.py` (peak RSS, one run each):

| | 10,000 orders | 100,000 orders | ratio |
|---|---|---|---|
| thresholds raised by glibc | 112 MB | 137 MB | x1.22 |
| fixed at 128 KiB | 106 MB | 124 MB | x1.16 |

The process keeps the setting (it is process-wide and the same every run): in the worker and the
dashboard too, every block of 128 KiB or more is then mapped and unmapped on its own, which costs
a page fault per 4 KiB touched (about 1 % of a sync's CPU) and gives the memory back at once.
Elsewhere than on glibc (musl, macOS, Windows) there is no `mallopt` and nothing is done.

Blocks under 128 KiB (a decoded page's larger strings and tables, the database driver's buffers)
still come from the heaps, and a freed one under a live one stays in the process however low the
thresholds. `hand_back_free_pages()` (glibc's `malloc_trim(0)`) gives the whole free pages inside
every heap back; `sync.context.Transactions` calls it after each unit of work, when a group's pages
have just been freed. Measured at 100,000 orders with `--latency-ms 300` (peak RSS, one run each):
3 MB less at 100,000 orders, under 1 MB at 10,000, and no CPU measurably (a call costs tens of
microseconds against the milliseconds of a unit of work).
"""

from __future__ import annotations

import ctypes
import functools
import platform
import threading
from typing import Any

#: `mallopt` parameters (glibc's malloc.h) and the value both are fixed at: glibc's default.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
THRESHOLD_BYTES = 128 * 1024

_lock = threading.Lock()
_done = False


def give_back_freed_memory() -> bool:
    """Fix glibc's trim and mmap thresholds (once a process); False where there is no glibc."""
    global _done
    with _lock:
        if _done:
            return True
        mallopt = _mallopt()
        if mallopt is None:
            return False
        ok = bool(mallopt(M_MMAP_THRESHOLD, THRESHOLD_BYTES))
        ok = bool(mallopt(M_TRIM_THRESHOLD, THRESHOLD_BYTES)) and ok
        _done = ok
        return ok


def hand_back_free_pages() -> bool:
    """Give the free pages inside glibc's heaps back to the system now; False without glibc."""
    malloc_trim = _malloc_trim()
    if malloc_trim is None:
        return False
    malloc_trim(0)  # returns whether it gave any back: either is fine
    return True


def _mallopt() -> Any:
    """glibc's `mallopt(int, int)` (None: not glibc)."""
    return _glibc("mallopt", (ctypes.c_int, ctypes.c_int))


def _malloc_trim() -> Any:
    """glibc's `malloc_trim(size_t)` (None: not glibc)."""
    return _glibc("malloc_trim", (ctypes.c_size_t,))


@functools.cache
def _glibc(name: str, argtypes: tuple[Any, ...]) -> Any:
    """A glibc function returning int, from the symbols this process has loaded already (None: not
    glibc). Looked up once a process: `platform.libc_ver` reads the interpreter's binary."""
    if platform.libc_ver()[0] != "glibc":  # musl, macOS, Windows (where CDLL(None) is an error)
        return None
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError, TypeError):  # no such symbol after all
        return None
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return function
