"""Nightly reprocessing of a fleet: ``bigmap materialize`` over a generated registry of many small cells,
the per-partition path of before beside runs over partition ranges, and the sensor tick over the fleet.

    python benchmarks/fleet.py [--cells 1000] [--old-cells 100] [--rows 5500]

Makes ``--cells`` registered cells (the example registry plus one ``samples.csv`` row per cell,
copied from the template cell's), each one generated EC-Lab file cut to ``--rows`` data rows, and
times three builds, each a separate process as the user runs it, with its peak resident memory:
the first build, a rebuild with nothing changed, and a rebuild after one cell's file changed.

* new: ``bigmap materialize --data-dir DATA`` (the instance it creates in ``DATA/.dagster``): one
  run per technique over the range of changed partitions, unchanged partitions left as they are;
* old: the path before (``--old-cells`` cells, fewer: it is slow): every partition rebuilt in a run
  of its own, then the summary run, Dagster's default SQLite event log.

Old and new run in turns. Then the ``raw_file_sensor`` tick, called directly (no daemon), over
``--cells`` samples with cycling, D2B and XAS files each, plus the example surveys: the first look,
nothing changed, one changed file; it must stay under the sensor's 30 s interval. The load average
is printed: the machine may be shared. Each build process finds Python's compiled modules cached
(in a temporary ``PYTHONPYCACHEPREFIX``), as an installed package has them.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

import dagster as dg  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from sensor_tick import EXAMPLE, add_technique_files, timed_tick  # noqa: E402
from targets import record  # noqa: E402
from throughput import TEMPLATE_CELL, load_average, small_cells  # noqa: E402

SENSOR_INTERVAL_SECOND = 30
FIRST_BUILD_TARGET_SECOND = 300  # 1,000 cells in 5 minutes (issue 15)


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


def per_partition_build(data_dir: Path) -> int:
    """The path before: each registered cycling partition in a run of its own, then the summary run."""
    from bigmap_assets.definitions import build_defs
    from bigmap_assets.defs.materialize import QUIET
    from bigmap_assets.defs.partitions import partition_key, sample_set
    from bigmap_assets.ingest.admission import sample_folders

    defs = build_defs(str(data_dir))
    instance = dg.DagsterInstance.get()
    sample_ids, _ = sample_folders(data_dir, "cycling")
    instance.add_dynamic_partitions(sample_set("cycling").name, sample_ids)
    job = defs.resolve_job_def("cycling_job")
    ok = all(job.execute_in_process(partition_key=partition_key(s, "cycling"), instance=instance,
                                    raise_on_error=False, run_config=QUIET).success for s in sample_ids)
    ok &= defs.resolve_job_def("summary_job").execute_in_process(instance=instance, raise_on_error=False,
                                                                 run_config=QUIET).success
    return 0 if ok else 1


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float, bool]:
    """Run ``command``; (seconds, peak resident MiB, succeeded)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        print(process.stderr.read().decode(errors="replace")[-2000:], file=sys.stderr)
    process.stderr.close()
    return seconds, usage.ru_maxrss / 1024, process.returncode == 0


def fleet(root: Path, cells: int, rows: int) -> tuple[Path, list[str]]:
    data_dir = root / "data"
    ids = small_cells(data_dir, cells, rows)
    register(data_dir, ids)
    return data_dir, ids


