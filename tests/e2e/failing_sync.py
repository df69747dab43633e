"""`loyalty sync` in which deciding the third page of orders fails, as a bug would (for the exit test).

Run as `python -m tests.e2e.failing_sync --config FILE sync`: the failure happens in the main thread
while the other time slices are still being fetched, so the fetching threads are left waiting to
hand over their pages. The process must still exit at once.

The error is raised the way database drivers and SQLAlchemy re-raise theirs: the exception is kept
in a local of a frame its own traceback holds, a reference cycle. Only the cyclic garbage collector
frees such a cycle, and whether it runs before the interpreter waits for its threads is luck (the
hang was seen in 1 of 10 runs); it is switched off here so the test is deterministic. Whatever the
exception keeps alive, the pages must have been closed already.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

from loyalty.cli import main
from sync.order_points import OrderPoints

FAIL_ON_PAGE = 3


def main_failing_on_a_page(argv: list[str]) -> int:
    original = OrderPoints.process
    pages = 0

    def process(self: OrderPoints, *args: Any, **kwargs: Any) -> Any:
        nonlocal pages
        pages += 1
        if pages == FAIL_ON_PAGE:
            try:
                raise RuntimeError(f"deciding page {pages} failed")
            except RuntimeError as error:
                kept = error  # exception -> traceback -> this frame -> kept: a cycle
                raise kept from None
        return original(self, *args, **kwargs)

    OrderPoints.process = process  # type: ignore[method-assign]
    gc.disable()
    return main(argv)


if __name__ == "__main__":
    sys.exit(main_failing_on_a_page(sys.argv[1:]))
