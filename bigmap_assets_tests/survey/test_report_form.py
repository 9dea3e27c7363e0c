"""The result form as annex 5.3 of the D5.3 report prints it, and as people fill it.

Forms are built here cell by cell from the report's layout (column A labels, B material or
property, C and D answers; rows 1-31), independently of the example generator, then retyped the
ways people do: capitalisation, colons, trailing spaces, the value in the label's cell, merged
cells, the "Other (please specify)" text after its label or in column E, blocks pasted one under
another or one per sheet. Every answer must come back exactly, at its cell.
"""

import csv
import random

import pyarrow as pa
import pytest
from openpyxl import Workbook

from bigmap_assets.defs.survey import read_forms
from bigmap_assets.readers import metadata_of, read, survey_form
from bigmap_assets.schemas.survey import POINTS_OF_INTEREST, PROPERTIES
from bigmap_assets.science.survey import survey_metaview
from bigmap_assets_tests.survey.spreadsheets import write_ods

MANIPULATION = "Is there a notable difference in manipulating the aged samples vs the pristine ones:"
OVERVIEW = {"litdi": "with and without LiTDI cells", "ageing": "Pristine and aged electrodes"}
SECTIONS = {"litdi": "If between with and without LiTDI", "ageing": "If between pristine and aged"}
PROPERTY_ROWS = dict(zip((*PROPERTIES, "other"), (
    "Morphology", "Crystal structure", "Li distribution", "Phase transformation", "Reaction dynamic",
    "Homogeneity", "SEI and interfaces", "Electronic structure", "Other (please specify)")))
TYPED = {"yes": ("yes", "Yes", "YES", "y", " yes "), "no": ("no", "No", "N", "NO "),
         "unsure": ("unsure", "Unsure", "unsure "), "n.a.": ("n.a.", "N/A", "na", "n/a"), None: ("",)}
OTHER_ROW = {"litdi": 19, "ageing": 28}  # 1-based rows of "Other (please specify)"
LABEL_CELLS = [(r, 0) for r in (1, 2, 3, 4, 5, 7, 9, 10, 11, 20, 29, 31)] \
    + [(r, 1) for r in (*range(5, 9), *range(11, 31))]  # (1-based row, column) of every label


def _answers(rng: random.Random) -> dict[tuple[str, str, str], str | None]:
    """An answer for every position of the form (blank included)."""
    keys = [(c, m, "difference") for c in OVERVIEW for m in ("LNO", "Gr")]
    keys += [(c, m, p) for c in OVERVIEW for m in ("LNO", "Gr") for p in PROPERTY_ROWS]
    keys += [("handling", m, "manipulation") for m in ("LNO", "Gr")]
    return {key: rng.choice(list(TYPED)) for key in keys}


def printed_form(partner: str, technique: str, answers: dict, rng: random.Random, notes: dict[str, str],
                 additional: str) -> list[list[str]]:
    """Rows 1-31 of the form exactly as the report prints them, answers typed in the spellings people use."""
    def typed(*key):
        return rng.choice(TYPED[answers[key]])

    rows = [["Partner name", partner], ["Experimental technique", technique], ["Experimental outputs:"],
            ["Are there differences between:"]]
    for comparison, label in OVERVIEW.items():
        rows += [[label, "LNO", typed(comparison, "LNO", "difference")],
                 ["", "Gr", typed(comparison, "Gr", "difference")]]
    rows += [["If there are differences, where are they?"], ["Material:", "", "LNO", "Gr"]]
    for comparison, label in SECTIONS.items():
        for i, (prop, text) in enumerate(PROPERTY_ROWS.items()):
            rows.append(["" if i else label, text, typed(comparison, "LNO", prop), typed(comparison, "Gr", prop)])
        if notes.get(comparison):
            rows[-1].append(notes[comparison])  # column E
    rows += [[MANIPULATION, "LNO", typed("handling", "LNO", "manipulation")],
             ["", "Gr", typed("handling", "Gr", "manipulation")]]
    rows.append(["Additional information: (optional)", additional])
    assert len(rows) == 31
    return rows


def expected(partner: str, technique: str, answers: dict, notes: dict[str, str], additional: str) -> dict:
    truth = {(partner, technique, *key): (answer, notes.get(key[0]) or None if key[2] == "other" else None)
             for key, answer in answers.items()}
    truth[partner, technique, "general", None, "additional_information"] = (None, additional)
    return truth


def recovered(table: pa.Table) -> dict:
    return {(r["partner"], r["technique"], r["comparison"], r["material"], r["property"]): (r["answer"], r["note"])
            for r in table.to_pylist()}


def _save(path, sheets: dict[str, list[list[str]]], merges: dict[str, list[str]] | None = None):
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([cell or None for cell in row])
        for cells in (merges or {}).get(name, []):
            sheet.merge_cells(cells)
    book.save(path)
    return path


