"""A cycler file still being written, through the sensor and the cycling job: appended, same tables as whole."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.partitions import partition_key
from bigmap_assets.defs.resources import WarehouseResource
from bigmap_assets.warehouse.lake import Lake
from bigmap_assets_tests.growing import growing_file, header_and_rows

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
CELL = "LNO-LTD-B-01"
PARTITION = {"sample_id": CELL}
SETTLE_SECONDS = 5.0


@pytest.fixture()
def whole_file() -> Path:
    path = REPO_DATA / "raw" / "cycling" / CELL / f"{CELL}_C01.mpt"
    if not path.is_file():
        pytest.skip("example data not generated (python -m bigmap_assets.simulate --data-dir data)")
    return path


def new_data_dir(root: Path) -> Path:
    shutil.copytree(REPO_DATA / "registry", root / "registry")
    return root


def set_age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def tick(data_dir: Path, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    sensor = build_defs(str(data_dir)).resolve_sensor_def("raw_file_sensor")
    warehouse = WarehouseResource(data_dir=str(data_dir), settle_seconds=SETTLE_SECONDS)
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse}))


def cell_runs(result: dg.SensorResult) -> list[str]:
    """The partitions the tick asks to run (the registry's summary run aside)."""
    return [str(r.partition_key) for r in result.run_requests if r.partition_key]


def run_cycling(data_dir: Path, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    instance.add_dynamic_partitions("cycling_samples", [CELL])
    job = build_defs(str(data_dir)).resolve_job_def("cycling_job")
    result = job.execute_in_process(partition_key=partition_key(CELL, "cycling"), instance=instance)
    assert result.success
    return result


def ingest_mode(result: dg.ExecuteInProcessResult) -> str:
    materializations = result.asset_materializations_for_node("cycling_timeseries")
    return materializations[0].metadata["ingest_mode"].value


def test_sensor_and_job_append_a_growing_file_and_match_the_whole_file(whole_file, tmp_path):
    header, rows = header_and_rows(whole_file)
    data_dir = new_data_dir(tmp_path / "growing")
    raw = data_dir / "raw" / "cycling" / CELL / whole_file.name
    thirds = [0, len(rows) // 3, 2 * len(rows) // 3, len(rows)]
    modes = []
    with dg.instance_for_test() as instance:
        cursor = tick(data_dir, instance, None).cursor  # the registry is seen before the cell's folder exists
        for _ in growing_file(raw, header, rows, thirds):
            set_age(raw, -60.0)  # just written (mtime ahead of the clock even on a slow machine): no run yet
            waiting = tick(data_dir, instance, cursor)
            assert cell_runs(waiting) == []
            set_age(raw, 2 * SETTLE_SECONDS)  # settled: one run for the cell
            settled = tick(data_dir, instance, waiting.cursor or cursor)
            assert cell_runs(settled) == [f"{CELL}|cycling"]
            cursor = settled.cursor
            modes.append(ingest_mode(run_cycling(data_dir, instance)))
    assert modes == ["rewrite", "append", "append"]

    whole_dir = new_data_dir(tmp_path / "whole")
    (whole_dir / "raw" / "cycling" / CELL).mkdir(parents=True)
    shutil.copy(whole_file, whole_dir / "raw" / "cycling" / CELL / whole_file.name)
    with dg.instance_for_test() as instance:
        run_cycling(whole_dir, instance)
    grown, whole = Lake(data_dir / "warehouse" / "lake"), Lake(whole_dir / "warehouse" / "lake")
    assert len(grown.parts("cycling_timeseries", PARTITION)) == 4
    timeseries = [lake.read("cycling_timeseries", PARTITION).drop_columns(["source_sha256"]) for lake in (grown, whole)]
    assert timeseries[0].num_rows == len(rows) and timeseries[0].equals(timeseries[1])
    for table in ("cycling_cycles", "cycling_soh"):
        assert grown.read(table, PARTITION).equals(whole.read(table, PARTITION)), table
    assert whole.read("cycling_soh", PARTITION).num_rows >= 3
