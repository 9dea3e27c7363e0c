import csv
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from openpyxl import Workbook

from bigmap_assets.defs.survey import read_forms
from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers import metadata_of, read, survey_form
from bigmap_assets.schemas.survey import PROPERTIES
from bigmap_assets.science.survey import survey_metaview
from bigmap_assets.simulate import survey as survey_sim
from bigmap_assets_tests.survey.spreadsheets import write_ods


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("survey")
    survey_sim.generate(data_dir)
    return data_dir


def _key(row: dict) -> tuple:
    return row["partner"], row["technique"], row["comparison"], row["material"] or "", row["property"]


def test_every_generated_answer_is_recovered_in_both_layouts(generated):
    tables = {p.name: read(p) for p in sorted((generated / "raw" / "survey").iterdir())}
    layouts = {name: {f["sheet"] for f in metadata_of(t)["forms"]} for name, t in tables.items()}
    assert layouts["survey_Lab-01.xlsx"] == {"Survey"}  # two forms one under another
    assert layouts["survey_Lab-07.xlsx"] == {"NMR", "EPR"}  # one form per sheet
    assert layouts["survey_Lab-10.csv"] == {"survey_Lab-10"}
    got = {_key(r): (r["answer"] or "", r["note"] or "") for r in pa.concat_tables(tables.values()).to_pylist()}
    with open(generated / "ground_truth" / "survey" / "answers.csv", newline="") as fh:
        expected = {_key(r): (r["answer"], r["note"]) for r in csv.DictReader(fh)}
    assert len(expected) == 20 * 43 and got == expected


def test_a_malformed_answer_is_an_issue_with_its_cell(generated):
    [expected] = json.loads((generated / "ground_truth" / "survey" / "issues.json").read_text())
    table = read(generated / "raw" / "survey" / expected["file"])
    assert metadata_of(table)["issues"] == [{
        "location": expected["location"], "reason": "answer 'probably' is not yes, no, unsure or n.a. (left unanswered)"}]
    [row] = [r for r in table.to_pylist() if r["raw_text"] == "probably"]
    assert row["answer"] is None and f"{row['sheet']}!{row['cell']}" == expected["location"] == "Survey!C8"


def test_every_property_of_the_schema_has_a_label():
    assert set(survey_form.PROPERTY_LABELS.values()) == {*PROPERTIES, "other"}


def test_spellings_people_type_are_normalised():
    assert [survey_form.normalise_answer(t) for t in ("Yes", "YES", "y", "N/A", "n.a.", "na", "unsure ", "", "No")] \
        == ["yes", "yes", "yes", "n.a.", "n.a.", "n.a.", "unsure", None, "no"]
    with pytest.raises(KeyError):
        survey_form.normalise_answer("maybe")


def test_a_hand_typed_csv_with_typos_and_a_stray_row(tmp_path):
    path = tmp_path / "form.csv"
    path.write_text("\n".join([
        "Survey,,",
        "partner:,Lab-X,",
        "Technique,Raman,",
        "Difference with vs without LiTDI?,Yes,no",
        "Which properties differ pristine vs aged?,LNO,Gr",
        "Morfology,y,",
        "Cristal structure,n.a.,maybe",
        "Coffee break,,",
        "Additional information,see notebook,",
    ]) + "\n")
    table = read(path)
    rows = {(r["comparison"], r["material"], r["property"]): (r["answer"], r["cell"]) for r in table.to_pylist()}
    assert rows[("litdi", "LNO", "difference")] == ("yes", "B4")
    assert rows[("ageing", "LNO", "morphology")] == ("yes", "B6")
    assert rows[("ageing", "Gr", "crystal_structure")] == (None, "C7")
    assert rows[("general", None, "additional_information")] == (None, "B9")
    assert metadata_of(table)["issues"] == [
        {"location": "form!C7", "reason": "answer 'maybe' is not yes, no, unsure or n.a. (left unanswered)"},
        {"location": "form!A8", "reason": "unrecognised row label 'Coffee break' (row ignored)"},
    ]


def test_the_real_spreadsheets_are_refused_with_a_reason(realdata):
    files = sorted((realdata / "survey").glob("*.xlsx"))
    assert len(files) == 4
    for path in files:
        assert not survey_form.sniff(path, path.read_bytes()[:65536])
        with pytest.raises(UnreadableFile, match="not a survey form"):
            survey_form.read(path)
        with pytest.raises(UnreadableFile, match="no reader recognises"):
            read(path)


def test_real_spreadsheets_among_the_forms_become_issues(realdata, tmp_path):
    folder = tmp_path / "raw" / "survey"
    folder.mkdir(parents=True)
    for path in (realdata / "survey").glob("*.xlsx"):
        shutil.copy(path, folder / path.name)
    found = read_forms(tmp_path)
    assert found.files == [] and len(found.issues) == 4
    assert sorted(i.reason for i in found.issues) == [
        f"not a survey form: no block with both a 'Partner' and a 'Technique' label (sheets: {sheets})"
        for sheets in ("Page 1, Page 2, Page 3", "db_table", "pages", "sample_data_neware")]
    assert {row["status"] for row in found.inventory} == {"issue"}