def _form(seed: int, partner: str = "ILL", technique: str = "neutron diffraction"):
    rng = random.Random(seed)
    answers = _answers(rng)
    notes = {"litdi": "gas evolution", "ageing": ""}
    additional = f"{technique} at {partner}, 25 °C"
    return printed_form(partner, technique, answers, rng, notes, additional), \
        expected(partner, technique, answers, notes, additional)


def test_the_printed_form_is_read_cell_by_cell(tmp_path):
    rows, truth = _form(seed=1)
    table = read(_save(tmp_path / "form.xlsx", {"Form": rows}))
    assert metadata_of(table)["format"] == survey_form.NAME
    assert metadata_of(table)["issues"] == []
    assert recovered(table) == truth
    cells = {(r["comparison"], r["material"], r["property"]): r["cell"] for r in table.to_pylist()}
    assert [cells[c, m, "difference"] for c in OVERVIEW for m in ("LNO", "Gr")] == ["C5", "C6", "C7", "C8"]
    assert (cells["litdi", "LNO", "morphology"], cells["litdi", "Gr", "morphology"]) == ("C11", "D11")
    assert (cells["litdi", "Gr", "other"], cells["ageing", "LNO", "morphology"]) == ("D19", "C20")
    assert (cells["ageing", "Gr", "electronic_structure"], cells["ageing", "Gr", "other"]) == ("D27", "D28")
    assert (cells["handling", "LNO", "manipulation"], cells["handling", "Gr", "manipulation"]) == ("C29", "C30")
    assert cells["general", None, "additional_information"] == "B31"


def _retyped(rows: list[list[str]], retype) -> list[list[str]]:
    rows = [list(row) for row in rows]
    for r, c in LABEL_CELLS:
        rows[r - 1][c] = retype(rows[r - 1][c]) if rows[r - 1][c] else ""
    return rows


def _inline_values(rows: list[list[str]]) -> list[list[str]]:
    rows = [list(row) for row in rows]
    rows[0] = [f"{rows[0][0]}: {rows[0][1]}"]
    rows[1] = [f"{rows[1][0]}:{rows[1][1]}"]
    return rows


def _other_after_label(rows: list[list[str]]) -> list[list[str]]:
    rows = [list(row) for row in rows]
    for r in OTHER_ROW.values():
        if rows[r - 1][4:]:
            rows[r - 1][1] += f": {rows[r - 1].pop(4)}"
    return rows


VARIATIONS = {
    "capitals": lambda rows: _retyped(rows, str.upper),
    "lower case, colons": lambda rows: _retyped(rows, lambda t: t.lower().rstrip(":") + ":"),
    "spaced colons": lambda rows: _retyped(rows, lambda t: t.rstrip(":") + " : "),
    "trailing spaces": lambda rows: _retyped(rows, lambda t: t + "   "),
    "value in the label's cell": _inline_values,
    "Other text after its label": _other_after_label,
    "all at once": lambda rows: _other_after_label(_inline_values(_retyped(rows, lambda t: t.title() + " :  "))),
}


@pytest.mark.parametrize("variation", VARIATIONS)
def test_typed_variations_recover_every_answer(tmp_path, variation):
    rows, truth = _form(seed=len(variation))
    table = read(_save(tmp_path / "form.xlsx", {"Form": VARIATIONS[variation](rows)}))
    assert metadata_of(table)["issues"] == []
    assert recovered(table) == truth


def test_merged_label_and_text_cells(tmp_path):
    rows, truth = _form(seed=7)
    merges = ["B1:D1", "B2:D2", "A3:D3", "A4:D4", "A5:A6", "A7:A8", "A9:D9", "A10:B10", "A11:A19", "A20:A28",
              "A29:A30", "B31:E31"]
    table = read(_save(tmp_path / "merged.xlsx", {"Form": rows}, {"Form": merges}))
    assert metadata_of(table)["issues"] == []
    assert recovered(table) == truth


def test_merged_cells_in_an_ods_form(tmp_path):
    rows, truth = _form(seed=9)
    rows[11][2:4] = ["no", ""]  # C12:D12 merged: crystal structure, both materials
    for material in ("LNO", "Gr"):
        truth["ILL", "neutron diffraction", "litdi", material, "crystal_structure"] = ("no", None)
    merges = [(0, 1, 0, 3), (4, 0, 5, 0), (10, 0, 18, 0), (11, 2, 11, 3), (30, 1, 30, 3)]
    write_ods(tmp_path / "merged.ods", {"Form": rows}, {"Form": merges})
    table = read(tmp_path / "merged.ods")
    assert metadata_of(table)["issues"] == []
    assert recovered(table) == truth


