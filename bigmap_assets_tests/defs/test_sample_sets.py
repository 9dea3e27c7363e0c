"""One set of sample partitions per technique: what the sensor adds, removes and migrates, and a sample
measured by XAS without cycling data."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.materialize import materialize_all
from bigmap_assets.defs.partitions import LEGACY_SET, partition_key, sample_set
from bigmap_assets.defs.removal import removed
from bigmap_assets.defs.resources import WarehouseResource
from bigmap_assets.simulate import registry as simulate_registry
from bigmap_assets.simulate import xas as simulate_xas

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
CELLS = ("LNO-REF-A-01", "LNO-LTD-B-01")
XAS_FILE = REPO_DATA / "raw" / "xas" / "LNO-OPXAS-01" / "norm_opxas01_pos1_dq1_0001_av240_00001.txt"


@pytest.fixture()
def data_dir(tmp_path) -> Path:
    """Two generated cells (cycling files) and the registry, copied from the example data set."""
    if not (REPO_DATA / "raw" / "cycling" / CELLS[0]).is_dir() or not XAS_FILE.exists():
        pytest.skip("example data not generated (python -m bigmap_assets.simulate --data-dir data)")
    shutil.copytree(REPO_DATA / "registry", tmp_path / "registry")
    for cell in CELLS:
        shutil.copytree(REPO_DATA / "raw" / "cycling" / cell, tmp_path / "raw" / "cycling" / cell)
    _age(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def _built_once(tmp_path_factory) -> tuple[Path, Path]:
    """The two cells materialised once, with the instance that recorded it (a folder of SQLite files)."""
    root = tmp_path_factory.mktemp("built")
    if not (REPO_DATA / "raw" / "cycling" / CELLS[0]).is_dir():
        pytest.skip("example data not generated (python -m bigmap_assets.simulate --data-dir data)")
    shutil.copytree(REPO_DATA / "registry", root / "data" / "registry")
    for cell in CELLS:
        shutil.copytree(REPO_DATA / "raw" / "cycling" / cell, root / "data" / "raw" / "cycling" / cell)
    _age(root / "data")
    (root / "home").mkdir()
    (root / "home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(root / "home")) as instance:
        assert materialize_all(root / "data", instance=instance).succeeded
    return root / "data", root / "home"


@pytest.fixture()
def built(_built_once, tmp_path):
    """A copy of the built data folder (mtimes kept) and an instance opened on a copy of its records."""
    data, home = _built_once
    shutil.copytree(data, tmp_path / "data")
    shutil.copytree(home, tmp_path / "home")
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        yield tmp_path / "data", instance


def _age(folder: Path, seconds: float = 60.0) -> None:
    then = time.time() - seconds
    for path in folder.rglob("*"):
        os.utime(path, (then, then))


def _tick(sensor, instance, warehouse, cursor=None):
    return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse}))


def _added(result) -> dict[str, list[str]]:
    return {r.partitions_def_name: list(r.partition_keys) for r in result.dynamic_partitions_requests
            if isinstance(r, dg.AddDynamicPartitionsRequest)}


def _deleted(result) -> dict[str, list[str]]:
    return {r.partitions_def_name: list(r.partition_keys) for r in result.dynamic_partitions_requests
            if isinstance(r, dg.DeleteDynamicPartitionsRequest)}


def _apply(instance, result) -> None:
    for name, keys in _added(result).items():
        instance.add_dynamic_partitions(name, keys)
    for name, keys in _deleted(result).items():
        for key in keys:
            instance.delete_dynamic_partition(name, key)


def test_a_sample_joins_a_techniques_partitions_with_its_first_file_of_that_technique(data_dir):
    defs = build_defs(str(data_dir))
    sensor = defs.resolve_sensor_def("raw_file_sensor")
    warehouse = WarehouseResource(data_dir=str(data_dir), settle_seconds=0)
    (data_dir / "raw" / "xas" / CELLS[0]).mkdir(parents=True)
    shutil.copy(XAS_FILE, data_dir / "raw" / "xas" / CELLS[0])
    (data_dir / "raw" / "d2b" / CELLS[1]).mkdir(parents=True)  # a folder, no file yet
    _age(data_dir)
    with dg.instance_for_test() as instance:
        first = _tick(sensor, instance, warehouse)
        assert _added(first) == {"cycling_samples": sorted(CELLS), "xas_samples": [CELLS[0]]}
        _apply(instance, first)
        xas_keys = defs.resolve_job_def("xas_job").partitions_def.get_partition_keys(dynamic_partitions_store=instance)
        assert xas_keys == [f"{CELLS[0]}|xas"]  # not one partition per cycling cell
        assert defs.resolve_job_def("d2b_job").partitions_def.get_partition_keys(dynamic_partitions_store=instance) == []

        numor = REPO_DATA / "raw" / "d2b" / "LNO-OPD2B-01" / "612001.nxs"
        shutil.copy(numor, data_dir / "raw" / "d2b" / CELLS[1])
        _age(data_dir / "raw" / "d2b")
        second = _tick(sensor, instance, warehouse, first.cursor)
        assert _added(second) == {"d2b_samples": [CELLS[1]]}
        assert [str(r.partition_key) for r in second.run_requests] == [f"{CELLS[1]}|d2b"]


def test_a_removed_sample_folder_drops_its_partition_and_retracts_its_rows(built):
    data_dir, instance = built
    warehouse = WarehouseResource(data_dir=str(data_dir), settle_seconds=0)
    sensor = build_defs(str(data_dir)).resolve_sensor_def("raw_file_sensor")
    first = _tick(sensor, instance, warehouse)
    assert first.run_requests == []

    plots = data_dir / "warehouse" / "plots" / "cycling"
    assert (plots / f"{CELLS[1]}_soh_versus_cycle.png").is_file()
    shutil.rmtree(data_dir / "raw" / "cycling" / CELLS[1])
    second = _tick(sensor, instance, warehouse, first.cursor)
    assert not (plots / f"{CELLS[1]}_soh_versus_cycle.png").exists()  # its SoH curve goes with its rows
    assert (plots / f"{CELLS[0]}_soh_versus_cycle.png").is_file()
    assert _deleted(second) == {"cycling_samples": [CELLS[1]]} and _added(second) == {}
    assert [(r.job_name, r.partition_key) for r in second.run_requests] == [("summary_job", None)]
    for table, partition in (("cycling_timeseries", {"sample_id": CELLS[1]}), ("cycling_soh", {"sample_id": CELLS[1]}),
                             ("raw_files", {"technique": "cycling", "sample_id": CELLS[1]})):
        assert warehouse.lake.read(table, partition) is None, table
    assert warehouse.lake.read("cycling_timeseries", {"sample_id": CELLS[0]}).num_rows > 0  # the other cell stays
    _apply(instance, second)
    assert set(instance.get_dynamic_partitions("cycling_samples")) == {CELLS[0]}
    assert _tick(sensor, instance, warehouse, second.cursor).run_requests == []


def _downgrade(instance: dg.DagsterInstance) -> None:
    """Put the instance back as versions before the split left it: every sample in the one ``sample_id`` set."""
    for technique in ("cycling", "d2b", "xas"):
        for key in instance.get_dynamic_partitions(sample_set(technique).name):
            instance.delete_dynamic_partition(sample_set(technique).name, key)
    instance.add_dynamic_partitions(LEGACY_SET, [*CELLS, "LNO-OLD-01"])  # the last: no folder, no rows


def test_the_sensor_moves_an_old_instances_single_set_and_keeps_its_history(built):
    data_dir, instance = built
    warehouse = WarehouseResource(data_dir=str(data_dir), settle_seconds=0)
    _downgrade(instance)
    sensor = build_defs(str(data_dir)).resolve_sensor_def("raw_file_sensor")
    first = _tick(sensor, instance, warehouse)
    assert first.run_requests == [] and first.dynamic_partitions_requests == []  # built: nothing to redo
    assert instance.get_dynamic_partitions(LEGACY_SET) == []
    assert sorted(instance.get_dynamic_partitions("cycling_samples")) == sorted(CELLS)
    assert instance.get_dynamic_partitions("xas_samples") == []
    materialized = instance.get_materialized_partitions(dg.AssetKey("cycling_timeseries"))
    assert {f"{c}|cycling" for c in CELLS} <= materialized  # same keys: the history carries over


def test_materialize_moves_an_old_instances_single_set_and_drops_a_sample_whose_folder_is_gone(built):
    data_dir, instance = built
    _downgrade(instance)
    shutil.rmtree(data_dir / "raw" / "cycling" / CELLS[1])
    lines = []
    assert materialize_all(data_dir, instance=instance, log=lines.append).succeeded
    assert instance.get_dynamic_partitions(LEGACY_SET) == []
    assert instance.get_dynamic_partitions("cycling_samples") == [CELLS[0]]
    assert f"removed {CELLS[1]}|cycling: raw/cycling/{CELLS[1]} is gone, its rows retracted" in lines
    lake = WarehouseResource(data_dir=str(data_dir)).lake
    assert lake.read("cycling_cycles", {"sample_id": CELLS[1]}) is None
    assert lake.read("cycling_cycles", {"sample_id": CELLS[0]}).num_rows > 0


def test_xas_without_cycling_data_builds_and_its_check_says_why(tmp_path):
    simulate_registry.generate(tmp_path)
    simulate_xas.generate(tmp_path, seed=0)
    shutil.rmtree(tmp_path / "raw" / "cycling")
    sample = simulate_xas.SAMPLE_ID
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(sample_set("xas").name, [sample])
    job = build_defs(str(tmp_path)).resolve_job_def("xas_job")
    result = job.execute_in_process(partition_key=partition_key(sample, "xas"), instance=instance)
    assert result.success
    check = next(e for e in result.get_asset_check_evaluations()
                 if e.check_name == "has_cycling_data" and e.asset_key.to_user_string() == "xas_echem")
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert check.metadata["cycling_timeseries_rows"].value == 0
    assert check.description.startswith(f"no cycling data for {sample}")


def test_an_unlistable_or_missing_raw_folder_removes_nothing(tmp_path):
    warehouse = WarehouseResource(data_dir=str(tmp_path))
    registered = {"cycling": {"C1"}, "xas": {"C1"}}
    assert removed(warehouse, registered) == {}  # no raw/ at all: a share not mounted
    (tmp_path / "raw" / "cycling").mkdir(parents=True)
    (tmp_path / "raw" / "xas").write_text("not a folder")
    assert removed(warehouse, registered) == {"cycling": ["C1"]}  # raw/xas cannot be listed: left alone
