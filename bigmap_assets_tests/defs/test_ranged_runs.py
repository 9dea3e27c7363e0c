"""``bigmap materialize`` over ranges of partitions: the same rows as a run per partition, whether one
process runs them or several share them, and a partition whose inputs did not change is left as it is."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs import materialize, partitions, unchanged
from bigmap_assets.defs.materialize import QUIET, materialize_all
from bigmap_assets.defs.partitions import partition_key

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
CELLS = ("LNO-LTD-B-01", "LNO-REF-A-01", "LNO-REF-A-02")  # in the order Dagster holds them (sorted)
RANGE = f"{CELLS[0]}|cycling...{CELLS[-1]}|cycling"


@pytest.fixture()
def data_dir(tmp_path) -> Path:
    if not (REPO_DATA / "raw" / "cycling" / CELLS[0]).is_dir():
        pytest.skip("example data not generated (python -m bigmap_assets.simulate --data-dir data)")
    root = tmp_path / "data"
    shutil.copytree(REPO_DATA / "registry", root / "registry")
    for cell in CELLS:
        shutil.copytree(REPO_DATA / "raw" / "cycling" / cell, root / "raw" / "cycling" / cell)
    return root


def _tables(data_dir: Path) -> dict[str, object]:
    lake = data_dir / "warehouse" / "lake"
    return {str(p.relative_to(lake)): pq.read_table(p) for p in sorted(lake.rglob("*.parquet"))
            if any(f"sample_id={cell}/" in str(p) for cell in CELLS)}


def test_a_run_over_every_partition_writes_each_partitions_rows_as_a_run_of_its_own(data_dir, tmp_path):
    alone = tmp_path / "alone"
    shutil.copytree(data_dir, alone)  # same files, same modification times
    with dg.instance_for_test() as instance:
        assert materialize_all(data_dir, instance=instance).runs == [("cycling_job", RANGE, True),
                                                                    ("summary_job", "", True)]
        assert sorted(instance.get_materialized_partitions(dg.AssetKey("cycling_soh"))) == sorted(
            f"{c}|cycling" for c in CELLS)
    job = build_defs(str(alone)).resolve_job_def("cycling_job")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("cycling_samples", list(CELLS))
        for cell in CELLS:
            assert job.execute_in_process(partition_key=partition_key(cell, "cycling"), instance=instance,
                                          run_config=QUIET).success
    ranged, each = _tables(data_dir), _tables(alone)
    assert len(ranged) >= 4 * len(CELLS) and set(ranged) == set(each)
    for path, table in ranged.items():
        assert table.num_rows == each[path].num_rows and table.equals(each[path]), path


def test_materialize_builds_again_only_the_partitions_whose_inputs_changed(data_dir, monkeypatch):
    def cycling_runs(report) -> list[str]:
        assert report.succeeded, report.runs
        return [partitions for job, partitions, _ in report.runs if job == "cycling_job"]

    with dg.instance_for_test() as instance:
        assert cycling_runs(materialize_all(data_dir, instance=instance)) == [RANGE]
        assert cycling_runs(materialize_all(data_dir, instance=instance)) == []
        # a file touched, content the same: hashed, left as it is
        touched = sorted((data_dir / "raw" / "cycling" / CELLS[0]).glob("*.mpt"))[0]
        touched.touch()
        assert cycling_runs(materialize_all(data_dir, instance=instance)) == []
        # one changed file: its partition alone, in a run of its own
        changed = sorted((data_dir / "raw" / "cycling" / CELLS[1]).glob("*.mpt"))[0]
        changed.write_bytes(changed.read_bytes()[:-200])
        assert cycling_runs(materialize_all(data_dir, instance=instance)) == [f"{CELLS[1]}|cycling"]
        # the last build of a partition did not get through (its archive bundle is older): built again
        shutil.rmtree(data_dir / "warehouse" / "archive" / CELLS[2] / "cycling")
        assert cycling_runs(materialize_all(data_dir, instance=instance)) == [f"{CELLS[2]}|cycling"]
        # a damaged part: its partition built again
        soh = next((data_dir / "warehouse" / "lake" / "cycling_soh" / f"sample_id={CELLS[0]}").glob("part-*.parquet"))
        soh.write_bytes(soh.read_bytes()[:100])
        assert cycling_runs(materialize_all(data_dir, instance=instance)) == [f"{CELLS[0]}|cycling"]
        # a registry change feeds every partition; so does another code version
        (data_dir / "registry" / "samples.csv").touch()
        assert cycling_runs(materialize_all(data_dir, instance=instance)) == [RANGE]
        monkeypatch.setattr(unchanged, "code_version", lambda: "another")
        assert cycling_runs(materialize_all(data_dir, instance=instance)) == [RANGE]


def test_processes_sharing_the_partitions_write_what_one_process_writes(data_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(partitions, "MIN_PARTITIONS_PER_SHARE", 1)
    alone = tmp_path / "alone"
    shutil.copytree(data_dir, alone)
    with dg.instance_for_test() as instance:
        report = materialize_all(data_dir, instance=instance, processes=2)
        assert report.runs == [("cycling_job", f"{CELLS[0]}|cycling...{CELLS[1]}|cycling", True),
                               ("cycling_job", f"{CELLS[2]}|cycling", True), ("summary_job", "", True)]
        # the second share's run, made in the worker process, is in the same instance
        assert len(instance.get_runs()) == 3
        assert sorted(instance.get_materialized_partitions(dg.AssetKey("cycling_soh"))) == sorted(
            f"{c}|cycling" for c in CELLS)
    with dg.instance_for_test() as instance:
        assert materialize_all(alone, instance=instance, processes=1).runs == [("cycling_job", RANGE, True),
                                                                             ("summary_job", "", True)]
    shared, one = _tables(data_dir), _tables(alone)
    assert set(shared) == set(one)
    for path, table in shared.items():
        assert table.equals(one[path]), path


def test_a_share_whose_process_dies_is_run_in_the_launching_one(data_dir, monkeypatch):
    class DyingPool:  # a pool whose worker process is killed before it reports
        def __init__(self, *args, **kwargs):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, *args):
            future = Future()
            future.set_exception(BrokenProcessPool("a process in the pool was terminated abruptly"))
            return future

    monkeypatch.setattr(partitions, "MIN_PARTITIONS_PER_SHARE", 1)
    monkeypatch.setattr(materialize, "ProcessPoolExecutor", DyingPool)
    lines = []
    with dg.instance_for_test() as instance:
        report = materialize_all(data_dir, instance=instance, processes=2, log=lines.append)
        assert report.runs == [("cycling_job", f"{CELLS[0]}|cycling...{CELLS[1]}|cycling", True),
                               ("cycling_job", f"{CELLS[2]}|cycling", True), ("summary_job", "", True)]
        assert sorted(instance.get_materialized_partitions(dg.AssetKey("cycling_soh"))) == sorted(
            f"{c}|cycling" for c in CELLS)
    assert any("worker process ended without finishing (BrokenProcessPool" in line for line in lines)


def test_workers_come_from_the_environment_or_the_cores(monkeypatch):
    monkeypatch.delenv(partitions.WORKERS_ENV, raising=False)
    assert partitions.workers() == (os.cpu_count() or 1)
    monkeypatch.setenv(partitions.WORKERS_ENV, "3")
    assert partitions.workers() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(partitions.WORKERS_ENV, bad)
        with pytest.raises(ValueError, match="BIGMAP_WORKERS"):
            partitions.workers()


def test_shares_are_consecutive_and_no_smaller_than_the_minimum(monkeypatch):
    samples = [f"S{i:03d}" for i in range(100)]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("cycling_samples", samples)
        assert partitions.shares(instance, "cycling", set(), 2) == []
        assert partitions.shares(instance, "cycling", set(samples[:79]), 2) == [[("S000", "S078")]]
        assert partitions.shares(instance, "cycling", set(samples), 2) == [[("S000", "S049")], [("S050", "S099")]]
        assert partitions.shares(instance, "cycling", set(samples), 3) == [[("S000", "S049")], [("S050", "S099")]]
        gap = set(samples) - {"S010"}
        assert partitions.shares(instance, "cycling", gap, 2) == [[("S000", "S009"), ("S011", "S050")],
                                                                 [("S051", "S099")]]
