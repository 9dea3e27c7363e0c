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
    assert checks == {"energy_calibration_is_stable": True, "scans_meet_the_electrochemistry": True,
                      "newer_than_raw_files": True, "raw_files_accepted": True, "record_is_valid": True,
                      "has_cycling_data": True}


def test_scan_notes_become_ingest_warnings(realdata, tmp_path):
    """A NaN in one scan's mu: the scan is normalised without it, and ingest_issues says so next to the file."""
    from bigmap_assets.defs.resources import WarehouseResource
    from bigmap_assets.defs.xas import xas_ingest

    lines = (realdata / "xas" / "other" / "ni_metal_rt.xdi").read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))
    values = lines[first + 100].split()
    lines[first + 100] = " ".join([values[0], "nan", *values[2:]])
    folder = tmp_path / "raw" / "xas" / "S1"
    folder.mkdir(parents=True)
    (folder / "ni.xdi").write_text("\n".join(lines) + "\n")
    warehouse = WarehouseResource(data_dir=str(tmp_path))
    context = dg.build_asset_context(partition_key=partition_key("S1", "xas"))
    list(xas_ingest(context, warehouse=warehouse))
    scans = warehouse.lake.read("xas_scans", {"sample_id": "S1"}).to_pylist()
    assert [(s["dropped_point_count"], s["normalised_by"], s["notes"]) for s in scans] == [
        (1, "bigmap", "1 of 418 points not finite: left out")]
    issues = warehouse.lake.read("ingest_issues", {"technique": "xas", "sample_id": "S1"}).to_pylist()
    assert [(i["path"], i["location"], i["severity"], i["reason"]) for i in issues if i["location"]] == [
        ("raw/xas/S1/ni.xdi", "scan ni", "warning", "1 of 418 points not finite: left out")]
