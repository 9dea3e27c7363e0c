"""Example survey forms: one filled result form per (partner, technique) of the example campaign.

The forms are laid out as annex 5.3 of the report prints them (labels in column A, material or
property in B, answers in C and D), with the variations people produce: labels typed in other
case with colons and spaces, the partner and technique in the label's cell after a colon, merged
label cells, the "Other (please specify)" text after its label or in column E; one partner still
uses our earlier layout. Partners with several techniques paste their forms one under another in
one sheet or put one per sheet (alternately); one partner sends a CSV. Answers are typed the way
people do (Yes, y, N/A, "unsure "), one answer is malformed on purpose. The ground truth
(normalised answers and the expected issue) goes to ``ground_truth/survey/``.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from collections.abc import Callable
from itertools import count, groupby
from pathlib import Path

import numpy as np
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from ..schemas.survey import COMPARISONS, MATERIALS, PROPERTIES

# (technique, partner, site type): the example campaign, ~20 techniques across 17 sites.
TECHNIQUES = (
    ("XRD", "Lab-01", "lab"),
    ("operando XRD", "Lab-01", "lab"),
    ("neutron diffraction (D2B)", "ILL", "large-scale facility"),
    ("XAS (ROCK)", "SOLEIL", "large-scale facility"),
    ("synchrotron XRD", "ESRF", "large-scale facility"),
    ("XPS", "Lab-02", "lab"),
    ("HAXPES", "Lab-03", "lab"),
    ("SEM", "Lab-04", "lab"),
    ("TEM", "Lab-05", "lab"),
    ("Raman", "Lab-06", "lab"),
    ("NMR", "Lab-07", "lab"),
    ("EPR", "Lab-07", "lab"),
    ("ToF-SIMS", "Lab-08", "lab"),
    ("GD-OES", "Lab-09", "lab"),
    ("TGA-MS", "Lab-09", "lab"),
    ("EIS", "Lab-10", "lab"),
    ("dilatometry", "Lab-11", "lab"),
    ("DEMS", "Lab-12", "lab"),
    ("muon spectroscopy", "PSI", "large-scale facility"),
    ("SANS", "ISIS", "large-scale facility"),
)
CSV_PARTNER = "Lab-10"
MALFORMED = ("Lab-02", "XPS", "ageing", "Gr", "difference", "probably")
# How each partner filled the form: "printed" is the report's layout as is; "typed" retypes every label
# (case, colons, spaces); "inline" writes partner and technique after their label's colon; "merged" merges
# the label cells over their rows (and the free text over B:D); "earlier" is our own earlier layout.
STYLES = {"ILL": "merged", "ESRF": "typed", "Lab-03": "inline", "Lab-05": "merged", "Lab-07": "typed",
          "Lab-09": "inline", "Lab-11": "merged", "Lab-12": "earlier", "ISIS": "typed"}

REPORT_LABELS = {
    "partner": "Partner name", "technique": "Experimental technique", "outputs": "Experimental outputs:",
    "overview": "Are there differences between:", "litdi": "with and without LiTDI cells",
    "ageing": "Pristine and aged electrodes", "where": "If there are differences, where are they?",
    "materials": "Material:", "section:litdi": "If between with and without LiTDI",
    "section:ageing": "If between pristine and aged", "other": "Other (please specify)",
    "manipulation": "Is there a notable difference in manipulating the aged samples vs the pristine ones:",
    "additional": "Additional information: (optional)",
}
# Our earlier layout's labels.
QUESTIONS = {
    "litdi": "Is there a difference with vs without LiTDI?",
    "ageing": "Is there a difference between pristine and aged samples?",
}
SECTIONS = {
    "litdi": "If yes, which properties differ with vs without LiTDI?",
    "ageing": "If yes, which properties differ pristine vs aged?",
}
PROPERTY_TEXT = {
    "morphology": "Morphology", "crystal_structure": "Crystal structure", "li_distribution": "Li distribution",
    "phase_transformation": "Phase transformation", "reaction_dynamic": "Reaction dynamic",
    "homogeneity": "Homogeneity", "sei_and_interfaces": "SEI and interfaces",
    "electronic_structure": "Electronic structure",
}
RETYPED = (  # how people retype a label: case, a colon with spaces, trailing spaces
    str.upper, lambda t: t.lower().rstrip(":") + " : ", lambda t: t + "   ", lambda t: t.rstrip(":") + ":",
)
SPELLINGS = {
    "yes": ("yes", "Yes", "YES", "y", "yes "),
    "no": ("no", "No", "NO", "n"),
    "unsure": ("unsure", "Unsure", "unsure ", "not sure"),
    "n.a.": ("n.a.", "N/A", "na", "n/a"),
    None: ("",),
}
OTHER_NOTE = "gas evolution"
# Probability of "yes" to the difference question per (comparison, material): ageing changes LNO
# for everyone; the additive's effect on graphite splits the techniques.
P_DIFFERENCE = {("litdi", "LNO"): 0.3, ("litdi", "Gr"): 0.5, ("ageing", "LNO"): 0.95, ("ageing", "Gr"): 0.6}

Merge = tuple[int, int, int, int]  # first row, first column, last row, last column (0-based)


def generate(data_dir: Path, *, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    raw = Path(data_dir) / "raw" / "survey"
    truth_dir = Path(data_dir) / "ground_truth" / "survey"
    raw.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth, issues = [], []
    for index, (partner, entries) in enumerate(groupby(TECHNIQUES, key=lambda t: t[1])):
        techniques = [t for t, _, _ in entries]
        forms = []
        for number, technique in enumerate(techniques):
            answers = _answers(rng, partner, technique)
            truth += [{"partner": partner, "technique": technique, **a} for a in answers]
            style = STYLES.get(partner, "printed")
            forms.append(_earlier_rows(rng, partner, technique, answers) if style == "earlier" else
                         _report_rows(rng, partner, technique, answers, style, other_in_e=(index + number) % 2 == 0))
        sheets = _sheets(techniques, forms, stacked=index % 2 == 0)
        path = raw / f"survey_{partner}.{'csv' if partner == CSV_PARTNER else 'xlsx'}"
        _write(path, sheets)
        issues += _malformed_cells(path, sheets)
    _write_truth(truth_dir, truth, issues)
    return {"forms": len(TECHNIQUES), "answers": len(truth), "issues": len(issues)}


def _sheets(techniques: list[str], forms: list[tuple[list[list[str]], list[Merge]]], *, stacked: bool
            ) -> dict[str, tuple[list[list[str]], list[Merge]]]:
    """One sheet "Survey" with the forms one under another (a blank row between), or a sheet per technique."""
    if not stacked:
        return {technique[:31].replace("(", "").replace(")", ""): form for technique, form in zip(techniques, forms)}
    rows, merges = [], []
    for form_rows, form_merges in forms:
        merges += [(r0 + len(rows), c0, r1 + len(rows), c1) for r0, c0, r1, c1 in form_merges]
        rows += [*form_rows, []]
    return {"Survey": (rows, merges)}


def _answers(rng: np.random.Generator, partner: str, technique: str) -> list[dict]:
    answers = []
    for comparison in COMPARISONS:
        for material in MATERIALS:
            differs = _pick(rng, P_DIFFERENCE[comparison, material])
            answers.append(_row(comparison, material, "difference", differs))
            for prop in (*PROPERTIES, "other"):
                value = _pick(rng, 0.4, p_unsure=0.15) if differs == "yes" else None
                answers.append(_row(comparison, material, prop, value))
        others = [a for a in answers if (a["comparison"], a["property"]) == (comparison, "other")]
        if any(a["answer"] == "yes" for a in others):
            for a in others:  # the form has one "please specify" text for both materials
                a["note"] = OTHER_NOTE
    for material in MATERIALS:
        answers.append(_row("handling", material, "manipulation", _pick(rng, 0.15, p_unsure=0.2)))
    if (partner, technique) == MALFORMED[:2]:
        for a in answers:
            if (a["comparison"], a["material"], a["property"]) == MALFORMED[2:5]:
                a["answer"], a["raw_text"] = None, MALFORMED[5]
    text = f"{technique} at {partner}: measured on electrodes harvested from the example cells."
    answers.append({"comparison": "general", "material": None, "property": "additional_information",
                    "answer": None, "note": text, "raw_text": text})
    return answers


def _pick(rng: np.random.Generator, p_yes: float, p_unsure: float = 0.05) -> str:
    draw = rng.random()
    if draw < 0.03:
        return "n.a."
    return "yes" if draw < p_yes else "unsure" if draw < p_yes + p_unsure else "no"


def _row(comparison: str, material: str, prop: str, answer: str | None) -> dict:
    return {"comparison": comparison, "material": material, "property": prop, "answer": answer, "note": None,
            "raw_text": None}


def _typist(rng: np.random.Generator, answers: list[dict]
            ) -> tuple[dict[tuple, dict], Callable[[str, str], list[str]]]:
    """(answers by key, typed): typed(comparison, property) gives the LNO and Gr cells as someone typed them."""
    by_key = {(a["comparison"], a["material"], a["property"]): a for a in answers}

    def typed(comparison: str, prop: str) -> list[str]:
        cells = []
        for material in MATERIALS:
            a = by_key[comparison, material, prop]
            spellings = SPELLINGS[a["answer"]]
            cells.append(a["raw_text"] or spellings[int(rng.integers(len(spellings)))])
        return cells

    return by_key, typed


def _report_rows(rng: np.random.Generator, partner: str, technique: str, answers: list[dict], style: str, *,
                 other_in_e: bool) -> tuple[list[list[str]], list[Merge]]:
    """The form as annex 5.3 prints it (rows, merged ranges), in one of the ``STYLES``."""
    by_key, typed = _typist(rng, answers)
    retyped = count()

    def label(text: str) -> str:
        return RETYPED[next(retyped) % len(RETYPED)](text) if style == "typed" else text

    def valued(key: str, value: str) -> list[str]:
        return [f"{label(REPORT_LABELS[key])}: {value}"] if style == "inline" else [label(REPORT_LABELS[key]), value]

    rows = [valued("partner", partner), valued("technique", technique),
            [label(REPORT_LABELS["outputs"])], [label(REPORT_LABELS["overview"])]]
    merges = [(0, 1, 0, 3), (1, 1, 1, 3)] if style == "merged" else []
    for comparison in COMPARISONS:
        cells = typed(comparison, "difference")
        rows += [[label(REPORT_LABELS[comparison]), label("LNO"), cells[0]], ["", label("Gr"), cells[1]]]
        merges.append((len(rows) - 2, 0, len(rows) - 1, 0))
    rows += [[label(REPORT_LABELS["where"])], [label(REPORT_LABELS["materials"]), "", *MATERIALS]]
    for comparison in COMPARISONS:
        first = len(rows)
        rows += [["", label(PROPERTY_TEXT[p]), *typed(comparison, p)] for p in PROPERTIES]
        note = by_key[comparison, MATERIALS[0], "other"]["note"] or ""
        other = label(REPORT_LABELS["other"])
        rows.append(["", other, *typed(comparison, "other"), note] if other_in_e or not note else
                    ["", f"{other}: {note}", *typed(comparison, "other")])
        rows[first][0] = label(REPORT_LABELS[f"section:{comparison}"])
        merges.append((first, 0, len(rows) - 1, 0))
    cells = typed("handling", "manipulation")
    rows += [[label(REPORT_LABELS["manipulation"]), label("LNO"), cells[0]], ["", label("Gr"), cells[1]]]
    rows.append([label(REPORT_LABELS["additional"]), by_key["general", None, "additional_information"]["note"]])
    merges += [(len(rows) - 3, 0, len(rows) - 2, 0), (len(rows) - 1, 1, len(rows) - 1, 3)]
    return rows, merges if style == "merged" else []


def _earlier_rows(rng: np.random.Generator, partner: str, technique: str, answers: list[dict]
                  ) -> tuple[list[list[str]], list[Merge]]:
    """The form in our earlier layout: questions with both answers to the right, a row of "Other" notes."""
    by_key, typed = _typist(rng, answers)
    rows = [["Partner", partner], ["Technique", technique], ["", *MATERIALS]]
    rows += [[QUESTIONS[c], *typed(c, "difference")] for c in COMPARISONS]
    for comparison in COMPARISONS:
        rows.append([SECTIONS[comparison], *MATERIALS])
        rows += [[PROPERTY_TEXT[p], *typed(comparison, p)] for p in PROPERTIES]
        rows.append(["Other", *typed(comparison, "other")])
        rows.append(["Other: please specify", *[by_key[comparison, m, "other"]["note"] or "" for m in MATERIALS]])
    rows.append(["Notable difference in manipulating aged samples?", *typed("handling", "manipulation")])
    rows.append(["Additional information", by_key["general", None, "additional_information"]["note"]])
    return rows, []


def _write(path: Path, sheets: dict[str, tuple[list[list[str]], list[Merge]]]) -> None:
    if path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(next(iter(sheets.values()))[0])
        return
    book = Workbook()
    book.remove(book.active)
    for name, (rows, merges) in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([cell or None for cell in row])
        for r0, c0, r1, c1 in merges:
            sheet.merge_cells(f"{get_column_letter(c0 + 1)}{r0 + 1}:{get_column_letter(c1 + 1)}{r1 + 1}")
    book.save(path)
    _freeze_timestamps(path)


FIXED_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def _freeze_timestamps(path: Path) -> None:
    """Rewrite the .xlsx with fixed zip-entry times and document dates, so the same forms give the same bytes."""
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as target:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>2024-01-01T00:00:00Z", data)
            target.writestr(zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    tmp.replace(path)


def _malformed_cells(path: Path, sheets: dict[str, tuple[list[list[str]], list[Merge]]]) -> list[dict]:
    sheet_name = path.stem if path.suffix == ".csv" else None
    found = []
    for name, (rows, _) in sheets.items():
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                if cell == MALFORMED[5]:
                    found.append({"file": path.name, "location": f"{sheet_name or name}!{chr(65 + c)}{r + 1}",
                                  "raw_text": cell})
    return found


def _write_truth(folder: Path, truth: list[dict], issues: list[dict]) -> None:
    fields = ("partner", "technique", "comparison", "material", "property", "answer", "note")
    with open(folder / "answers.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(truth)
    (folder / "issues.json").write_text(json.dumps(issues, indent=2))
