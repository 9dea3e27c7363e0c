"""Peak memory of the whole main job (``bigmap materialize``) and of ``bigmap read -o`` on a generated big EC-Lab file.

    python benchmarks/whole_job_memory.py [--size-gb 2] [--mpr] [--keep]

The file is made by ``benchmarks/stream_mpt.py``'s generator from ``--source`` (default: the
example data's longest EC-Lab export, 14 columns, about 140 bytes a row: 2 GB is about 14 M
rows; its data rows are repeated, test time restarting at each copy) in a cell folder of a
temporary data folder. With ``--mpr`` it is a real ``.mpr`` instead (``MPR_SOURCE``, 53 bytes a
point: 2 GB is about 38 M points) with its data records repeated (``simulate.eclab_mpr``).
Each measurement runs in its own
process, so that its peak resident memory is its own:

- the whole job: ``defs.materialize.materialize_all`` (what ``bigmap materialize`` runs:
  every technique job, the summary job, the row counts). The process's peak is ``VmHWM``;
  the peak of each step (asset or check) is the largest resident size sampled every 10 ms
  between the step's start and end events in the run's event log. Resident memory includes
  what the allocators kept from earlier steps, so a step's figure is an upper bound of its own;
  the bytes held in Arrow buffers, sampled alike, are a lower bound;
- ``bigmap read FILE -o OUT.parquet`` and ``-o OUT.csv``, with the row count written.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
from targets import record

SAMPLE_ID = "LNO-REF-A-01"
TARGET_PEAK_MIB = 1024
SAMPLE_SECONDS = 0.01
REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "data" / "raw" / "cycling" / "LNO-LTD-B-02" / "LNO-LTD-B-02_C01.mpt"
MPR_SOURCE = REPO.parent / "shared" / "realdata" / "cycling" / "eclab" / "navani" / \
    "jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class RssSampler(threading.Thread):
    """Resident size and Arrow's allocated bytes (MiB) every ``SAMPLE_SECONDS``, with wall-clock times."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float, float]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.samples.append((time.time(), _rss_mib(), pa.total_allocated_bytes() / 2**20))
            time.sleep(SAMPLE_SECONDS)

    def peaks_between(self, start: float, end: float) -> tuple[float, float]:
        """(resident, Arrow) peaks in MiB."""
        margin = SAMPLE_SECONDS  # a step shorter than the period still gets the samples around it
        during = [(rss, arrow) for t, rss, arrow in self.samples if start - margin <= t <= end + margin]
        return (max(rss for rss, _ in during), max(arrow for _, arrow in during)) if during else (float("nan"),) * 2


def whole_job(data_dir: Path) -> dict:
    """Run the main job in this process; per-step peaks (MiB) and the whole job's."""
    import dagster as dg

    from bigmap_assets.defs.materialize import materialize_all

    instance = dg.DagsterInstance.ephemeral()
    sampler = RssSampler()
    sampler.start()
    started = time.perf_counter()
    report = materialize_all(data_dir, instance=instance)
    seconds = time.perf_counter() - started
    sampler.stopped.set()
    steps: dict[str, tuple[float, float]] = {}
    begun: dict[tuple[str, str], float] = {}
    for record in instance.get_event_records(dg.EventRecordsFilter(event_type=dg.DagsterEventType.STEP_START)):
        entry = record.event_log_entry
        begun[(entry.run_id, entry.step_key)] = entry.timestamp
    for kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
        for record in instance.get_event_records(dg.EventRecordsFilter(event_type=kind)):
            entry = record.event_log_entry
            start = begun.get((entry.run_id, entry.step_key))
            if start is not None:
                rss, arrow = sampler.peaks_between(start, entry.timestamp)
                before = steps.get(entry.step_key, (0.0, 0.0))
                steps[entry.step_key] = (max(before[0], rss), max(before[1], arrow))
    return {"succeeded": report.succeeded, "seconds": seconds, "steps": steps,
            "rows": _timeseries_rows(data_dir),
            "peak_mib": _own_peak_mib()}