def test_an_answer_merged_over_both_materials_answers_both(tmp_path):
    rows, truth = _form(seed=8)
    rows[11][2:4] = ["no", ""]  # row 12: crystal structure, C12:D12 merged
    table = read(_save(tmp_path / "merged.xlsx", {"Form": rows}, {"Form": ["C12:D12"]}))
    got = recovered(table)
    assert got.pop(("ILL", "neutron diffraction", "litdi", "LNO", "crystal_structure")) == ("no", None)
    assert got.pop(("ILL", "neutron diffraction", "litdi", "Gr", "crystal_structure")) == ("no", None)
    assert got == {k: v for k, v in truth.items() if k[2:] not in {("litdi", "LNO", "crystal_structure"),
                                                                   ("litdi", "Gr", "crystal_structure")}}


def test_blocks_pasted_one_under_another_and_one_per_sheet(tmp_path):
    forms = [_form(seed=10 + i, partner="Lab-01", technique=t) for i, t in enumerate(("XRD", "operando XRD", "SEM"))]
    pasted = [*forms[0][0], [], *_retyped(forms[1][0], str.upper), [], [], [], *_inline_values(forms[2][0])]
    truth = {k: v for _, t in forms for k, v in t.items()}
    stacked = read(_save(tmp_path / "stacked.xlsx", {"Survey": pasted}))
    per_sheet = read(_save(tmp_path / "sheets.xlsx", {t: rows for (rows, _), t in zip(forms, ("XRD", "oXRD", "SEM"))}))
    for table in (stacked, per_sheet):
        assert metadata_of(table)["issues"] == []
        assert recovered(table) == truth
    assert [(f["sheet"], f["cell"], f["technique"]) for f in metadata_of(stacked)["forms"]] == [
        ("Survey", "A1", "XRD"), ("Survey", "A33", "operando XRD"), ("Survey", "A67", "SEM")]
    assert [f["sheet"] for f in metadata_of(per_sheet)["forms"]] == ["XRD", "oXRD", "SEM"]


def test_the_printed_form_as_csv_and_ods(tmp_path):
    rows, truth = _form(seed=20)
    path = tmp_path / "form.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    table = read(path)
    assert metadata_of(table)["issues"] == [] and recovered(table) == truth
    write_ods(tmp_path / "form.ods", {"Form": _retyped(rows, str.lower)})
    table = read(tmp_path / "form.ods")
    assert metadata_of(table)["issues"] == [] and recovered(table) == truth


def test_unreadable_answer_positions_are_issues_with_sheet_and_cell(tmp_path):
    rows, truth = _form(seed=30)
    rows[4][2] = "yes, I think"  # C5: not an answer
    rows[12][3] = "probably"  # D13
    rows[6].append("see SEM images")  # D7: beside the answer, no position there
    rows[15][1] = "Porosity"  # B16: not a property of the form, its answers cannot be placed
    rows[15][2:4] = ["yes", "no"]
    table = read(_save(tmp_path / "form.xlsx", {"ILL": rows}))
    assert metadata_of(table)["issues"] == [
        {"location": "ILL!C5", "reason": "answer 'yes, I think' is not yes, no, unsure or n.a. (left unanswered)"},
        {"location": "ILL!D7", "reason": "'see SEM images' is not where the form has an answer (not read)"},
        {"location": "ILL!D13", "reason": "answer 'probably' is not yes, no, unsure or n.a. (left unanswered)"},
        {"location": "ILL!B16", "reason": "unrecognised row label 'Porosity' (row ignored: C16, D16 not read)"},
        {"location": "ILL!A1", "reason": "the form has no row for 2 of its 42 answers: litdi/LNO/homogeneity, "
                                         "litdi/Gr/homogeneity", "severity": "warning"},
    ]
    got = recovered(table)
    assert got.pop(("ILL", "neutron diffraction", "litdi", "LNO", "difference")) == (None, None)
    assert got.pop(("ILL", "neutron diffraction", "litdi", "Gr", "li_distribution")) == (None, None)
    homogeneity = {k for k in truth if k[2:] in {("litdi", "LNO", "homogeneity"), ("litdi", "Gr", "homogeneity")}}
    assert got == {k: v for k, v in truth.items() if k not in homogeneity and k not in {
        ("ILL", "neutron diffraction", "litdi", "LNO", "difference"),
        ("ILL", "neutron diffraction", "litdi", "Gr", "li_distribution")}}


