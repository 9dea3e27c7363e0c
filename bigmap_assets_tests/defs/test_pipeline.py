"""The Dagster layer over a small copy of the example data: load, sensor, runs, idempotence, bad files."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.materialize import QUIET, materialize_all
from bigmap_assets.defs.resources import WarehouseResource
from bigmap_assets.warehouse import catalog

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
CELLS = ("LNO-REF-A-01", "LNO-LTD-B-01")


@pytest.fixture()
def data_dir(tmp_path) -> Path:
    """Two generated cells and the registry, copied from the example data set."""
    if not (REPO_DATA / "raw" / "cycling" / CELLS[0]).is_dir():
        pytest.skip("example data not generated (python -m bigmap_assets.simulate --data-dir data)")
    shutil.copytree(REPO_DATA / "registry", tmp_path / "registry")
    for cell in CELLS:
        shutil.copytree(REPO_DATA / "raw" / "cycling" / cell, tmp_path / "raw" / "cycling" / cell)
    return tmp_path


def _age(folder: Path, seconds: float = 60.0) -> None:
    then = time.time() - seconds
    for path in folder.rglob("*"):
        os.utime(path, (then, then))


def test_definitions_load_with_every_asset_job_sensor_and_schedule(tmp_path):
    defs = build_defs(str(tmp_path))
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"cycling_timeseries", "cycling_cycles", "cycling_soh", "cycling_series"} <= keys
    assert defs.resolve_job_def("cycling_job").partitions_def.partition_dimension_names == ["sample_id", "technique"]
    assert defs.resolve_sensor_def("raw_file_sensor")
    assert defs.resolve_sensor_def("after_partition_run")
    assert defs.resolve_sensor_def("alert_sensor")
    assert defs.resolve_schedule_def("nightly_cycling").cron_schedule == "0 2 * * *"


def test_loading_the_code_location_prints_nothing():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import bigmap_assets.definitions"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == ""


def test_sensor_requests_one_run_for_a_new_file_and_none_on_the_next_tick(data_dir):
    defs = build_defs(str(data_dir))
    sensor = defs.resolve_sensor_def("raw_file_sensor")
    warehouse = WarehouseResource(data_dir=str(data_dir), settle_seconds=0)
    shutil.rmtree(data_dir / "raw" / "cycling" / CELLS[1])
    _age(data_dir)
    with dg.instance_for_test() as instance:
        first = sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse}))
        keys = sorted(str(r.partition_key) for r in first.run_requests if r.partition_key)
        assert keys == [f"{CELLS[0]}|cycling"]
        assert first.dynamic_partitions_requests[0].partition_keys == [CELLS[0]]
        instance.add_dynamic_partitions("cycling_samples", [CELLS[0]])

        # a new file of a new cell: exactly one run, for its partition
        shutil.copytree(REPO_DATA / "raw" / "cycling" / CELLS[1], data_dir / "raw" / "cycling" / CELLS[1])
        _age(data_dir / "raw" / "cycling" / CELLS[1])
        second = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"warehouse": warehouse}))
        assert [str(r.partition_key) for r in second.run_requests] == [f"{CELLS[1]}|cycling"]
        assert second.dynamic_partitions_requests[0].partition_keys == [CELLS[1]]

        third = sensor(dg.build_sensor_context(instance=instance, cursor=second.cursor, resources={"warehouse": warehouse}))
        assert third.run_requests == [] and json.loads(third.cursor) == json.loads(second.cursor)


def test_the_first_tick_over_a_built_warehouse_requests_nothing_and_a_new_file_only_its_partition(data_dir):
    warehouse = WarehouseResource(data_dir=str(data_dir), settle_seconds=0)
    _age(data_dir)
    with dg.instance_for_test() as instance:
        assert materialize_all(data_dir, instance=instance).succeeded
        sensor = build_defs(str(data_dir)).resolve_sensor_def("raw_file_sensor")
        first = sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse}))
        assert first.run_requests == [] and first.dynamic_partitions_requests == []

        cell = data_dir / "raw" / "cycling" / CELLS[1]
        original = sorted(cell.glob("*.mpt"))[0]
        shutil.copy(original, cell / "repeat.mpt")
        _age(cell)
        second = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"warehouse": warehouse}))
        assert [(r.job_name, str(r.partition_key)) for r in second.run_requests] == [("cycling_job", f"{CELLS[1]}|cycling")]


def test_a_changed_registry_row_reruns_only_that_sample_and_the_registry_tables(data_dir):
    defs = build_defs(str(data_dir))
    sensor = defs.resolve_sensor_def("raw_file_sensor")
    warehouse = WarehouseResource(data_dir=str(data_dir), settle_seconds=0)
    _age(data_dir)
    with dg.instance_for_test() as instance:
        first = sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse}))
        instance.add_dynamic_partitions("cycling_samples", list(CELLS))
        samples = data_dir / "registry" / "samples.csv"
        text = samples.read_text()
        line = next(l for l in text.splitlines() if l.startswith(CELLS[1] + ","))
        samples.write_text(text.replace(line, line.replace(",Europe/Oslo", ",Europe/Berlin")))
        _age(data_dir / "registry")
        second = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"warehouse": warehouse}))
        assert sorted((r.job_name, str(r.partition_key)) for r in second.run_requests) == sorted(
            [("cycling_job", f"{CELLS[1]}|cycling"), ("registry_job", "None")])


def _lake_files(data_dir: Path) -> dict[str, bytes]:
    lake = data_dir / "warehouse" / "lake"
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*.parquet"))}


def test_materialize_all_then_rerun_gives_identical_tables(data_dir):
    every_cell = f"{CELLS[1]}|cycling...{CELLS[0]}|cycling"  # registered in sorted order
    with dg.instance_for_test() as instance:
        first = materialize_all(data_dir, instance=instance)
        assert first.runs == [("cycling_job", every_cell, True), ("summary_job", "", True)]
        before = _lake_files(data_dir)
        again = materialize_all(data_dir, instance=instance)  # nothing changed: no cycling run
        assert again.runs == [("summary_job", "", True)]
        forced = materialize_all(data_dir, instance=instance, every_partition=True)
        assert forced.runs == [("cycling_job", every_cell, True), ("summary_job", "", True)]
        assert _lake_files(data_dir) == before  # byte-identical, no duplicate rows
        assert len(instance.get_runs()) == 2 + 1 + 2
        # each partition's materialisation (one per run) and check evaluation carry that partition's own figures
        con = catalog.connect(data_dir / "warehouse")
        for cell in CELLS:
            key = f"{cell}|cycling"
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=dg.AssetKey("cycling_soh"), asset_partitions=[key]), limit=10).records
            assert len(records) == 2
            rows = records[0].asset_materialization.metadata["dagster/row_count"].value
            assert rows == con.execute(
                "SELECT count(*) FROM cycling_soh WHERE sample_id = ?", [cell]).fetchone()[0]
            history = instance.event_log_storage.get_asset_check_execution_history(
                dg.AssetCheckKey(dg.AssetKey("cycling_timeseries"), "timeseries_is_well_formed"), limit=20)
            evaluations = [r for r in history if r.partition == key]
            assert len(evaluations) == 2 and all(r.evaluation.passed for r in evaluations)
            assert evaluations[0].evaluation.metadata["rows"].value == con.execute(
                "SELECT count(*) FROM cycling_timeseries WHERE sample_id = ?", [cell]).fetchone()[0]
        # a ranged step writes its partitions' INFO lines as one log line, naming each partition
        (ranged, *_) = instance.get_runs(filters=dg.RunsFilter(job_name="cycling_job"))
        lines = [e.user_message for e in instance.all_logs(ranged.run_id) if e.user_message.startswith("cycling_timeseries ")]
        assert len(lines) == 1 and all(f"cycling_timeseries {cell}:" in lines[0] for cell in CELLS)
    con = catalog.connect(data_dir / "warehouse")
    per_cell = dict(con.execute("SELECT sample_id, count(*) FROM cycling_soh GROUP BY 1").fetchall())
    assert set(per_cell) == set(CELLS) and min(per_cell.values()) >= 3
    stages = {row[0] for row in con.execute("SELECT DISTINCT stage FROM cycling_cycles").fetchall()}
    assert {"formation", "checkup", "ageing"} <= stages
    provenance = con.execute(
        "SELECT count(*) FROM cycling_timeseries WHERE source_sha256 IS NULL OR code_version IS NULL").fetchone()
    assert provenance == (0,)
    assert con.execute("SELECT count(*) FROM cycling_series").fetchone()[0] >= 2
    assert (data_dir / "warehouse" / "plots" / "cycling" / "soh_versus_cycle.png").stat().st_size > 10_000


def test_the_nightly_schedule_reprocesses_every_cell_in_one_run(data_dir):
    defs = build_defs(str(data_dir))
    warehouse = WarehouseResource(data_dir=str(data_dir))
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("cycling_samples", list(CELLS))
        night = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=night,
                                       resources={"warehouse": warehouse}) as context:
            (request,) = defs.resolve_schedule_def("nightly_cycling")(context)
        assert request.run_key == "nightly-2026-11-26-cycling" and request.partition_key is None
        result = defs.resolve_job_def(request.job_name or "cycling_job").execute_in_process(
            instance=instance, tags=request.tags, run_config=QUIET)
        assert result.success and len(instance.get_runs()) == 1
        assert sorted(instance.get_materialized_partitions(dg.AssetKey("cycling_soh"))) == sorted(
            f"{c}|cycling" for c in CELLS)
        # one cell's folder gone (the sensor has not retracted it yet): the ranges go round it
        gone = CELLS[1]
        shutil.rmtree(data_dir / "raw" / "cycling" / gone)
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=night,
                                       resources={"warehouse": warehouse}) as context:
            requests = defs.resolve_schedule_def("nightly_cycling")(context)
        held = instance.get_dynamic_partitions("cycling_samples")
        before, after = held[:held.index(gone)], held[held.index(gone) + 1:]
        assert [(r.partition_key and str(r.partition_key),
                 r.tags.get("dagster/asset_partition_range_start"), r.tags.get("dagster/asset_partition_range_end"))
                for r in requests] == [_nightly_range(cells) for cells in (before, after) if cells]


def _nightly_range(cells: list[str]) -> tuple:
    """(partition key, range start, range end) a nightly request over ``cells`` carries."""
    if len(cells) == 1:
        return f"{cells[0]}|cycling", None, None
    return None, f"{cells[0]}|cycling", f"{cells[-1]}|cycling"


def test_the_nightly_schedule_shares_a_fleet_among_runs_one_per_core(data_dir, monkeypatch):
    from bigmap_assets.defs import partitions

    monkeypatch.setattr(partitions, "MIN_PARTITIONS_PER_SHARE", 1)
    monkeypatch.setenv(partitions.WORKERS_ENV, "2")
    defs = build_defs(str(data_dir))
    night = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("cycling_samples", list(CELLS))
        held = instance.get_dynamic_partitions("cycling_samples")
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=night,
                                       resources={"warehouse": WarehouseResource(data_dir=str(data_dir))}) as context:
            requests = defs.resolve_schedule_def("nightly_cycling")(context)
    half = -(-len(held) // 2)
    assert [(r.partition_key and str(r.partition_key), r.tags.get("dagster/asset_partition_range_start"),
             r.tags.get("dagster/asset_partition_range_end")) for r in requests] == [
        _nightly_range(held[:half]), _nightly_range(held[half:])]
    assert len({r.run_key for r in requests}) == 2


def test_truncated_and_garbage_files_become_issues_and_the_rest_goes_through(data_dir):
    cell = data_dir / "raw" / "cycling" / CELLS[0]
    good = sorted(cell.glob("*.mpt"))[0]
    (cell / "garbage.mpr").write_bytes(os.urandom(4096))
    (cell / "truncated.mpt").write_bytes(good.read_bytes()[:1500])
    with dg.instance_for_test() as instance:
        report = materialize_all(data_dir, instance=instance)
    assert report.succeeded
    con = catalog.connect(data_dir / "warehouse")
    issues = dict(con.execute(
        "SELECT path, reason FROM ingest_issues WHERE severity = 'error' AND sample_id = ?", [CELLS[0]]).fetchall())
    assert set(issues) == {f"raw/cycling/{CELLS[0]}/garbage.mpr", f"raw/cycling/{CELLS[0]}/truncated.mpt"}
    assert all(reason for reason in issues.values())
    statuses = dict(con.execute("SELECT path, status FROM raw_files WHERE sample_id = ?", [CELLS[0]]).fetchall())
    assert statuses[f"raw/cycling/{CELLS[0]}/{good.name}"] == "ok"
    assert con.execute("SELECT count(*) FROM cycling_soh WHERE sample_id = ?", [CELLS[0]]).fetchone()[0] >= 3


def test_a_streamed_file_that_breaks_part_way_becomes_an_issue(data_dir, monkeypatch):
    from bigmap_assets.ingest import cycling as cycling_ingest
    from bigmap_assets.defs.cycling import cycling_timeseries
    from bigmap_assets.ingest.errors import UnreadableFile

    real_iter_batches = cycling_ingest.streaming.iter_batches

    def breaks_after_one_batch(path, *, batch_rows, canonical_only):
        batches = real_iter_batches(path, batch_rows=batch_rows, canonical_only=canonical_only)
        yield next(batches)
        if batch_rows > 1 and "continuation" not in path.name:  # the peek (1 row) and the other file go through
            raise UnreadableFile(path, "bytes 1-2 of line 900 are not text", location="line 900")

    monkeypatch.setattr(cycling_ingest.streaming, "iter_batches", breaks_after_one_batch)
    warehouse = WarehouseResource(data_dir=str(data_dir), large_file_mb=0.01)  # stream every file
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("cycling_samples", [CELLS[0]])
        result = dg.materialize([cycling_timeseries], partition_key=f"{CELLS[0]}|cycling", instance=instance,
                                resources={"warehouse": warehouse})
    assert result.success
    issues = warehouse.lake.read("ingest_issues", {"technique": "cycling", "sample_id": CELLS[0]})
    errors = [r for r in issues.to_pylist() if r["severity"] == "error"]
    assert [(e["location"], e["reason"]) for e in errors] == [("line 900", "bytes 1-2 of line 900 are not text")]
    statuses = {r["path"]: r["status"] for r in warehouse.lake.read(
        "raw_files", {"technique": "cycling", "sample_id": CELLS[0]}).to_pylist()}
    assert sorted(statuses.values()) == ["issue", "ok"] and statuses[errors[0]["path"]] == "issue"
    rows = warehouse.lake.read("cycling_timeseries", {"sample_id": CELLS[0]})
    assert rows.num_rows > 0 and set(rows.column("source_file").to_pylist()) == {
        p for p, status in statuses.items() if status == "ok"}
