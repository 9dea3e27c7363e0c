"""The D2B assets through Dagster on the generated operando sample: tables, plots, .xye, check."""

import datetime as dt
import os
import shutil
import time

import dagster as dg
import numpy as np
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.materialize import materialize_all
from bigmap_assets.defs.partitions import partition_key, sample_set
from bigmap_assets.defs.resources import WarehouseResource
from bigmap_assets.simulate import d2b as simulate_d2b
from bigmap_assets.simulate import registry as simulate_registry
from bigmap_assets.warehouse import catalog


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    simulate_registry.generate(data_dir)
    truth = simulate_d2b.generate(data_dir, steps_per_numor=3, measurements=3)
    folder = data_dir / "raw" / "d2b" / simulate_d2b.SAMPLE_ID
    (folder / "not_a_numor.nxs").write_bytes(b"\x89HDF\r\n\x1a\nbroken")
    shutil.copyfile(folder / "612003.nxs", folder / "rerun_612003.nxs")  # the same run number twice
    report = materialize_all(data_dir, instance=dg.DagsterInstance.ephemeral())
    assert report.succeeded, report.runs
    return data_dir, truth


def test_tables_are_published(warehouse):
    data_dir, truth = warehouse
    con = catalog.connect(data_dir / "warehouse")
    groups = con.execute("SELECT measurement_index, list(run_number ORDER BY run_number) FROM d2b_numors "
                         "GROUP BY 1 ORDER BY 1").fetchall()
    assert [g[1] for g in groups] == [m["run_numbers"] for m in truth["measurements"]]
    assert con.execute("SELECT count(DISTINCT measurement_index) FROM d2b_diffractograms").fetchone()[0] == 3
    rows = con.execute("SELECT previous_measurement_index, measurement_index, significant FROM d2b_comparisons "
                       "ORDER BY 2").fetchall()
    assert [(r[0], r[1]) for r in rows] == [(0, 1), (1, 2)]
    assert rows[0][2] is True  # the lattice moved between the first two measurements
    issues = dict(con.execute("SELECT path, reason FROM ingest_issues WHERE technique = 'd2b'").fetchall())
    assert issues["raw/d2b/LNO-OPD2B-01/not_a_numor.nxs"].startswith("no reader recognises this file")
    assert "read as ILL local time (Europe/Paris)" in issues["raw/d2b/LNO-OPD2B-01/612001.nxs"]
    assert issues["raw/d2b/LNO-OPD2B-01/rerun_612003.nxs"] == \
        "not used: run 612003 is already read from raw/d2b/LNO-OPD2B-01/612003.nxs"
    assert con.execute("SELECT DISTINCT mantid_workflow, aligned_tubes, height_range_min_metre "
                       "FROM d2b_diffractograms").fetchall() == [("current", False, None)]


def test_plots_and_xye_exports_are_written(warehouse):
    data_dir, _ = warehouse
    plots = data_dir / "warehouse" / "plots" / "d2b"
    assert (plots / "LNO-OPD2B-01_last_comparison.png").stat().st_size > 10_000
    assert (plots / "LNO-OPD2B-01_series.png").stat().st_size > 10_000
    exports = sorted((data_dir / "warehouse" / "exports" / "d2b" / "LNO-OPD2B-01").glob("*.xye"))
    assert [p.name for p in exports][0] == "LNO-OPD2B-01_612001-612010.xye" and len(exports) == 3


def test_checks_on_the_generated_sample_pass_or_list_their_alerts(warehouse):
    data_dir, _ = warehouse
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(sample_set("d2b").name, ["LNO-OPD2B-01"])
    job = build_defs(str(data_dir)).resolve_job_def("d2b_job")
    result = job.execute_in_process(partition_key=partition_key("LNO-OPD2B-01", "d2b"), instance=instance)
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}
    assert {k: e.passed for k, e in checks.items() if k[1] != "newer_than_raw_files"} == {
        ("d2b_numors", "measurements_are_complete"): True,
        ("d2b_numors", "raw_files_accepted"): False,  # the broken file and the rerun are refused: alerts
        ("d2b_comparisons", "diffractograms_unchanged"): False,  # the lattice moved: alerts
        ("d2b_archive", "record_is_valid"): True,
        ("d2b_comparisons", "has_cycling_data"): True,
    }
    refused = checks["d2b_numors", "raw_files_accepted"].metadata["alerts"].value
    assert sorted(a["values"]["path"] for a in refused) == ["raw/d2b/LNO-OPD2B-01/not_a_numor.nxs",
                                                            "raw/d2b/LNO-OPD2B-01/rerun_612003.nxs"]
    changes = checks["d2b_comparisons", "diffractograms_unchanged"].metadata["alerts"].value
    assert [a["event_key"] for a in changes] == ["diffractogram_changed|LNO-OPD2B-01|612001>612011",
                                                 "diffractogram_changed|LNO-OPD2B-01|612011>612021"]


def test_sensor_reruns_only_the_d2b_partition_for_a_new_numor_set(tmp_path):
    simulate_d2b.generate(tmp_path, steps_per_numor=2, measurements=1)
    folder = tmp_path / "raw" / "d2b" / simulate_d2b.SAMPLE_ID

    def age():
        then = time.time() - 60
        for path in tmp_path.rglob("*"):
            os.utime(path, (then, then))

    age()
    sensor = build_defs(str(tmp_path)).resolve_sensor_def("raw_file_sensor")
    warehouse = WarehouseResource(data_dir=str(tmp_path), settle_seconds=0)
    with dg.instance_for_test() as instance:
        first = sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse}))
        assert sorted(str(r.partition_key) for r in first.run_requests) == ["LNO-OPD2B-01|cycling", "LNO-OPD2B-01|d2b"]
        instance.add_dynamic_partitions("d2b_samples", ["LNO-OPD2B-01"])
        rng = np.random.default_rng(0)
        for k in range(simulate_d2b.NUMORS_PER_MEASUREMENT):  # the next measurement arrives
            angles = simulate_d2b.detector_angles(k, 2)
            simulate_d2b.write_numor(folder / f"{612011 + k}.nxs", run_number=612011 + k,
                                     counts=rng.poisson(3, (2, 128, 128)).astype(np.int32), detector_angle_degree=angles,
                                     monitor_counts=np.full(2, 1e5), start_local=dt.datetime(2024, 5, 14, 12))
        age()
        second = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"warehouse": warehouse}))
        assert [str(r.partition_key) for r in second.run_requests] == ["LNO-OPD2B-01|d2b"]
        third = sensor(dg.build_sensor_context(instance=instance, cursor=second.cursor, resources={"warehouse": warehouse}))
        assert third.run_requests == []