def _own_peak_mib() -> float:
    """This process's peak resident size (``VmHWM``), MiB. Not ``ru_maxrss``: Linux keeps that across exec, so
    a child starts at its parent's peak (this one's parent may have held a generated file)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024


def _timeseries_rows(data_dir: Path) -> int:
    import pyarrow.parquet as pq

    from bigmap_assets.warehouse.lake import Lake

    parts = Lake(data_dir / "warehouse" / "lake").parts("cycling_timeseries", {"sample_id": SAMPLE_ID})
    return sum(pq.ParquetFile(p).metadata.num_rows for p in parts)


def read_to(source: Path, output: Path) -> dict:
    """``bigmap read SOURCE -o OUTPUT`` in a child process: seconds, its peak (MiB), rows written.

    The child's ``ru_maxrss`` starts at this process's own peak, which is small."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bigmap_assets.cli", "read", str(source), "-o", str(output)],
                          capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak, "message": done.stdout.strip()}


def _verdict(target: str, peak_mib: float, note: str) -> str:
    met = record(target, peak_mib, TARGET_PEAK_MIB, "MiB", note=note)
    return f"< {TARGET_PEAK_MIB} MiB {'ok' if met else 'OVER'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--source", type=Path, default=SOURCE, help="the .mpt whose data rows are repeated")
    parser.add_argument("--mpr", action="store_true", help="a scaled real .mpr instead of a generated .mpt")
    parser.add_argument("--keep", action="store_true", help="keep the generated data folder")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--read", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        print(json.dumps(whole_job(Path(args.job))))
        return
    if args.read:
        print(json.dumps(read_to(Path(args.read[0]), Path(args.read[1]))))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stream_mpt import generate

    data_dir = Path(tempfile.mkdtemp(prefix="bigmap_whole_job_"))
    target = data_dir / "raw" / "cycling" / SAMPLE_ID / f"{SAMPLE_ID}_C01.{'mpr' if args.mpr else 'mpt'}"
    target.parent.mkdir(parents=True)
    try:
        started = time.perf_counter()
        if args.mpr:
            from bigmap_assets.simulate.eclab_mpr import scaled_mpr

            if not MPR_SOURCE.is_file():
                sys.exit(f"--mpr: {MPR_SOURCE} is absent (the real data folder)")
            target.write_bytes(scaled_mpr(MPR_SOURCE, max(round(args.size_gb * 1e9 / MPR_SOURCE.stat().st_size), 1)))
        else:
            generate(target, int(args.size_gb * 1e9), source=args.source)
        size_gb = target.stat().st_size / 1e9
        print(f"generated {target} ({size_gb:.2f} GB) in {time.perf_counter() - started:.1f} s")
        done = subprocess.run([sys.executable, __file__, "--job", str(data_dir)], capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"the job failed:\n{done.stderr[-3000:]}")
        job = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"\nwhole job (bigmap materialize): {'succeeded' if job['succeeded'] else 'FAILED'}, "
              f"{job['rows']:,} cycling_timeseries rows, {job['seconds']:.0f} s")
        print(f"{'step':<58} {'peak RSS MiB':>12} {'Arrow MiB':>10}")
        for step, (rss, arrow) in sorted(job["steps"].items(), key=lambda item: -item[1][0]):
            print(f"{step:<58} {rss:>12.0f} {arrow:>10.0f}")
        verdict = _verdict(f"peak memory, whole job on a {size_gb:.1f} GB {target.suffix}", job["peak_mib"],
                           f"{job['rows']:,} rows, {job['seconds']:.0f} s")
        print(f"{'whole job (VmHWM)':<58} {job['peak_mib']:>12.0f}  {verdict}")
        print(f"\n{'bigmap read -o':<20} {'seconds':>8} {'peak RSS MiB':>12}  result")
        for suffix in (".parquet", ".csv"):
            output = data_dir / f"out{suffix}"
            done = subprocess.run([sys.executable, __file__, "--read", str(target), str(output)],
                                  capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            verdict = _verdict(f"peak memory, bigmap read {size_gb:.1f} GB {target.suffix} -o OUT{suffix}", result["peak_mib"],
                               f"{result['message'].split(' to ')[0]}, {result['seconds']:.0f} s")
            print(f"{'-o OUT' + suffix:<20} {result['seconds']:>8.1f} {result['peak_mib']:>12.0f}  "
                  f"{result['message']}  ({verdict})")
            output.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(data_dir)


if __name__ == "__main__":
    main()
