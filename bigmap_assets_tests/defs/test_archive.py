"""The archive assets in Dagster: bundles depend on their partition's tables, run in the technique's job,
hold the sample's rows, follow a changed raw file; notebook entries say where the data are."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.partitions import partition_key, partitions_for, sample_set
from bigmap_assets.warehouse.lake import Lake

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
CELL = "LNO-OPXAS-01"  # the smallest cycling folder of the example set: one EC-Lab file


@pytest.fixture()
def data_dir(tmp_path) -> Path:
    if not (REPO_DATA / "raw" / "cycling" / CELL).is_dir():
        pytest.skip("example data not generated (python -m bigmap_assets.simulate --data-dir data)")
    shutil.copytree(REPO_DATA / "registry", tmp_path / "registry")
    shutil.copytree(REPO_DATA / "raw" / "cycling" / CELL, tmp_path / "raw" / "cycling" / CELL)
    return tmp_path


def test_each_bundle_depends_on_its_partitions_tables_and_runs_in_the_techniques_job(tmp_path):
    defs = build_defs(str(tmp_path))
    graph = defs.resolve_asset_graph()
    expected = {"cycling": {"cycling_timeseries", "cycling_cycles", "cycling_soh"},
                "d2b": {"d2b_numors", "d2b_diffractograms", "d2b_comparisons"},
                "xas": {"xas_scans", "xas_spectra", "xas_echem"}}
    for technique, tables in expected.items():
        node = graph.get(dg.AssetKey(f"{technique}_archive"))
        assert {k.to_user_string() for k in node.parent_keys} == tables
        assert node.partitions_def == partitions_for(technique)
        job_keys = defs.resolve_job_def(f"{technique}_job").asset_layer.executable_asset_keys
        assert dg.AssetKey(f"{technique}_archive") in job_keys
    summary_keys = defs.resolve_job_def("summary_job").asset_layer.executable_asset_keys
    assert dg.AssetKey("notebook_entries") in summary_keys


def test_bundle_holds_the_samples_rows_is_reproducible_and_follows_a_changed_raw_file(data_dir):
    defs = build_defs(str(data_dir))
    job = defs.resolve_job_def("cycling_job")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(sample_set("cycling").name, [CELL])
        assert job.execute_in_process(partition_key=partition_key(CELL, "cycling"), instance=instance).success
        folder = data_dir / "warehouse" / "archive" / CELL / "cycling"
        lake = Lake(data_dir / "warehouse" / "lake")
        lake_rows = lake.read("cycling_timeseries", {"sample_id": CELL}).num_rows
        assert pq.read_table(folder / "cycling_timeseries.parquet").num_rows == lake_rows > 1000
        record = json.loads((folder / "metadata.json").read_text())
        assert record["metadata"]["creators"] == [{"person_or_org": {"type": "organizational", "name": "ProviderA"}}]
        first_bytes = {p.name: p.read_bytes() for p in folder.iterdir()}
        assert job.execute_in_process(partition_key=partition_key(CELL, "cycling"), instance=instance).success
        again = {p.name: p.read_bytes() for p in folder.iterdir()}
        stamp = re.compile(rb'"(prov:generatedAtTime|publication_date)": "[^"]*"')
        assert {k: stamp.sub(b"", v) for k, v in again.items()} == {k: stamp.sub(b"", v) for k, v in first_bytes.items()}
        first = json.loads((folder / "metadata.jsonld").read_text())
        source = data_dir / "raw" / "cycling" / CELL / f"{CELL}_operando_xas_C01.mpt"
        assert first["schema:isBasedOn"][0]["schema:name"] == str(source.relative_to(data_dir))

        lines = source.read_text(encoding="latin-1").splitlines(keepends=True)
        source.write_text("".join(lines[: len(lines) // 2]), encoding="latin-1")  # the cell's data, cut in half
        rerun = job.execute_in_process(partition_key=partition_key(CELL, "cycling"), instance=instance)
        assert rerun.success
        second = json.loads((folder / "metadata.jsonld").read_text())
        assert second["schema:isBasedOn"][0]["schema:sha256"] != first["schema:isBasedOn"][0]["schema:sha256"]
        assert pq.read_table(folder / "cycling_timeseries.parquet").num_rows < lake_rows
        checks = {e.check_name: e.passed for e in rerun.get_asset_check_evaluations()}
        assert checks["record_is_valid"] is True

        summary = defs.resolve_job_def("summary_job")
        assert summary.execute_in_process(instance=instance, asset_selection=[dg.AssetKey("notebook_entries")]).success
    entry = (data_dir / "warehouse" / "archive" / CELL / "notebook.md").read_text()
    assert entry.startswith(f"# {CELL}\n")
    assert "| chemistry | LiNiO2\\|\\|Li |" in entry
    assert f"Bundle `warehouse/archive/{CELL}/cycling/` (record valid, ready to upload):" in entry
    assert "- ARC-04 (SOLEIL, XAS (ROCK)): notebook entry ELN-1004" in entry
