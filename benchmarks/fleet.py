"""Nightly reprocessing of a fleet: ``bigmap materialize`` over a generated registry of many small cells.

    python benchmarks/fleet.py [--cells 1000] [--rows 5500]

Makes ``--cells`` registered cells (the example registry plus one ``samples.csv`` row per cell,
copied from the template cell's), each one generated EC-Lab file cut to ``--rows`` data rows,
then times ``materialize_all`` (what ``bigmap materialize`` runs) against a persistent SQLite
instance three times: the first build, a rebuild with nothing changed, and a rebuild after one
cell's file changed. Prints seconds and cells/s for each, and the load average (the machine may
be shared).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

from bigmap_assets.defs.materialize import materialize_all  # noqa: E402
from throughput import TEMPLATE_CELL, load_average, small_cells  # noqa: E402


def register(data_dir: Path, ids: list[str]) -> None:
    """One ``registry/samples.csv`` row per cell, copied from the template cell's."""
    path = data_dir / "registry" / "samples.csv"
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    template = next(r for r in rows if r["sample_id"] == TEMPLATE_CELL)
    with path.open("a", newline="") as f:
        csv.DictWriter(f, fieldnames=list(template)).writerows({**template, "sample_id": s} for s in ids)


def change_one(data_dir: Path, sample_id: str) -> None:
    """Drop the last data row of ``sample_id``'s file: new content, a new size and modification time."""
    path = data_dir / "raw" / "cycling" / sample_id / f"{sample_id}_C01.mpt"
    lines = path.read_text(encoding="latin-1").splitlines(True)
    path.write_text("".join(lines[:-1]), encoding="latin-1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=5500, help="data rows per cell's file")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bigmap-fleet-") as tmp:
        data_dir = Path(tmp) / "data"
        ids = small_cells(data_dir, args.cells, args.rows)
        register(data_dir, ids)
        os.environ["DAGSTER_HOME"] = str(Path(tmp) / "home")  # materialize_all creates it, telemetry off
        print(f"{args.cells} registered cells of {args.rows} rows, {os.cpu_count()} cores, load average {load_average()}")
        ok = True
        for label, before in (("first build", None), ("nothing changed", None),
                              ("one cell changed", lambda: change_one(data_dir, ids[0]))):
            if before:
                before()
            start = time.perf_counter()
            report = materialize_all(data_dir)
            seconds = time.perf_counter() - start
            ok &= report.succeeded
            print(f"  {label:<17} {seconds:8.1f} s  {args.cells / seconds:6.2f} cells/s  "
                  f"{len(report.runs)} runs, {'ok' if report.succeeded else 'FAILED'}", flush=True)
        print(f"load average {load_average()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
