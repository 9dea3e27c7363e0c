import pyarrow as pa

from bigmap_assets.ingest.registry import load_registry, load_samples, load_table, samples_table
from bigmap_assets.science.overview import coverage_matrix, sample_coverage, sample_overview
from bigmap_assets.simulate import registry as registry_sim


def _registry(tmp_path):
    registry_sim.generate(tmp_path)
    samples, _ = load_samples(tmp_path / "registry")
    tables = {n: load_table(tmp_path / "registry", n, set(samples))[0]
              for n in ("electrodes", "shipments", "experiments")}
    return samples_table(samples), tables


def test_missing_technique_tables_count_as_nothing(tmp_path):
    samples, _ = _registry(tmp_path)
    overview = sample_overview(samples)
    assert overview.num_rows == 14
    row = overview.filter(pa.compute.equal(overview["sample_id"], "LNO-REF-A-01")).to_pylist()[0]
    assert (row["cycling_files"], row["cycles"], row["d2b_measurements"], row["xas_scans"], row["shipments"]) == (
        0, 0, 0, 0, 0)
    assert row["soh_at_end_percent"] is None and row["reached_end_of_life"]  # end-of-life date in the registry


def test_overview_counts_what_each_technique_holds(tmp_path):
    samples, registry = _registry(tmp_path)
    cell = "LNO-REF-A-01"
    raw_files = pa.table({"sample_id": [cell, cell, cell], "technique": ["cycling"] * 3,
                          "status": ["ok", "ok", "issue"]})
    cycles = pa.table({"sample_id": [cell] * 4, "cycle_count": [0, 1, 2, 3]})
    soh = pa.table({"sample_id": [cell] * 3, "checkup_index": [0, 1, 2], "soh": [1.0, 0.9, 0.79],
                    "eol_reached": [True] * 3})
    numors = pa.table({"sample_id": ["LNO-OPD2B-01"] * 5, "measurement_index": [0, 0, 1, 1, 2]})
    scans = pa.table({"sample_id": ["LNO-OPXAS-01"] * 7})
    # EXP-06 (XPS, Lab-02), EXP-12 (EPR, Lab-07) and EXP-18 (DEMS, Lab-12) used LNO-REF-A-01's electrodes
    answers = pa.table({"technique": ["XPS", "XPS", "XPS", "EPR", "SEM"], "partner": ["Lab-02"] * 3 + [
        "Lab-07", "Lab-04"], "answer": ["yes", None, "no", "unsure", "yes"]})
    overview = sample_overview(samples, raw_files=raw_files, cycling_cycles=cycles, cycling_soh=soh,
                               d2b_numors=numors, xas_scans=scans, survey_answers=answers, **registry)
    rows = {r["sample_id"]: r for r in overview.to_pylist()}
    assert (rows[cell]["cycling_files"], rows[cell]["cycles"], rows[cell]["checkups"]) == (2, 3, 3)
    assert rows[cell]["soh_at_end_percent"] == 79.0
    assert rows[cell]["techniques"] == ["DEMS", "EPR", "XPS"] and rows[cell]["survey_answers"] == 3
    assert rows[cell]["electrodes"] == 2 and rows[cell]["shipments"] == 1  # SHP-06
    assert rows["LNO-OPD2B-01"]["d2b_measurements"] == 3 and rows["LNO-OPXAS-01"]["xas_scans"] == 7
    assert rows["LNO-OPD2B-01"]["techniques"] == ["neutron diffraction (D2B)"]

    coverage = sample_coverage(overview, registry["experiments"])
    sample_ids, techniques, counts = coverage_matrix(coverage)
    assert counts[sample_ids.index(cell), techniques.index("cycling")] == 2
    assert counts[sample_ids.index("LNO-OPXAS-01"), techniques.index("xas")] == 7
    assert counts[sample_ids.index("LNO-OPXAS-01"), techniques.index("XAS (ROCK)")] == 1
    # files + measurements + scans + two cells per experiment, but one operando cell at ILL (EXP-03) and SOLEIL
    assert counts.sum() == 2 + 3 + 7 + 2 * 21 - 2


def test_experiments_and_shipments_naming_electrodes_count_for_their_cell(tmp_path):
    registry = tmp_path / "registry"
    registry_sim.generate(tmp_path)
    (registry / "experiments.csv").write_text(
        "experiment_id,partner,technique,site_type,sample_ids,received_date,started_date,completed_date\n"
        "E1,Lab-02,XPS,lab,LNO-REF-A-01-LNO;LNO-REF-A-01-Gr,2023-03-01,2023-03-02,2023-04-01\n"
        "E2,Lab-04,SEM,lab,LNO-REF-A-01;LNO-XX-Gr,2023-03-01,2023-03-02,2023-04-01\n")
    (registry / "shipments.csv").write_text(
        "shipment_id,from_site,to_site,sent_date,received_date,sample_ids,lost\n"
        "S1,Lab-01,Lab-02,2023-02-20,2023-02-27,LNO-REF-A-01-LNO;LNO-REF-A-01-Gr,false\n")
    tables, issues = load_registry(registry)
    assert [(i.location, i.reason) for i in issues] == [
        ("row 3", "experiment_id 'E2' names unknown sample 'LNO-XX-Gr' (not in samples or electrodes)")]
    overview = sample_overview(tables["samples"], **{n: tables[n] for n in ("electrodes", "shipments", "experiments")})
    row = {r["sample_id"]: r for r in overview.to_pylist()}["LNO-REF-A-01"]
    assert (row["experiments"], row["techniques"], row["shipments"]) == (2, ["SEM", "XPS"], 1)
    coverage = sample_coverage(overview, tables["experiments"], tables["electrodes"])
    assert coverage.filter(pa.compute.equal(coverage["sample_id"], "LNO-REF-A-01"))["item_count"].to_pylist() == [1, 1]
