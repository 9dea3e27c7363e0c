"""Long-run reader fuzzing: mutants of every seed file, each read in a child process of its own.

    python benchmarks/fuzz_readers.py [--mutants 1000] [--seed 1] [--timeout 5] [--memory-mb 1024]
                                      [--realdata ../shared/realdata] [--keep DIR]

Seeds are one real file per folder and suffix of ``../shared/realdata`` (``fuzzing.seed_files``);
mutations come from ``bigmap_assets_tests/fuzzing.py`` (the test suite runs a fixed slice of
them). Each mutant is read in a child forked from this process, so a hang can be killed and
the child's peak memory measured (``wait4``: its peak RSS less the RSS it started with); the
readers' lazily imported libraries are imported first, so the children do not each import them. Outcomes: ``ok`` (a table), ``clean`` (``UnreadableFile``),
``other`` (any other exception), ``slow`` (over ``--timeout`` s of CPU time), ``hang`` (no
answer after ``HANG_FACTOR`` times that, killed), ``memory`` (over ``--memory-mb``), ``crash``
(the child died). CPU time, not wall time, judges slowness: on a shared machine a read can wait
for a core much longer than it computes. Mutants that are neither ok nor clean are
written to ``--keep`` to become regression tests. Exit status 1 when there is any.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bigmap_assets_tests.fuzzing import mutants, outcome, seed_files  # noqa: E402

BAD = ("other", "slow", "hang", "memory", "crash")
HANG_FACTOR = 6


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def run_one(path: Path, timeout_second: float) -> tuple[str, str, float, float]:
    """(outcome, detail, CPU seconds, peak MiB above the start) of reading ``path`` in a forked child."""
    read_end, write_end = os.pipe()
    start_kib = rss_kib()
    pid = os.fork()
    if pid == 0:  # the child: read, report, leave without running the parent's cleanup
        os.close(read_end)
        try:
            kind, detail, seconds = outcome(path)
            os.write(write_end, json.dumps([kind, detail[:500], seconds]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + HANG_FACTOR * timeout_second
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            os.close(read_end)
            return ("hang", f"no answer within {HANG_FACTOR * timeout_second} s", usage.ru_utime + usage.ru_stime,
                    usage.ru_maxrss / 1024)
        time.sleep(0.002)
    with os.fdopen(read_end, "rb") as pipe:
        report = pipe.read()
    peak_mib = max(usage.ru_maxrss - start_kib, 0) / 1024
    if not report:
        return "crash", f"the child died (wait status {status})", 0.0, peak_mib
    kind, detail, _ = json.loads(report)
    cpu_second = usage.ru_utime + usage.ru_stime
    if cpu_second > timeout_second:
        kind, detail = "slow", f"{cpu_second:.1f} s of CPU time ({kind}: {detail})"
    return kind, detail, cpu_second, peak_mib


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=1000, help="mutants per seed file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0, help="CPU seconds over which a read counts as slow")
    parser.add_argument("--memory-mb", type=float, default=1024.0, help="peak MiB above the start that counts as a blow-up")
    parser.add_argument("--realdata", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "realdata")
    parser.add_argument("--keep", type=Path, default=None, help="write the bad mutants here")
    args = parser.parse_args()

    seeds = seed_files(args.realdata)
    # Libraries the readers import on first use, imported here once, not in each child. Only imported,
    # never used, before forking: a child forked after polars (inside fastnda) has started its thread
    # pool deadlocks in its first query.
    import fastnda  # noqa: F401
    import python_calamine  # noqa: F401
    totals: Counter = Counter()
    worst_second, worst_mib = (0.0, ""), (0.0, "")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        for index, seed in enumerate(seeds):
            rng = random.Random(f"{args.seed}:{seed.relative_to(args.realdata)}")
            counts: Counter = Counter()
            for number, (label, data) in enumerate(mutants(seed.read_bytes(), rng, args.mutants)):
                path = Path(folder) / f"{index}-{number}{seed.suffix}"
                path.write_bytes(data)
                kind, detail, seconds, mib = run_one(path, args.timeout)
                if kind in ("ok", "clean") and mib > args.memory_mb:
                    kind, detail = "memory", f"peak {mib:.0f} MiB"
                counts[kind] += 1
                worst_second = max(worst_second, (seconds, f"{seed.name} {label}"))
                worst_mib = max(worst_mib, (mib, f"{seed.name} {label}"))
                if kind in BAD:
                    print(f"{kind}: {seed.name} {label}: {detail}", flush=True)
                    if args.keep:
                        args.keep.mkdir(parents=True, exist_ok=True)
                        (args.keep / f"{kind}-{seed.stem}-{number}{seed.suffix}").write_bytes(data)
                path.unlink()
            totals.update(counts)
            print(f"{seed.relative_to(args.realdata)}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                  flush=True)
    print(f"\n{sum(totals.values())} mutants of {len(seeds)} files in {time.monotonic() - started:.0f} s: "
          + ", ".join(f"{k} {totals[k]}" for k in ("ok", "clean", *BAD)))
    print(f"slowest read {worst_second[0]:.2f} s of CPU ({worst_second[1]}); largest peak {worst_mib[0]:.0f} MiB "
          f"above the start ({worst_mib[1]})")
    return 1 if any(totals[k] for k in BAD) else 0


if __name__ == "__main__":
    sys.exit(main())
