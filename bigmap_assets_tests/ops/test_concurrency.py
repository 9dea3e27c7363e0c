"""Parallel partition runs through Dagster's multiprocess executor while DuckDB readers query the
warehouse: no errors, no half-written files, and the same Parquet bytes as a serial run."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.jobs import FORKSERVER_PRELOAD, forkserver_run_config, reconstructable_job_on_executor
from bigmap_assets.warehouse import catalog

from .conftest import copy_cells, write_instance_yaml

CELLS = ["LNO-REF-A-01", "LNO-LTD-A-01", "LNO-LTW-B-01"]
FILES_MTIME_SECOND = 1_780_000_000.0  # both copies carry the same raw-file times

pytestmark = pytest.mark.ops


def launch_partition(data_dir: str, dagster_home: str, key: str, git_dir: str) -> dict:
    """One partition run launched from this process with the multiprocess executor (each step in a
    subprocess forked from a preloaded forkserver), recorded in the shared instance.

    ``git_dir`` pins the code version as in the test's process: a forkserver keeps the environment
    it started with, and one may have started before the test (the capped readers use it too).
    """
    os.environ["GIT_DIR"] = git_dir
    job = reconstructable_job_on_executor(data_dir, "cycling_job", "multiprocess")
    with dg.DagsterInstance.from_config(dagster_home) as instance, \
            dg.execute_job(job, instance, run_config=forkserver_run_config(),
                           tags={"dagster/partition": key, "bigmap/technique": "cycling"}) as result:
        events = result.all_events
        return {"success": result.success, "launcher_pid": os.getpid(),
                "step_pids": {e.step_key: e.pid for e in events if e.event_type_value == "STEP_START"},
                "workers_started": sorted(e.step_key for e in events if e.event_type_value == "STEP_WORKER_STARTED")}


def query_until(warehouse: str, stop, report) -> None:
    """Query the warehouse in a loop, both ways analysts do, until ``stop`` is set; count every error."""
    queries, errors, most_rows = 0, [], 0
    catalog_file = Path(warehouse) / catalog.CATALOG_NAME
    while not stop.is_set():
        try:
            with catalog.connect(warehouse) as con:
                rows = con.execute("SELECT count(*) FROM cycling_timeseries").fetchone()[0]
                con.execute("SELECT sample_id, max(soh) FROM cycling_soh GROUP BY sample_id").fetchall()
            most_rows = max(most_rows, rows)
            if catalog_file.exists():
                with duckdb.connect(str(catalog_file), read_only=True) as con:
                    con.execute("SELECT count(*) FROM cycling_cycles").fetchone()
            queries += 1
        except (duckdb.Error, OSError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
    report.put({"queries": queries, "errors": errors, "most_rows": most_rows})


def lake_bytes(data_dir: Path) -> dict[str, bytes]:
    lake = data_dir / "warehouse" / "lake"
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*.parquet"))}


def test_multiprocess_executor_runs_with_readers_match_a_serial_run(example_data, tmp_path, pinned_code_version):
    keys = [f"{cell}|cycling" for cell in CELLS]

    serial_dir = copy_cells(example_data, tmp_path / "serial", CELLS, FILES_MTIME_SECOND)
    serial_job = build_defs(str(serial_dir)).resolve_job_def("cycling_job")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("cycling_samples", CELLS)
        serial_results = [serial_job.execute_in_process(partition_key=k, instance=instance) for k in keys]
    assert all(r.success for r in serial_results)
    steps = sorted(e.step_key for e in serial_results[0].all_events if e.event_type_value == "STEP_START")
    serial = lake_bytes(serial_dir)

    parallel_dir = copy_cells(example_data, tmp_path / "parallel", CELLS, FILES_MTIME_SECOND)
    home = write_instance_yaml(tmp_path / "dagster_home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("cycling_samples", CELLS)

    spawn = multiprocessing.get_context("spawn")
    stop, report = spawn.Event(), spawn.Queue()
    reader = spawn.Process(target=query_until, args=(str(parallel_dir / "warehouse"), stop, report))
    reader.start()
    # Runs launched from threads of one process deadlock: one launching process per run, forked from
    # a server that has imported the project once.
    launchers = multiprocessing.get_context("forkserver")
    launchers.set_forkserver_preload(list(FORKSERVER_PRELOAD))
    try:
        with ProcessPoolExecutor(max_workers=len(keys), mp_context=launchers) as pool:
            runs = dict(zip(keys, pool.map(launch_partition, [str(parallel_dir)] * len(keys),
                                           [str(home)] * len(keys), keys, [os.environ["GIT_DIR"]] * len(keys))))
        time.sleep(0.5)  # a few queries over the finished warehouse too
    finally:
        stop.set()
        reading = report.get(timeout=60)
        reader.join(timeout=30)

    assert [run["success"] for run in runs.values()] == [True] * len(keys)
    assert {"cycling_timeseries", "cycling_cycles", "cycling_soh"} <= set(steps)  # and the checks and bundle
    for run in runs.values():  # every step ran in a subprocess of its own, not in the launching process
        assert run["workers_started"] == steps and sorted(run["step_pids"]) == steps
        assert run["launcher_pid"] not in run["step_pids"].values()
    step_pids = [pid for run in runs.values() for pid in run["step_pids"].values()]
    assert len(set(step_pids)) == len(step_pids) == len(steps) * len(keys)
    assert len({run["launcher_pid"] for run in runs.values()}) == len(keys)  # runs launched from separate processes
    assert reading["errors"] == [] and reading["queries"] > 10
    assert reading["most_rows"] > 0
    assert not list((parallel_dir / "warehouse").rglob("*.tmp"))  # no temp file left behind
    parallel = lake_bytes(parallel_dir)
    assert sorted(parallel) == sorted(serial) and len({Path(name).parent for name in serial}) == 5 * len(CELLS)
    assert all(pq.read_metadata(parallel_dir / "warehouse" / "lake" / name).num_rows >= 0 for name in parallel)
    assert parallel == serial  # byte-identical Parquet
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records()
    assert [r.dagster_run.status for r in records] == [dg.DagsterRunStatus.SUCCESS] * len(keys)
    assert sorted(r.dagster_run.tags["dagster/partition"] for r in records) == sorted(keys)
    assert max(r.start_time for r in records) < min(r.end_time for r in records)  # all runs at once
