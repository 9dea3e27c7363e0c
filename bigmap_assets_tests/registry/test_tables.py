from datetime import date, datetime

from openpyxl import Workbook

from bigmap_assets.ingest.registry import load_samples, load_table
from bigmap_assets.simulate import registry as registry_sim


def _write(folder, name, text):
    (folder / f"{name}.csv").write_text(text)
    return folder


def _issues(folder, name, known=frozenset({"C1", "C2"})):
    table, issues = load_table(folder, name, set(known))
    return table, {(i.location, i.severity, i.reason) for i in issues}


def test_the_example_registry_loads_without_an_issue(tmp_path):
    registry_sim.generate(tmp_path)
    samples, issues = load_samples(tmp_path / "registry")
    assert issues == []
    counts = {}
    for name in ("electrodes", "shipments", "experiments", "archive_records"):
        table, table_issues = load_table(tmp_path / "registry", name, set(samples))
        assert table_issues == []
        counts[name] = table.num_rows
    assert counts == {"electrodes": 24, "shipments": 8, "experiments": 21, "archive_records": 21}


def test_shipment_validations_fire_on_crafted_rows(tmp_path):
    _write(tmp_path, "shipments", "\n".join([
        "shipment_id,from_site,to_site,sent_date,received_date,sample_ids,cost_eur,lost",
        "S1,A,B,2023-03-01,2023-03-05,C1;C2,10,false",
        "S1,A,B,2023-03-01,2023-03-05,C1,10,false",
        "S2,A,B,2023-03-10,2023-03-02,C1,10,false",
        "S3,A,B,2023-03-01,2023-03-04,C1;C9,10,false",
        "S4,A,B,2023-13-01,,C1,10,false",
        "S5,A,B,2023-03-01,,C1,ten,true",
        "S6,A,B,2023-03-01,,C1,10,lost",
        "S7,A,B,2023-03-01,,,,true",
        "S8,A,B,2023-03-01,2023-03-03,C1,10,true",
        "S9,A,B,2023-03-01,2023-03-03,C1,-5,false",
    ]) + "\n")
    table, found = _issues(tmp_path, "shipments")
    assert table["shipment_id"].to_pylist() == ["S1", "S3", "S5", "S7", "S9"]
    assert table["lost"].to_pylist() == [False, False, True, True, False]
    assert table["cost_eur"].to_pylist() == [10.0, 10.0, None, None, None]  # a bad cost is blanked, the row kept
    assert found == {
        ("row 3", "error", "duplicate shipment_id 'S1'"),
        ("row 4", "error", "dates run backwards: received_date 2023-03-02 is before sent_date 2023-03-10"),
        ("row 5", "warning", "shipment_id 'S3' names unknown sample 'C9' (not in samples or electrodes)"),
        ("row 6", "error", "sent_date '2023-13-01' is not a date (use YYYY-MM-DD)"),
        ("row 7", "error", "cost_eur 'ten' is not a number: left blank"),
        ("row 8", "error", "lost 'lost' is not true or false"),
        ("row 10", "error", "a lost parcel with a received_date: clear one of them"),
        ("row 11", "error", "cost_eur -5 is outside its physical range (from 0 to 100000 EUR): left blank"),
    }


def test_experiment_and_archive_dates_must_run_forwards(tmp_path):
    _write(tmp_path, "experiments", "\n".join([
        "experiment_id,partner,technique,site_type,sample_ids,received_date,started_date,completed_date,percent_done",
        "E1,L,XRD,lab,C1,2023-03-01,2023-03-02,2023-05-01",
        "E2,L,XRD,lab,C1,2023-03-05,2023-03-02,2023-05-01",
        "E3,L,XRD,lab,C1,2023-03-01,2023-03-02,2023-02-01",
        "E4,L,XRD,synchrotron,C1,2023-03-01,2023-03-02,",
        "E5,L,XRD,lab,C1,2023-03-01,2023-03-02,,120",
    ]) + "\n")
    _write(tmp_path, "archive_records", "record_id,partner,technique,created_date,updated_date,notebook_entry\n"
                                        "R1,L,XRD,2023-06-01,2023-05-01,ELN-1\n")
    table, found = _issues(tmp_path, "experiments")
    assert table["experiment_id"].to_pylist() == ["E1", "E5"] and table["percent_done"].to_pylist() == [None, None]
    assert found == {
        ("row 3", "error", "dates run backwards: started_date 2023-03-02 is before received_date 2023-03-05"),
        ("row 4", "error", "dates run backwards: completed_date 2023-02-01 is before started_date 2023-03-02"),
        ("row 5", "error", "site_type 'synchrotron' is not one of lab, large-scale facility"),
        ("row 6", "error", "percent_done 120 is outside its physical range (from 0 to 100 %): left blank"),
    }
    assert _issues(tmp_path, "archive_records")[1] == {
        ("row 2", "error", "dates run backwards: updated_date 2023-05-01 is before created_date 2023-06-01")}


