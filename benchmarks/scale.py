"""The scale targets of issue 15 in one run: whole-job memory, the fleet, large ``.mpr`` against galvani, queries.

    python benchmarks/scale.py [--size-gb 2] [--cells 1000] [--query-work-dir /tmp/bigmap-query-scale] [--quick]

Runs, one after the other, each with its own output:

- ``whole_job_memory.py --size-gb SIZE [--mpr]``: peak memory of ``bigmap materialize`` on a cell
  holding a generated SIZE GB ``.mpt``, then a real ``.mpr`` scaled to SIZE GB, and of ``bigmap
  read -o`` (target: under 1 GiB);
- ``fleet.py --cells N --old-cells 0``: the first build of N registered cells (target: 1,000 in
  5 minutes), the rebuilds, and the sensor tick (target: under its 30 s interval);
- ``read_eclab.py --large-only``: real ``.mpr`` files scaled to 1.5-1.8 M rows, ours against
  galvani to a DataFrame (target: at least 1.5x);
- ``query_scale.py --cells N``: ``bigmap sql`` over N cells of 100 k rows (targets: summary queries
  under 0.5 s, time-series aggregates under 10 s; the warehouse is kept in ``--query-work-dir`` and
  reused).

Then prints every target beside its measured figure. Exit status 1 when a target is missed or a
benchmark failed. ``--quick`` is a smoke run (0.2 GB, 100 cells, one round): its figures do not
answer the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from targets import TARGETS_FILE_ENV

HERE = Path(__file__).resolve().parent


def benchmarks(args: argparse.Namespace) -> list[list[str]]:
    quick = ["--quick"] if args.quick else []
    return [
        ["whole_job_memory.py", "--size-gb", str(args.size_gb)],
        ["whole_job_memory.py", "--size-gb", str(args.size_gb), "--mpr"],
        ["fleet.py", "--cells", str(args.cells), "--old-cells", "0"],
        ["read_eclab.py", "--large-only", *quick],
        ["query_scale.py", "--cells", str(args.cells), "--work-dir", str(args.query_work_dir),
         *(["--repeat", "1"] if args.quick else [])],
    ]


def _figure(value: float, unit: str) -> str:
    return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--query-work-dir", type=Path, default=Path("/tmp/bigmap-query-scale"))
    parser.add_argument("--quick", action="store_true", help="a smoke run: 0.2 GB, 100 cells, one round")
    args = parser.parse_args()
    if args.quick:
        args.size_gb, args.cells = 0.2, 100
        args.query_work_dir = args.query_work_dir.with_name(args.query_work_dir.name + "-quick")

    failed = []
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", prefix="bigmap-targets-") as targets:
        env = {**os.environ, TARGETS_FILE_ENV: targets.name}
        for command in benchmarks(args):
            print(f"\n=== {' '.join(command)}   (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})",
                  flush=True)
            if subprocess.run([sys.executable, str(HERE / command[0]), *command[1:]], env=env).returncode:
                failed.append(command[0])
        results = [json.loads(line) for line in targets.read().splitlines()]

    print(f"\n=== targets (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} cores)")
    print(f"{'target':<78} {'measured':>12} {'wanted':>12}  {'':4}  note")
    for r in results:
        wanted = f"{'>=' if r['at_least'] else '<'} {_figure(r['limit'], r['unit'])}"
        print(f"{r['target']:<78} {_figure(r['measured'], r['unit']):>12} {wanted:>12}  "
              f"{'met' if r['met'] else 'MISS':4}  {r['note']}")
    for name in failed:
        print(f"{name} FAILED (its output is above)")
    missed = [r for r in results if not r["met"]]
    print(f"{len(results) - len(missed)}/{len(results)} targets met" + (" (--quick: not an answer)" if args.quick else ""))
    return 1 if failed or missed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