def test_labels_with_embedded_newlines_and_blocks_that_open_with_the_technique(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("\n".join([
        "Technique,SEM,",
        "Partner,Lab-04,",
        '"Is there a difference\nbetween pristine and aged samples?",YES,no',
        ",,",
        "Technique,TEM,",
        "Partner,Lab-05,",
        ",Gr,LNO",
        '"Notable difference in\nmanipulating aged samples?",n/a,Unsure ',
    ]) + "\n")
    table = read(path)
    rows = {(r["technique"], r["comparison"], r["material"]): (r["answer"], r["cell"]) for r in table.to_pylist()}
    assert rows == {
        ("SEM", "ageing", "LNO"): ("yes", "B3"), ("SEM", "ageing", "Gr"): ("no", "C3"),
        ("TEM", "handling", "Gr"): ("n.a.", "B8"), ("TEM", "handling", "LNO"): ("unsure", "C8"),  # records, as a spreadsheet shows them
    }
    assert metadata_of(table)["issues"] == []


def test_a_form_below_the_sniffed_rows_is_still_read_from_the_survey_folder(tmp_path):
    book = Workbook()
    book.active.title = "form"
    book.active.append(["Instructions: answer below"])
    rows = [[]] * 48 + [["Partner", "Lab-06"], ["Technique", "Raman"], ["", "LNO", "Gr"],
                        ["Is there a difference with vs without LiTDI?", "Y", "N/A"]]
    for row in rows:
        book.active.append(row)
    folder = tmp_path / "raw" / "survey"
    folder.mkdir(parents=True)
    book.save(folder / "late_form.xlsx")
    found = read_forms(tmp_path)
    assert found.issues == []
    [form] = found.files
    rows = {(r["material"], r["answer"], r["cell"]) for r in form.table.to_pylist()}
    assert rows == {("LNO", "yes", "B53"), ("Gr", "n.a.", "C53")}


def test_a_windows_csv_form_is_read_with_a_warning(tmp_path):
    folder = tmp_path / "raw" / "survey"
    folder.mkdir(parents=True)
    (folder / "form.csv").write_bytes("Partner,Universität Münster\nTechnique,XPS\n,LNO,Gr\n"
                                      "Is there a difference with vs without LiTDI?,yes,no\n".encode("cp1252"))
    found = read_forms(tmp_path)
    [form] = found.files
    assert {r["partner"] for r in form.table.to_pylist()} == {"Universität Münster"}
    assert [(i.severity, i.reason) for i in found.issues] == [
        ("warning", "not UTF-8 (first at line 1): read as Windows-1252")]


def test_material_headers_in_words_people_use_and_notes_that_name_a_material(tmp_path):
    path = tmp_path / "form.csv"
    path.write_text("Partner,Lab-04\nTechnique,SEM\n,Graphite (anode),LNO cathode\n"
                    "Is there a difference with vs without LiTDI?,no,yes\n"
                    "If yes which properties differ with vs without LiTDI?,LiNiO2 (LNO),Gr / graphite\n"
                    "Other,yes,yes\nOther: please specify,LNO cracking,graphite exfoliation\n")
    table = read(path)
    rows = [(r["material"], r["property"], r["answer"], r["note"], r["cell"]) for r in table.to_pylist()]
    assert rows == [("Gr", "difference", "no", None, "B4"), ("LNO", "difference", "yes", None, "C4"),
                    ("LNO", "other", "yes", "LNO cracking", "B6"), ("Gr", "other", "yes", "graphite exfoliation", "C6")]
    assert metadata_of(table)["issues"] == []


def test_an_ods_form_with_one_technique_per_sheet(tmp_path):
    form = [["", "LNO", "Gr"], ["Is there a difference with vs without LiTDI?", "YES", "na"]]
    path = tmp_path / "forms.ods"
    write_ods(path, {"XPS": [["Partner", "Lab-02"], ["Technique", "XPS"], *form],
                      "HAXPES": [["Technique", "HAXPES"], ["Partner", "Lab-02"], *form]})
    table = read(path)
    rows = [(r["technique"], r["material"], r["answer"], r["sheet"], r["cell"]) for r in table.to_pylist()]
    assert rows == [("XPS", "LNO", "yes", "XPS", "B4"), ("XPS", "Gr", "n.a.", "XPS", "C4"),
                    ("HAXPES", "LNO", "yes", "HAXPES", "B4"), ("HAXPES", "Gr", "n.a.", "HAXPES", "C4")]


def test_a_second_form_for_the_same_technique_is_an_issue(tmp_path):
    folder = tmp_path / "raw" / "survey"
    folder.mkdir(parents=True)
    form = "Partner,Lab-02\nTechnique,XPS\n,LNO,Gr\nIs there a difference with vs without LiTDI?,{},no\n"
    (folder / "xps.csv").write_text(form.format("yes"))
    (folder / "xps_v2.csv").write_text(form.format("no"))
    found = read_forms(tmp_path)
    assert len(found.files) == 2
    assert [(i.path, i.location, i.severity, i.reason) for i in found.issues] == [
        ("raw/survey/xps_v2.csv", "xps_v2!A1", "warning", "second form for XPS (Lab-02), first at raw/survey/xps.csv "
         "xps!A1: the meta-view uses this later one; remove the outdated form")]
    view = {r["point_id"]: r for r in survey_metaview(pa.concat_tables([f.table for f in found.files])).to_pylist()}
    assert (view["litdi/LNO/difference"]["yes_count"], view["litdi/LNO/difference"]["no_count"]) == (0, 1)
