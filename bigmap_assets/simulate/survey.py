"""Example survey forms: one filled result form per (partner, technique) of the example campaign.

Partners with several techniques paste their forms one under another in one sheet or put
one per sheet (alternately); one partner sends a CSV. Answers are typed the way people do
(Yes, y, N/A, "unsure "), one answer is malformed on purpose. The ground truth (normalised
answers and the expected issue) goes to ``ground_truth/survey/``.
"""

from __future__ import annotations

import csv
import json
import re
import zipfile
from itertools import groupby
from pathlib import Path

import numpy as np
from openpyxl import Workbook

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
SPELLINGS = {
    "yes": ("yes", "Yes", "YES", "y", "yes "),
    "no": ("no", "No", "NO", "n"),
    "unsure": ("unsure", "Unsure", "unsure ", "not sure"),
    "n.a.": ("n.a.", "N/A", "na", "n/a"),
    None: ("",),
}
# Probability of "yes" to the difference question per (comparison, material): ageing changes LNO
# for everyone; the additive's effect on graphite splits the techniques.
P_DIFFERENCE = {("litdi", "LNO"): 0.3, ("litdi", "Gr"): 0.5, ("ageing", "LNO"): 0.95, ("ageing", "Gr"): 0.6}


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
        for technique in techniques:
            answers = _answers(rng, partner, technique)
            truth += [{"partner": partner, "technique": technique, **a} for a in answers]
            forms.append(_form_rows(rng, partner, technique, answers))
        layout = "stacked" if index % 2 == 0 else "per_sheet"
        sheets = {"Survey": [row for rows in forms for row in [*rows, []]]} if layout == "stacked" else {
            technique[:31].replace("(", "").replace(")", ""): rows for technique, rows in zip(techniques, forms)}
        path = raw / f"survey_{partner}.{'csv' if partner == CSV_PARTNER else 'xlsx'}"
        _write(path, sheets)
        issues += _malformed_cells(path, sheets)
    _write_truth(truth_dir, truth, issues)
    return {"forms": len(TECHNIQUES), "answers": len(truth), "issues": len(issues)}


def _answers(rng: np.random.Generator, partner: str, technique: str) -> list[dict]:
    answers = []
    for comparison in COMPARISONS:
        for material in MATERIALS:
            differs = _pick(rng, P_DIFFERENCE[comparison, material])
            answers.append(_row(comparison, material, "difference", differs))
            for prop in (*PROPERTIES, "other"):
                value = _pick(rng, 0.4, p_unsure=0.15) if differs == "yes" else None
                note = "gas evolution" if prop == "other" and value == "yes" else None
                answers.append(_row(comparison, material, prop, value, note))
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


def _row(comparison: str, material: str, prop: str, answer: str | None, note: str | None = None) -> dict:
    return {"comparison": comparison, "material": material, "property": prop, "answer": answer, "note": note,
            "raw_text": None}


def _form_rows(rng: np.random.Generator, partner: str, technique: str, answers: list[dict]) -> list[list[str]]:
    by_key = {(a["comparison"], a["material"], a["property"]): a for a in answers}

    def typed(comparison: str, prop: str) -> list[str]:
        cells = []
        for material in MATERIALS:
            a = by_key[comparison, material, prop]
            spellings = SPELLINGS[a["answer"]]
            cells.append(a["raw_text"] or spellings[int(rng.integers(len(spellings)))])
        return cells

    rows = [["Partner", partner], ["Technique", technique], ["", *MATERIALS]]
    rows += [[QUESTIONS[c], *typed(c, "difference")] for c in COMPARISONS]
    for comparison in COMPARISONS:
        rows.append([SECTIONS[comparison], *MATERIALS])
        rows += [[PROPERTY_TEXT[p], *typed(comparison, p)] for p in PROPERTIES]
        rows.append(["Other", *typed(comparison, "other")])
        rows.append(["Other: please specify", *[by_key[comparison, m, "other"]["note"] or "" for m in MATERIALS]])
    rows.append(["Notable difference in manipulating aged samples?", *typed("handling", "manipulation")])
    rows.append(["Additional information", by_key["general", None, "additional_information"]["note"]])
    return rows


def _write(path: Path, sheets: dict[str, list[list[str]]]) -> None:
    if path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh, lineterminator="\n").writerows(next(iter(sheets.values())))
        return
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append([cell or None for cell in row])
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


def _malformed_cells(path: Path, sheets: dict[str, list[list[str]]]) -> list[dict]:
    sheet_name = path.stem if path.suffix == ".csv" else None
    found = []
    for name, rows in sheets.items():
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