def test_the_metaview_columns_follow_figure_34(tmp_path):
    """Column n of Figure 34 takes its answer from the cell the report puts it in."""
    rows, _ = _form(seed=40)
    table = read(_save(tmp_path / "form.xlsx", {"Form": rows}))
    cell_of = {(r["comparison"], r["material"], r["property"]): r["cell"] for r in table.to_pylist()}
    view = survey_metaview(table).to_pylist()
    assert [r["point_number"] for r in view] == list(range(1, 39))
    cells = [cell_of[r["comparison"], r["material"], r["property"]] for r in view]
    assert cells == ["C5", "C6", "C7", "C8",
                     *(f"C{r}" for r in range(11, 19)), *(f"C{r}" for r in range(20, 28)),
                     *(f"D{r}" for r in range(11, 19)), *(f"D{r}" for r in range(20, 28)), "C29", "C30"]
    assert view[12]["description"] == "ageing-induced changes in LNO: morphology"
    assert [r["point_id"] for r in view] == ["/".join(p) for p in POINTS_OF_INTEREST]


def test_rows_missing_from_a_printed_form_are_named(tmp_path):
    rows, truth = _form(seed=50)
    del rows[28:30]  # rows 29-30: the manipulation question for LNO and Gr
    del rows[13]  # row 14: phase transformation with and without LiTDI
    table = read(_save(tmp_path / "form.xlsx", {"Form": [["Result form, filled 2023-05-02"], [], *rows]}))
    assert metadata_of(table)["issues"] == [{
        "location": "Form!A3", "severity": "warning",
        "reason": "the form has no row for 4 of its 42 answers: litdi/LNO/phase_transformation, "
                  "litdi/Gr/phase_transformation, handling/LNO/manipulation, handling/Gr/manipulation"}]
    missing = {(c, m, p) for c, p in (("litdi", "phase_transformation"), ("handling", "manipulation"))
               for m in ("LNO", "Gr")}
    assert recovered(table) == {k: v for k, v in truth.items() if k[2:] not in missing}


def test_a_row_typed_twice_in_a_form_is_a_warning(tmp_path):
    rows, truth = _form(seed=60)
    rows.insert(12, ["", "Crystal structure", "yes", "yes"])  # row 13, under row 12's crystal structure
    table = read(_save(tmp_path / "form.xlsx", {"Form": rows}))
    assert metadata_of(table)["issues"] == [
        {"location": f"Form!{c}13", "severity": "warning",
         "reason": f"second answer for litdi/{m}/crystal_structure in this form, first at {c}12: "
                   "the meta-view uses this later one"} for c, m in (("C", "LNO"), ("D", "Gr"))]
    view = {r["point_id"]: r for r in survey_metaview(table).to_pylist()}
    assert view["litdi/Gr/crystal_structure"]["yes_count"] == 1


def test_additional_information_going_on_below_its_label(tmp_path):
    rows, truth = _form(seed=70)
    rows += [["", "second line of the notes"], ["third line, in column A"], [], ["Checked by: A. N. Other"]]
    table = read(_save(tmp_path / "form.xlsx", {"Form": rows}))
    assert metadata_of(table)["issues"] == [  # after a blank row, text is no longer the notes
        {"location": "Form!A35", "reason": "unrecognised row label 'Checked by: A. N. Other' (row ignored)"}]
    key = ("ILL", "neutron diffraction", "general", None, "additional_information")
    assert recovered(table)[key] == (None, f"{truth[key][1]}\nsecond line of the notes\nthird line, in column A")


def test_a_block_pasted_without_its_partner_row_takes_the_partner_above(tmp_path):
    (first, truth), (second, second_truth) = _form(seed=80, technique="XPS"), _form(seed=81, technique="HAXPES")
    table = read(_save(tmp_path / "form.xlsx", {"Survey": [*first, [], *second[1:]]}))
    assert metadata_of(table)["issues"] == [{"location": "Survey!A33", "severity": "warning",
                                             "reason": "no partner name: the partner of the form above "
                                                       "(ILL, Survey!A1) is used"}]
    assert recovered(table) == truth | second_truth


def test_unread_positions_reach_ingest_issues_with_file_sheet_cell_and_severity(tmp_path):
    rows, _ = _form(seed=90)
    rows[20][3] = "probably"  # D21
    del rows[26]  # row 27: electronic structure, pristine vs aged
    folder = tmp_path / "raw" / "survey"
    folder.mkdir(parents=True)
    _save(folder / "ILL.xlsx", {"D2B": rows})
    found = read_forms(tmp_path)
    assert [(i.path, i.location, i.severity, i.reason) for i in found.issues] == [
        ("raw/survey/ILL.xlsx", "D2B!D21", "error", "answer 'probably' is not yes, no, unsure or n.a. (left unanswered)"),
        ("raw/survey/ILL.xlsx", "D2B!A1", "warning", "the form has no row for 2 of its 42 answers: "
                                                     "ageing/LNO/electronic_structure, ageing/Gr/electronic_structure"),
    ]
    assert [r["status"] for r in found.inventory] == ["ok"]
