"""Bundles without Dagster: BattINFO terms that resolve, hashes that match the files, reproducible bytes."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq

from bigmap_assets import schemas
from bigmap_assets.archive import battinfo
from bigmap_assets.archive.bundle import JSONLD_NAME, RECORD_NAME, read_bundle, write_bundle
from bigmap_assets.archive.facts import Facts, experiments_of, summarise

UTC = timezone.utc
SAMPLE = {"sample_id": "LNO-LTD-A-01", "provider": "ProviderA", "batch": "A-2023-01", "series": "dried LiTDI",
          "chemistry": "LiNiO2||graphite", "active_mass_mg": 9.85, "timezone": "Europe/Berlin", "role": "ageing",
          "assembly_date": date(2023, 1, 9), "end_of_life_date": date(2023, 4, 19)}
EXPERIMENTS = [
    {"experiment_id": "EXP-02", "partner": "Lab-01", "technique": "operando XRD", "site_type": "lab",
     "sample_ids": ["LNO-LTD-A-01"]},
    {"experiment_id": "EXP-07", "partner": "Lab-03", "technique": "long-term cycling", "site_type": "lab",
     "sample_ids": ["LNO-LTD-A-01", "LNO-LTD-A-02"]},
]


def _tables() -> dict[str, pa.Table]:
    start = datetime(2023, 1, 10, 8, 0, tzinfo=UTC)
    cycles = schemas.TABLES["cycling_cycles"].conform(pa.table({
        "sample_id": ["LNO-LTD-A-01"] * 4, "cycle_count": [0, 1, 2, 3],
        "stage": ["rest", "formation", "checkup", "ageing"],
        "start_utc_time": [start.replace(hour=h) for h in (8, 14, 20, 23)],
        "duration_second": [21600.0, 21600.0, 10800.0, 3600.0], "complete": [True, True, True, False]}))
    soh = schemas.TABLES["cycling_soh"].conform(pa.table({
        "sample_id": ["LNO-LTD-A-01"] * 2, "checkup_index": [0, 1], "soh": [1.0, 0.7912], "eol_cycle_count": [142, 142]}))
    timeseries = pa.table({"test_time_second": [0.0, 1.0, 2.0], "voltage_volt": [3.0, 3.1, 3.2],
                           "current_ampere": [0.001, 0.001, 0.0]})
    return {"cycling_timeseries": timeseries, "cycling_cycles": cycles, "cycling_soh": soh}


def _facts(tables: dict[str, pa.Table], series: str = "dried LiTDI") -> Facts:
    summary, start, end = summarise("cycling", tables)
    return Facts(
        sample_id="LNO-LTD-A-01", technique="cycling", sample={**SAMPLE, "series": series},
        electrodes=[{"electrode_id": "LNO-LTD-A-01-LNO", "sample_id": "LNO-LTD-A-01", "material": "LNO", "state": "aged"},
                    {"electrode_id": "LNO-LTD-A-01-Gr", "sample_id": "LNO-LTD-A-01", "material": "Gr", "state": None}],
        experiments=experiments_of(EXPERIMENTS, "LNO-LTD-A-01", "cycling"),
        raw_files=[{"path": "raw/cycling/LNO-LTD-A-01/a.mpt", "sha256": "ab" * 32, "size_byte": 1234,
                    "reader": "eclab_mpt", "status": "ok"}],
        summary=summary, start_utc=start, end_utc=end)


def _write(folder, tables, now, outputs=(), series="dried LiTDI"):
    return write_bundle(folder, _facts(tables, series), {k: [v] for k, v in tables.items()}, list(outputs),
                        code_version="0.1.0+gtest", now=now)


def test_summary_counts_complete_cycles_by_stage_and_the_measured_period():
    summary, start, end = summarise("cycling", _tables())
    assert summary == {"cycles": 3, "cycles_by_stage": {"ageing": 1, "checkup": 1, "formation": 1},
                       "checkups": 2, "last_soh": 0.7912, "end_of_life_cycle": 142}
    assert (start, end) == (datetime(2023, 1, 10, 8, tzinfo=UTC), datetime(2023, 1, 11, 0, tzinfo=UTC))


def test_jsonld_uses_battinfo_terms_that_the_inline_context_defines(tmp_path):
    bundle = _write(tmp_path / "b", _tables(), datetime(2026, 12, 6, 5, 0, tzinfo=UTC))
    document = json.loads((bundle.folder / JSONLD_NAME).read_text())
    assert document["dcterms:conformsTo"] == {"@id": "https://w3id.org/emmo/domain/battery"}
    context = document["@context"]
    assert context["schema"] == "https://schema.org/"
    unknown = {term for term in _terms(document) if term not in context}
    assert unknown == set()
    cell = document["schema:about"]
    assert cell["@type"] == "BatteryCell"
    assert context["BatteryCell"] == "https://w3id.org/emmo/domain/battery#battery_68ed592a_7924_45d0_a108_94d6275d57f0"
    cathode = cell["hasPositiveElectrode"]["hasActiveMaterial"]
    assert cathode["@type"] == "LithiumNickelOxide"
    assert cathode["hasProperty"]["hasNumericalPart"]["hasNumberValue"] == 9.85
    assert cell["hasPositiveElectrode"]["schema:identifier"] == ["LNO-LTD-A-01-LNO"]
    assert cell["hasPositiveElectrode"]["schema:description"] == "harvested: LNO-LTD-A-01-LNO (aged)"
    assert cell["hasNegativeElectrode"]["hasActiveMaterial"]["@type"] == "Graphite"
    assert cell["hasNegativeElectrode"]["schema:identifier"] == ["LNO-LTD-A-01-Gr"]
    assert cell["hasElectrolyte"]["hasAdditive"]["rdfs:label"] == "LiTDI"
    process = document["prov:wasGeneratedBy"]
    assert process["@type"][0] == "CyclingTest"
    assert process["hasCharacterisationMeasurementInstrument"][0]["rdfs:label"] == "BioLogic potentiostat (EC-Lab)"
    assert "3 complete cycles" in process["hasInput"]["rdfs:comment"]
    assert "end of life (80 % SoH) at cycle 142" in process["hasInput"]["rdfs:comment"]
    assert document["schema:isBasedOn"][0]["schema:sha256"] == "ab" * 32
    assert document["schema:temporalCoverage"] == "2023-01-10T08:00:00Z/2023-01-11T00:00:00Z"
    assert document["schema:creator"] == [{"@type": "schema:Organization", "schema:name": "Lab-03"}]


def test_no_additive_when_the_series_has_none(tmp_path):
    bundle = _write(tmp_path / "b", _tables(), datetime(2026, 12, 6, tzinfo=UTC), series="no LiTDI")
    electrolyte = json.loads((bundle.folder / JSONLD_NAME).read_text())["schema:about"]["hasElectrolyte"]
    assert electrolyte == {"@type": "Electrolyte", "rdfs:label": "no LiTDI"}


def test_every_file_is_listed_with_its_real_hash_and_the_record_is_valid(tmp_path):
    plot = tmp_path / "LNO-LTD-A-01_soh.png"
    plot.write_bytes(b"\x89PNG fake")
    bundle = _write(tmp_path / "b", _tables(), datetime(2026, 12, 6, tzinfo=UTC), outputs=[plot])
    names = [f.name for f in bundle.files]
    assert names == ["cycling_timeseries.parquet", "cycling_cycles.parquet", "cycling_soh.parquet",
                     "LNO-LTD-A-01_soh.png", JSONLD_NAME]
    for file in bundle.files:
        data = (bundle.folder / file.name).read_bytes()
        assert (file.sha256, file.size_byte) == (hashlib.sha256(data).hexdigest(), len(data))
    assert pq.read_table(bundle.folder / "cycling_soh.parquet").column("soh").to_pylist() == [1.0, 0.7912]
    assert bundle.problems == ()
    assert read_bundle(bundle.folder).files == bundle.files
    metadata = bundle.record["metadata"]
    assert metadata["title"] == "Galvanostatic cycling of cell LNO-LTD-A-01 (dried LiTDI)"
    assert metadata["dates"][1] == {"date": "2023-01-10/2023-01-11", "type": {"id": "collected"},
                                    "description": "Galvanostatic cycling measurements"}


def test_same_inputs_give_byte_identical_metadata_except_timestamps(tmp_path):
    first = _write(tmp_path / "one", _tables(), datetime(2026, 12, 6, 5, 0, tzinfo=UTC))
    second = _write(tmp_path / "two", _tables(), datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC))
    for name in (JSONLD_NAME, RECORD_NAME):
        one, two = ((b.folder / name).read_text() for b in (first, second))
        assert one != two  # the timestamps differ...
        stamp = re.compile(r'"(prov:generatedAtTime|publication_date)": "[^"]*"')
        assert stamp.sub("", one) == stamp.sub("", two)  # ...and nothing else
    for file in first.files[:-1]:
        assert (first.folder / file.name).read_bytes() == (second.folder / file.name).read_bytes()


def test_a_rebuild_removes_files_no_longer_produced(tmp_path):
    plot = tmp_path / "LNO-LTD-A-01_soh.png"
    plot.write_bytes(b"png")
    folder = tmp_path / "b"
    _write(folder, _tables(), datetime(2026, 12, 6, tzinfo=UTC), outputs=[plot])
    tables = _tables()
    tables["cycling_soh"] = tables["cycling_soh"].slice(0, 0)
    bundle = _write(folder, tables, datetime(2026, 12, 6, tzinfo=UTC))
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["cycling_timeseries.parquet", "cycling_cycles.parquet", JSONLD_NAME, RECORD_NAME])
    assert [f.name for f in bundle.files][-1] == JSONLD_NAME


def test_an_unregistered_cell_gives_a_record_the_validator_refuses(tmp_path):
    facts = Facts(sample_id="LNO-X-01", technique="cycling")
    bundle = write_bundle(tmp_path / "b", facts, {}, [], code_version="0.1.0", now=datetime(2026, 12, 6, tzinfo=UTC))
    assert bundle.problems == ("metadata.creators: at least one creator is required",)


def _terms(node) -> set[str]:
    """Keys and @type values of a JSON-LD document that are bare terms (no prefix, not a keyword)."""
    found = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                continue
            if not key.startswith("@") and ":" not in key:
                found.add(key)
            if key == "@type":
                found |= {t for t in ([value] if isinstance(value, str) else value) if ":" not in t}
            elif key == "hasMeasurementUnit":
                found.add(value)
            else:
                found |= _terms(value)
    elif isinstance(node, list):
        for value in node:
            found |= _terms(value)
    return found


def test_every_battinfo_term_is_an_iri_of_the_ontologys_namespaces():
    namespaces = ("https://w3id.org/emmo/domain/battery#", "https://w3id.org/emmo/domain/electrochemistry#",
                  "https://w3id.org/emmo/domain/chemical-substance#", "https://w3id.org/emmo#",
                  "https://w3id.org/emmo/domain/characterisation-methodology/chameo#")
    for term, iri in {**battinfo.CLASSES, **battinfo.PROPERTIES}.items():
        assert iri.startswith(namespaces), term


def test_xas_summary_and_a_one_day_collection_date(tmp_path):
    t0 = datetime(2024, 3, 12, 8, 20, tzinfo=UTC)
    scans = pa.table({"element": ["Ni", "Ni"], "edge": ["K", "K"], "start_utc_time": [t0, t0.replace(hour=17)],
                      "stop_utc_time": [t0.replace(minute=24), t0.replace(hour=18, minute=1, second=5)]})
    summary, start, end = summarise("xas", {"xas_scans": scans})
    assert (summary, start, end) == ({"scans": 2, "edges": ["Ni K"]}, t0, datetime(2024, 3, 12, 18, 1, 5, tzinfo=UTC))
    facts = Facts("LNO-OPXAS-01", "xas", sample={"provider": "ProviderA"}, summary=summary, start_utc=start, end_utc=end)
    bundle = write_bundle(tmp_path / "b", facts, {}, [], code_version="0.1.0", now=datetime(2026, 12, 6, tzinfo=UTC))
    assert bundle.record["metadata"]["dates"] == [
        {"date": "2024-03-12", "type": {"id": "collected"}, "description": "X-ray absorption spectroscopy measurements"}]
    document = json.loads((bundle.folder / JSONLD_NAME).read_text())
    assert document["prov:wasGeneratedBy"]["@type"] == ["Nexafs", "prov:Activity"]
    assert document["schema:keywords"] == ["battery", "X-ray absorption spectroscopy", "Ni K"]


def test_d2b_summary_counts_numors_measurements_and_significant_changes():
    t0 = datetime(2023, 6, 24, 10, tzinfo=UTC)
    numors = pa.table({"measurement_index": [0, 0, 1, 1], "wavelength_angstrom": [1.594] * 4,
                       "start_utc_time": [t0.replace(hour=h) for h in (10, 11, 12, 13)]})
    comparisons = pa.table({"significant": [True]})
    summary, start, end = summarise("d2b", {"d2b_numors": numors, "d2b_comparisons": comparisons})
    assert summary == {"numors": 4, "measurements": 2, "wavelengths_angstrom": [1.594], "significant_changes": 1}
    assert (start, end) == (t0, t0.replace(hour=13))
