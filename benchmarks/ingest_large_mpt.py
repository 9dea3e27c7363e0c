"""Ingest a generated multi-gigabyte EC-Lab .mpt into a temporary lake, as the cycling assets do.

    python benchmarks/ingest_large_mpt.py [--size-gb 2] [--keep]

The file is made by ``benchmarks/stream_mpt.py``'s generator (a real GCPL export's rows repeated).
Each step runs in its own process so that its peak resident memory (``ru_maxrss``) is its own:

- read only: ``readers.streaming.iter_batches`` alone (the floor the ingest builds on);
- time series: ``ingest.cycling.read_sources`` + ``ingest_timeseries`` (the ``cycling_timeseries``
  asset's code: stream, derive with ``TimeseriesBuilder``, write Parquet row groups);
- cycles: ``Lake.iter_tables(columns=SUMMARY_COLUMNS)`` + ``summarise_cycles_in_pieces`` (the
  ``cycling_cycles`` asset's code), and for comparison the whole-table way: ``Lake.read(columns=...)``
  + ``summarise_cycles``.

Rows and rows/s count time-series rows (read, written, or summarised).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SAMPLE_ID = "LNO-REF-A-01"
TARGET_PEAK_MIB = 1024


def step(name: str, data_dir: Path) -> dict:
    """Run one step in this process; rows, seconds and peak RSS (MiB)."""
    from bigmap_assets.ingest.cycling import LARGE_FILE_BYTES, ingest_timeseries, read_sources
    from bigmap_assets.readers.streaming import iter_batches
    from bigmap_assets.science.cycling import SUMMARY_COLUMNS, summarise_cycles, summarise_cycles_in_pieces
    from bigmap_assets.warehouse.lake import Lake

    lake = Lake(data_dir / "lake")
    started = time.perf_counter()
    if name == "read only":
        rows = sum(batch.num_rows for batch in iter_batches(next((data_dir / "raw").rglob("*.mpt"))))
    elif name == "time series":
        sources, _ = read_sources(data_dir, SAMPLE_ID)
        assert all(s.table is None for s in sources) and sources[0].size_byte > LARGE_FILE_BYTES
        rows = ingest_timeseries(lake, sources, sample_id=SAMPLE_ID, timezone="Europe/Berlin",
                                 log=lambda message: print(f"  {message}", file=sys.stderr)).rows
    elif name == "cycles":
        pieces = lake.iter_tables("cycling_timeseries", {"sample_id": SAMPLE_ID}, columns=list(SUMMARY_COLUMNS))
        counted = []
        summarise_cycles_in_pieces((counted.append(p.num_rows) or p for p in pieces), active_mass_g=None)
        rows = sum(counted)
    else:
        timeseries = lake.read("cycling_timeseries", {"sample_id": SAMPLE_ID}, columns=list(SUMMARY_COLUMNS))
        summarise_cycles(timeseries, active_mass_g=None)
        rows = timeseries.num_rows
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=2.0)
    parser.add_argument("--keep", action="store_true", help="keep the generated .mpt and the lake")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps(step(args.step, Path(args.data_dir))))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from stream_mpt import generate

    data_dir = Path(tempfile.mkdtemp(prefix="bigmap_ingest_large_"))
    target = data_dir / "raw" / "cycling" / SAMPLE_ID / f"{SAMPLE_ID}_C01.mpt"
    target.parent.mkdir(parents=True)
    started = time.perf_counter()
    generate(target, int(args.size_gb * 1e9))
    size_gb = target.stat().st_size / 1e9
    print(f"generated {target} ({size_gb:.2f} GB) in {time.perf_counter() - started:.1f} s")
    print(f"{'step':<12} {'rows':>12} {'seconds':>8} {'rows/s':>12} {'MB/s':>6} {'peak RSS MiB':>13}  target")
    try:
        for name in ("read only", "time series", "cycles", "cycles whole"):
            done = subprocess.run([sys.executable, __file__, "--step", name, "--data-dir", str(data_dir)],
                                  capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            verdict = "ok" if result["peak_mib"] < TARGET_PEAK_MIB else "OVER"
            print(f"{name:<12} {result['rows']:>12,} {result['seconds']:>8.1f} "
                  f"{result['rows'] / result['seconds']:>12,.0f} {size_gb * 1e3 / result['seconds']:>6.0f} "
                  f"{result['peak_mib']:>13.0f}  < {TARGET_PEAK_MIB} MiB {verdict}")
    finally:
        if not args.keep:
            shutil.rmtree(data_dir)


if __name__ == "__main__":
    main()
