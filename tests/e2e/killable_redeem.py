"""`loyalty` (e.g. `loyalty redeem`) that can stop at a named step, to be killed there by a test.

Run as `python -m tests.e2e.killable_redeem --config FILE redeem ...`. With
`LOYALTY_TEST_STOP_AT=before_recording` the process stops once the store has answered the coupon's
POST and before the coupon is recorded in the ledger: it prints `stopped at before_recording` and
waits forever, so the test knows (by reading that line, not by sleeping) that the process stands
exactly there, and SIGKILLs it. Steps on the store's side (after the commit, during the POST) are
held by the sandbox instead (`tests.e2e.gate.Hold`); this process then runs unchanged.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

from loyalty.cli import main
from sync import redemptions

STOP_AT = "LOYALTY_TEST_STOP_AT"
BEFORE_RECORDING = "before_recording"


def stop_here(step: str) -> None:
    print(f"stopped at {step}", flush=True)
    threading.Event().wait()  # until killed


def main_stopping(argv: list[str]) -> int:
    if os.environ.get(STOP_AT) == BEFORE_RECORDING:

        def mark_issued(*args: Any, **kwargs: Any) -> None:
            stop_here(BEFORE_RECORDING)

        redemptions.ledger.mark_issued = mark_issued  # type: ignore[assignment]
    return main(argv)


if __name__ == "__main__":
    sys.exit(main_stopping(sys.argv[1:]))
