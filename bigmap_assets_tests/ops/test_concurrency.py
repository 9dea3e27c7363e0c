"""Parallel partition runs while DuckDB readers query the warehouse: no errors, no half-written
files, and the same Parquet bytes as a serial run."""

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
from bigmap_assets.warehouse import catalog

from .conftest import copy_cells, write_instance_yaml

CELLS = ["LNO-REF-A-01", "LNO-LTD-A-01", "LNO-LTW-B-01"]
FILES_MTIME_SECOND = 1_780_000_000.0  # both copies carry the same raw-file times

pytestmark = pytest.mark.ops


def run_partition(data_dir: str, dagster_home: str, key: str) -> tuple[str, bool]:
    """One partition run in its own process, recorded in the shared instance (as the run launcher does)."""
    os.environ["DAGSTER_HOME"] = dagster_home
    with dg.DagsterInstance.get() as instance:
        job = build_defs(data_dir).resolve_job_def("cycling_job")
        result = job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False,
                                        tags={"bigmap/technique": "cycling"})
    return key, result.success


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


def test_parallel_runs_with_readers_match_a_serial_run(example_data, tmp_path, monkeypatch, pinned_code_version):
    keys = [f"{cell}|cycling" for cell in CELLS]

    serial_dir = copy_cells(example_data, tmp_path / "serial", CELLS, FILES_MTIME_SECOND)
    serial_job = build_defs(str(serial_dir)).resolve_job_def("cycling_job")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("sample_id", CELLS)
        assert all(serial_job.execute_in_process(partition_key=k, instance=instance).success for k in keys)
    serial = lake_bytes(serial_dir)

    parallel_dir = copy_cells(example_data, tmp_path / "parallel", CELLS, FILES_MTIME_SECOND)
    home = write_instance_yaml(tmp_path / "dagster_home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("sample_id", CELLS)

    spawn = multiprocessing.get_context("spawn")
    stop, report = spawn.Event(), spawn.Queue()
    reader = spawn.Process(target=query_until, args=(str(parallel_dir / "warehouse"), stop, report))
    reader.start()
    try:
        with ProcessPoolExecutor(max_workers=len(keys), mp_context=spawn) as pool:
            outcomes = dict(pool.map(run_partition, [str(parallel_dir)] * len(keys), [str(home)] * len(keys), keys))
        time.sleep(0.5)  # a few queries over the finished warehouse too
    finally:
        stop.set()
        reading = report.get(timeout=60)
        reader.join(timeout=30)

    assert outcomes == dict.fromkeys(keys, True)
    assert reading["errors"] == [] and reading["queries"] > 10
    assert reading["most_rows"] > 0
    assert not list((parallel_dir / "warehouse").rglob("*.tmp"))  # no temp file left behind
    parallel = lake_bytes(parallel_dir)
    assert sorted(parallel) == sorted(serial) and len({Path(name).parent for name in serial}) == 5 * len(CELLS)
    assert all(pq.read_metadata(parallel_dir / "warehouse" / "lake" / name).num_rows >= 0 for name in parallel)
    assert parallel == serial  # byte-identical Parquet
    with dg.DagsterInstance.from_config(str(home)) as instance:
        statuses = [r.dagster_run.status for r in instance.get_run_records()]
    assert statuses == [dg.DagsterRunStatus.SUCCESS] * len(keys)
