"""The XAS assets through Dagster on the generated operando sample: scans, spectra, aligned table, plots, XDI."""

from __future__ import annotations

import dagster as dg
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.materialize import materialize_all
from bigmap_assets.defs.partitions import partition_key, sample_set
from bigmap_assets.simulate import registry as simulate_registry
from bigmap_assets.simulate import xas as simulate_xas
from bigmap_assets.warehouse import catalog


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    simulate_registry.generate(data_dir)  # the registry gives the cell's timezone (Europe/Paris) and active mass
    truth = simulate_xas.generate(data_dir, seed=0)
    report = materialize_all(data_dir, instance=dg.DagsterInstance.ephemeral())
    assert report.succeeded, report.runs
    return data_dir, truth


def test_xas_tables_are_published_and_aligned(warehouse):
    data_dir, truth = warehouse
    con = catalog.connect(data_dir / "warehouse")
    assert con.execute("SELECT count(*) FROM xas_scans").fetchone()[0] == len(truth["scans"])
    assert con.execute("SELECT count(DISTINCT source_scan) FROM xas_spectra").fetchone()[0] == len(truth["scans"])
    statuses = con.execute("SELECT DISTINCT alignment FROM xas_echem").fetchall()
    assert statuses == [("ok",)]
    voltages = [r[0] for r in con.execute("SELECT voltage_volt FROM xas_echem ORDER BY scan_number").fetchall()]
    assert voltages == pytest.approx([s["voltage_volt"] for s in truth["scans"]], abs=1e-4)
    socs = [r[0] for r in con.execute("SELECT state_of_charge FROM xas_echem ORDER BY scan_number").fetchall()]
    assert socs == pytest.approx([s["state_of_charge"] for s in truth["scans"]], abs=1e-4)  # active mass from the registry


def test_plots_and_xdi_exports_are_written(warehouse):
    data_dir, truth = warehouse
    plots = data_dir / "warehouse" / "plots" / "xas"
    assert (plots / "LNO-OPXAS-01_spectra_over_time.png").stat().st_size > 10_000
    assert (plots / "LNO-OPXAS-01_edge_versus_potential.png").stat().st_size > 10_000
    exports = sorted((data_dir / "warehouse" / "exports" / "xas" / "LNO-OPXAS-01").glob("*.xdi"))
    assert len(exports) == len(truth["scans"]) and exports[0].name == "0000_opxas01_pos1_dq1_0001.xdi"


def test_checks_pass_on_the_generated_sample(warehouse):
    data_dir, _ = warehouse
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(sample_set("xas").name, ["LNO-OPXAS-01"])
    job = build_defs(str(data_dir)).resolve_job_def("xas_job")
    result = job.execute_in_process(partition_key=partition_key("LNO-OPXAS-01", "xas"), instance=instance)
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {"energy_calibration_is_stable": True, "scans_meet_the_electrochemistry": True, "has_cycling_data": True,
                      "newer_than_raw_files": True}