def test_electrode_validations(tmp_path):
    _write(tmp_path, "electrodes", "\n".join([
        "electrode_id,sample_id,material",
        "C1-LNO,C1,LNO",
        "C1-LNO,C1,LNO",
        "C2-Gr,C1,Gr",
        "C2-Si,C2,Si",
        "C9-Gr,C9,Gr",
    ]) + "\n")
    table, found = _issues(tmp_path, "electrodes")
    assert table["electrode_id"].to_pylist() == ["C1-LNO", "C9-Gr"]
    assert found == {
        ("row 3", "error", "duplicate electrode_id 'C1-LNO'"),
        ("row 4", "error", "electrode_id 'C2-Gr' does not start with its cell ID 'C1'"),
        ("row 5", "error", "material 'Si' is not one of LNO, Gr"),
        ("row 6", "warning", "electrode_id 'C9-Gr' names unknown sample 'C9' (not in samples)"),
    }


def test_sample_dates_must_run_forwards_and_a_missing_table_is_empty(tmp_path):
    _write(tmp_path, "samples", "sample_id,provider,batch,series,chemistry,active_mass_mg,timezone,assembly_date,"
                                "end_of_life_date\nC1,P,B,s,LNO,10,UTC,2023-03-01,2023-02-01\n")
    samples, issues = load_samples(tmp_path)
    assert samples == {} and issues[0].reason.startswith("dates run backwards: end_of_life_date 2023-02-01")
    table, issues = load_table(tmp_path, "shipments", set())
    assert table.num_rows == 0 and issues == []


def test_an_xlsx_registry_with_real_excel_dates_loads(tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["shipment_id", "from_site", "to_site", "sent_date", "received_date", "sample_ids", "lost"])
    sheet.append(["S1", "A", "B", datetime(2023, 3, 1), date(2023, 3, 9), "C1", False])
    book.save(tmp_path / "shipments.xlsx")
    table, issues = load_table(tmp_path, "shipments", {"C1"})
    assert issues == []
    assert table.select(["sent_date", "received_date", "lost"]).to_pylist() == [
        {"sent_date": date(2023, 3, 1), "received_date": date(2023, 3, 9), "lost": False}]


def test_files_that_cannot_be_opened_or_decoded_are_issues_not_crashes(tmp_path):
    (tmp_path / "samples.csv").write_bytes(b"sample_id,provider,batch,series,chemistry,active_mass_mg,timezone\n"
                                           b"C1,M\xfcnster,B,s,LNO,10,Europe/Berlin\n")
    (tmp_path / "shipments.xlsx").write_bytes(b"not a zip")
    Workbook().save(tmp_path / "experiments.xlsx")  # one empty sheet
    samples, issues = load_samples(tmp_path)
    assert samples["C1"]["provider"] == "Münster"
    assert [(i.severity, i.reason) for i in issues] == [
        ("warning", "not UTF-8 (first at line 2): read as Windows-1252; "
                    "save as 'CSV UTF-8' to be sure of accented names")]
    table, issues = load_table(tmp_path, "shipments", {"C1"})
    assert table.num_rows == 0 and [i.reason.split(":")[0] for i in issues] == ["cannot open as a spreadsheet"]
    table, issues = load_table(tmp_path, "experiments", {"C1"})
    assert table.num_rows == 0 and issues == []
