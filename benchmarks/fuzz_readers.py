"""Long-run reader fuzzing: mutants of every real file, each read in a child process of its own.

    ./dev fuzz [--mutants 1000] [--seed 1] [--timeout 5] [--memory-mb 1024]
               [--realdata ../shared/realdata] [--keep DIR]
    (the same as python benchmarks/fuzz_readers.py ...)

Seeds are every real file of ``../shared/realdata`` with a suffix a reader may take
(``fuzzing.seed_files``), grouped by the format that reads them (``unrecognised``: files no
reader accepts, whose mutants exercise the sniffers); ``--mutants`` per format are
spread over that format's files in turn. Mutations come from ``bigmap_assets_tests/fuzzing.py``
(the test suite runs a fixed slice of them). Each mutant is read in a child forked from this
process, under a limit of ``--memory-mb`` on the data memory it may add to what it starts
with (``RLIMIT_DATA``: heap and private writable mappings; not ``RLIMIT_AS``, which address space
the native libraries reserve but never touch would exhaust), so a hang can be killed and a memory blow-up ends in that child; its peak
memory is measured too (``wait4``: its peak RSS less the RSS it started with). The readers'
lazily imported libraries are imported first, so the children do not each import them. The
product's own per-read memory cap (``readers.memory_cap``) is off in the children: the
readers themselves are under test. Outcomes: ``ok`` (a table), ``clean`` (``UnreadableFile``),
``other`` (any other exception), ``slow`` (over ``--timeout`` s of CPU time), ``hang`` (no
answer after ``HANG_FACTOR`` times that, killed), ``memory`` (a ``MemoryError`` or a Rust
allocation failure under the limit, or a peak over it), ``crash`` (the child died otherwise). CPU time, not wall time, judges
slowness: on a shared machine a read can wait for a core much longer than it computes. Mutants
that are neither ok nor clean are written to ``--keep`` to become regression tests. Prints the
counts per format and in all; exit status 1 when any is bad.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bigmap_assets.readers import find_reader  # noqa: E402
from bigmap_assets.ingest.errors import UnreadableFile  # noqa: E402
from bigmap_assets_tests.fuzzing import mutants, outcome, seed_files  # noqa: E402

BAD = ("other", "slow", "hang", "memory", "crash")
HANG_FACTOR = 6


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def run_one(path: Path, timeout_second: float, memory_mib: float) -> tuple[str, str, float, float]:
    """(outcome, detail, CPU seconds, peak MiB above the start) of reading ``path`` in a forked child
    whose address space may grow by ``memory_mib``."""
    read_end, write_end = os.pipe()
    start_kib = status_kib("VmRSS")
    stderr = tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:  # the child: read, report, leave without running the parent's cleanup
        os.close(read_end)
        os.dup2(stderr.fileno(), 2)  # what a library prints as it aborts says why
        try:
            limit = status_kib("VmData") * 1024 + int(memory_mib * 2**20)
            resource.setrlimit(resource.RLIMIT_DATA, (limit, resource.getrlimit(resource.RLIMIT_DATA)[1]))
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
    stderr.seek(0)
    printed = stderr.read().decode(errors="replace")
    stderr.close()
    if not report:
        why = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit status {os.WEXITSTATUS(status)}"
        out_of_memory = "memory allocation of" in printed  # Rust's allocation failure, then abort
        return ("memory" if out_of_memory else "crash", f"the child died ({why}): {printed.strip()[-300:]}",
                usage.ru_utime + usage.ru_stime, peak_mib)
    kind, detail, _ = json.loads(report)
    cpu_second = usage.ru_utime + usage.ru_stime
    if cpu_second > timeout_second:
        kind, detail = "slow", f"{cpu_second:.1f} s of CPU time ({kind}: {detail})"
    return kind, detail, cpu_second, peak_mib


def format_of(path: Path) -> str | None:
    try:
        return find_reader(path).NAME
    except UnreadableFile:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=1000, help="mutants per format")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0, help="CPU seconds over which a read counts as slow")
    parser.add_argument("--memory-mb", type=float, default=1024.0,
                        help="MiB of data memory a child may add (RLIMIT_DATA); a larger peak counts as a blow-up")
    parser.add_argument("--realdata", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "realdata")
    parser.add_argument("--keep", type=Path, default=None, help="write the bad mutants here")
    args = parser.parse_args()

    os.environ["BIGMAP_READER_MEMORY_MB"] = "0"  # the children read in-process: the readers are under test
    formats: dict[str, list[Path]] = {}
    for seed in seed_files(args.realdata, every=True):
        formats.setdefault(format_of(seed) or "unrecognised", []).append(seed)  # sniffers are fuzzed too
    # Libraries the readers import on first use, imported here once, not in each child. Only imported,
    # never used, before forking: a child forked after polars (inside fastnda) has started its thread
    # pool deadlocks in its first query.
    import fastnda  # noqa: F401
    import python_calamine  # noqa: F401
    totals: Counter = Counter()
    worst_second, worst_mib = (0.0, ""), (0.0, "")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        for name, seeds in sorted(formats.items()):
            data = [seed.read_bytes() for seed in seeds]
            rngs = [random.Random(f"{args.seed}:{seed.relative_to(args.realdata)}") for seed in seeds]
            counts: Counter = Counter()
            format_started = time.monotonic()
            for number in range(args.mutants):
                which = number % len(seeds)
                seed = seeds[which]
                label, mutant = next(mutants(data[which], rngs[which], 1))
                path = Path(folder) / f"{name}-{number}{seed.suffix}"
                path.write_bytes(mutant)
                kind, detail, seconds, mib = run_one(path, args.timeout, args.memory_mb)
                if kind in ("ok", "clean") and mib > args.memory_mb:
                    kind, detail = "memory", f"peak {mib:.0f} MiB"
                counts[kind] += 1
                worst_second = max(worst_second, (seconds, f"{seed.name} {label}"))
                worst_mib = max(worst_mib, (mib, f"{seed.name} {label}"))
                if kind in BAD:
                    print(f"{kind}: {seed.relative_to(args.realdata)} {label}: {detail}", flush=True)
                    if args.keep:
                        args.keep.mkdir(parents=True, exist_ok=True)
                        (args.keep / f"{kind}-{seed.stem}-{number}{seed.suffix}").write_bytes(mutant)
                path.unlink()
            totals.update(counts)
            print(f"{name} ({len(seeds)} files, {time.monotonic() - format_started:.0f} s): "
                  + ", ".join(f"{k} {counts[k]}" for k in ("ok", "clean", *BAD)), flush=True)
    seed_count = sum(len(seeds) for seeds in formats.values())
    print(f"\n{sum(totals.values())} mutants of {seed_count} files in {len(formats)} formats in "
          f"{time.monotonic() - started:.0f} s: " + ", ".join(f"{k} {totals[k]}" for k in ("ok", "clean", *BAD)))
    print(f"slowest read {worst_second[0]:.2f} s of CPU ({worst_second[1]}); largest peak {worst_mib[0]:.0f} MiB "
          f"above the start ({worst_mib[1]})")
    return 1 if any(totals[k] for k in BAD) else 0


if __name__ == "__main__":
    sys.exit(main())
