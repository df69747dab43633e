"""Run every benchmark (`bench/bench_*.py`) in turn: `make bench`.

For the team. Each benchmark runs in its own process with this Python, its output shown as it
comes; its last line, a JSON object of figures by convention, is collected. At the end a summary
is printed and all figures are written to bench/results/<UTC time>.json (not committed).
Arguments after `--` go to every benchmark (e.g. `python bench/run_all.py -- --quick`); the exit
code is 1 if any benchmark failed.

    .venv/bin/python bench/run_all.py                 # everything, full size
    .venv/bin/python bench/run_all.py -k sandbox      # only benchmarks whose name contains it
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_one(path: Path, extra: list[str]) -> tuple[int, dict[str, Any] | None, float]:
    """Run one benchmark, echoing its output; (exit code, its figures or None, seconds)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(path), *extra], stdout=subprocess.PIPE, text=True, cwd=HERE.parent
    )
    last = ""
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.strip():
            last = line.strip()
    code = process.wait()
    return code, _figures(last), time.perf_counter() - started


def _figures(line: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "-k", dest="only", default="", help="run only benchmarks whose name contains this"
    )
    parser.add_argument("extra", nargs="*", help="arguments for every benchmark (after --)")
    args = parser.parse_args(argv)
    benchmarks = [p for p in sorted(HERE.glob("bench_*.py")) if args.only in p.stem]
    if not benchmarks:
        print(f"no benchmark matches {args.only!r} in {HERE}", file=sys.stderr)
        return 1
    results: dict[str, Any] = {}
    failed = []
    for path in benchmarks:
        print(f"== {path.name}", flush=True)
        code, figures, seconds = run_one(path, args.extra)
        results[path.stem] = {"exit_code": code, "seconds": round(seconds, 1), "figures": figures}
        if code != 0:
            failed.append(path.name)
    print("\n== summary")
    for name, result in results.items():
        status = "ok" if result["exit_code"] == 0 else f"FAILED (exit {result['exit_code']})"
        print(f"  {name}: {status} in {result['seconds']} s; {json.dumps(result['figures'])}")
    out = HERE / "results" / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"  figures written to {out.relative_to(HERE.parent)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