def builds(tmp: Path, cells: int, old_cells: int, rows: int) -> bool:
    new_dir, new_ids = fleet(tmp / "new", cells, rows)
    old_dir, old_ids = fleet(tmp / "old", old_cells, rows)
    old_home = tmp / "old" / "home"
    old_home.mkdir()
    (old_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # Dagster's default storage
    # compiled modules cached (in tmp), as an installed package has them: each process then imports in ~2 s
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    subprocess.run([sys.executable, "-c", "import bigmap_assets.definitions, bigmap_assets.cli"], env=env, check=True)
    new = [sys.executable, "-m", "bigmap_assets.cli", "materialize", "--data-dir", str(new_dir)]
    old = [sys.executable, __file__, "--per-partition", str(old_dir)]
    print(f"{'':<17} {'old: a run per partition, ' + str(old_cells) + ' cells':>38}   "
          f"{'new: runs over ranges, ' + str(cells) + ' cells':>38}")
    ok = True
    for label, before in (("first build", None), ("nothing changed", None), ("one cell changed", change_one)):
        figures = []
        for command, data_dir, ids, count, extra in ((old, old_dir, old_ids, old_cells, {"DAGSTER_HOME": str(old_home)}),
                                                     (new, new_dir, new_ids, cells, {})):
            if not count:
                figures.append("not run")
                continue
            if before:
                before(data_dir, ids[0])
            seconds, mib, succeeded = timed_process(command, env | extra)
            ok &= succeeded
            if command is new and label == "first build":
                record(f"first build of {count:,} cells (bigmap materialize)", seconds, FIRST_BUILD_TARGET_SECOND,
                       "s", note=f"{count / seconds:.2f} cells/s, {mib:.0f} MiB per process"
                                 + ("" if succeeded else ", FAILED"))
            figures.append(f"{seconds:7.1f} s {count / seconds:6.2f} cells/s {mib:6.0f} MiB"
                           f"{'' if succeeded else ' FAILED'}")
        print(f"{label:<17} {figures[0]:>38}   {figures[1]:>38}", flush=True)
    return ok


def sensor_ticks(tmp: Path, cells: int) -> bool:
    from bigmap_assets.definitions import build_defs
    from bigmap_assets.defs.resources import WarehouseResource
    from sensor_tick import apply

    root = tmp / "sensor" / "data"
    ids = small_cells(root, cells, rows=50)
    add_technique_files(root, ids, xas_every=1, d2b_every=1)
    shutil.copytree(EXAMPLE / "survey", root / "raw" / "survey")
    home = tmp / "sensor" / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    sensor = build_defs(str(root)).resolve_sensor_def("raw_file_sensor")
    warehouse = WarehouseResource(data_dir=str(root), settle_seconds=0)
    longest = 0.0
    with dg.DagsterInstance.from_config(str(home)) as instance:
        first, seconds = timed_tick(sensor, instance, warehouse, None)
        apply(instance, first)
        longest = max(longest, seconds)
        print(f"sensor tick, {cells} samples x cycling, D2B, XAS + surveys: first look {seconds:.2f} s "
              f"({len(first.run_requests)} runs requested)", end="")
        second, seconds = timed_tick(sensor, instance, warehouse, first.cursor)
        longest = max(longest, seconds)
        print(f", nothing changed {seconds:.2f} s", end="")
        change_one(root, ids[1])
        os.utime(root / "raw" / "cycling" / ids[1] / f"{ids[1]}_C01.mpt", (time.time() - 60, time.time() - 60))
        third, seconds = timed_tick(sensor, instance, warehouse, second.cursor)
        longest = max(longest, seconds)
        print(f", one changed file {seconds:.2f} s ({len(third.run_requests)} run); "
              f"interval {SENSOR_INTERVAL_SECOND} s", flush=True)
    return record(f"sensor tick over {cells:,} samples x 3 techniques + surveys, longest", longest,
                  SENSOR_INTERVAL_SECOND, "s", note="first look, nothing changed, one changed file")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--old-cells", type=int, default=100, help="cells for the per-partition path (0: not run)")
    parser.add_argument("--rows", type=int, default=5500, help="data rows per cell's file")
    parser.add_argument("--per-partition", type=Path, help=argparse.SUPPRESS)  # the old path, in its own process
    args = parser.parse_args(argv)
    if args.per_partition:
        return per_partition_build(args.per_partition)

    print(f"{args.cells} registered cells of {args.rows} rows, {os.cpu_count()} cores, load average {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bigmap-fleet-") as tmp:
        ok = builds(Path(tmp), args.cells, args.old_cells, args.rows)
        ok &= sensor_ticks(Path(tmp), args.cells)
    print(f"load average {load_average()}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
