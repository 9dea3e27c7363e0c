"""Survey result forms (annex 5.3 of BIG-MAP D5.3): .xlsx, .xls, .ods (python-calamine) or .csv.

A form block is a column of labels with answers to their right::

    Partner                                   | Lab-02
    Technique                                 | XPS
                                              | LNO    | Gr
    Difference with vs without LiTDI?         | yes    | no
    Difference pristine vs aged?              | yes    | unsure
    Which properties differ with/without LiTDI? | LNO  | Gr
    Morphology                                | no     | no
    ... (8 properties), Other, Other: please specify
    Which properties differ pristine vs aged? | LNO    | Gr
    ...
    Notable difference in manipulating aged samples? | no | yes
    Additional information                    | free text

Blocks may follow one another in a sheet or sit one per sheet; a new block starts at a
"Partner" or "Technique" label its block already has. Labels are matched loosely (case,
punctuation, small typos); answers accept the spellings people type (Yes, y, N/A, na,
"unsure "; blank = not answered). Anything else is kept as raw text with a null answer
and listed in the metadata's ``issues`` with its sheet and cell, never guessed.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from pathlib import Path

import pyarrow as pa

from ..errors import UnreadableFile, failure_reason, must_propagate
from .limits import check_zip

NAME = "survey_form"
TECHNIQUE = "survey"

SPREADSHEET_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
SUFFIXES = (*SPREADSHEET_SUFFIXES, ".csv")
SNIFF_ROWS = 40

ANSWER_SPELLINGS = {
    "yes": "yes", "y": "yes", "ja": "yes", "oui": "yes",
    "no": "no", "n": "no", "nein": "no", "non": "no",
    "unsure": "unsure", "not sure": "unsure", "uncertain": "unsure", "?": "unsure",
    "na": "n.a.", "n a": "n.a.", "not applicable": "n.a.",
}
PROPERTY_LABELS = {
    "morphology": "morphology",
    "crystal structure": "crystal_structure",
    "li distribution": "li_distribution",
    "lithium distribution": "li_distribution",
    "phase transformation": "phase_transformation",
    "phase transformations": "phase_transformation",
    "reaction dynamic": "reaction_dynamic",
    "reaction dynamics": "reaction_dynamic",
    "homogeneity": "homogeneity",
    "sei and interfaces": "sei_and_interfaces",
    "sei interfaces": "sei_and_interfaces",
    "electronic structure": "electronic_structure",
    "other": "other",
}
MATERIAL_LABELS = {"lno": "LNO", "linio2": "LNO", "gr": "Gr", "graphite": "Gr"}
ELECTRODE_WORDS = {"anode", "cathode", "electrode", "positive", "negative"}


def sniff(path: Path, head: bytes) -> bool:
    """A spreadsheet or CSV with both a "Partner" and a "Technique" label near its top."""
    suffix = path.suffix.lower()
    try:
        if suffix in SPREADSHEET_SUFFIXES:
            sheets = _sheets(path, nrows=SNIFF_ROWS)
        elif suffix == ".csv":
            sheets = {path.stem: list(csv.reader(head.decode("utf-8-sig", "replace").splitlines()[:SNIFF_ROWS]))}
        else:
            return False
    except UnreadableFile:  # a workbook too big to open: say why
        raise
    except Exception:  # a broken workbook is not ours to explain; other readers may still try
        return False
    return any({"partner", "technique"} <= {_label(row)[1] for row in rows} for rows in sheets.values())


def read(path: Path) -> tuple[pa.Table, dict]:
    """One row per answer of every form block in the file; metadata lists the forms and the issues."""
    path = Path(path)
    warnings: list[str] = []
    try:
        sheets = _sheets(path) if path.suffix.lower() in SPREADSHEET_SUFFIXES else _csv_sheet(path, warnings)
    except UnreadableFile:
        raise
    except BaseException as exc:  # noqa: BLE001 - python-calamine is Rust: a damaged workbook may panic
        if must_propagate(exc):
            raise
        raise UnreadableFile(path, f"cannot open as a spreadsheet: {failure_reason(exc)}") from exc
    rows, forms, issues = [], [], []
    for sheet, cells in sheets.items():
        for block in _blocks(cells):
            form_rows, form, form_issues = _read_block(sheet, cells, block)
            rows += form_rows
            issues += form_issues
            if form:
                forms.append(form)
    if not forms:
        raise UnreadableFile(path, "not a survey form: no block with both a 'Partner' and a 'Technique' label "
                                   f"(sheets: {', '.join(sheets) or 'none'})")
    metadata = {"forms": forms, "issues": issues, "warnings": warnings}
    return pa.Table.from_pylist(rows, schema=_SCHEMA), metadata


_SCHEMA = pa.schema([(name, pa.string()) for name in (
    "partner", "technique", "comparison", "material", "property", "answer", "raw_text", "note", "sheet", "cell")])


def normalise_answer(text: str) -> str | None:
    """'yes', 'no', 'unsure', 'n.a.' for an accepted spelling, None for blank; ``KeyError`` otherwise."""
    spaced = " ".join(text.lower().split())
    if not spaced:
        return None
    if spaced in ANSWER_SPELLINGS:
        return ANSWER_SPELLINGS[spaced]
    return ANSWER_SPELLINGS[" ".join(re.sub(r"[./\\]", " ", spaced).split())]  # n.a., n/a, N / A


# --- reading cells -------------------------------------------------------------------------------------------


def _sheets(path: Path, nrows: int | None = None) -> dict[str, list[list]]:
    from python_calamine import CalamineWorkbook

    check_zip(path)  # .xlsx and .ods are zip archives
    book = CalamineWorkbook.from_path(str(path))
    return {name: book.get_sheet_by_name(name).to_python(skip_empty_area=False, nrows=nrows)
            for name in book.sheet_names}


def _csv_sheet(path: Path, warnings: list[str]) -> dict[str, list[list]]:
    """The CSV as one sheet named after the file; not UTF-8 is read as Windows-1252 with a warning."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = raw.decode("cp1252", errors="replace")
        line = raw.count(b"\n", 0, exc.start) + 1
        warnings.append(f"not UTF-8 (first at line {line}): read as Windows-1252")
    return {path.stem: list(csv.reader(io.StringIO(text, newline="")))}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _label(row: list) -> tuple[int, str]:
    """(column, kind) of the row's first non-empty cell: kind is a label keyword or ''."""
    for col, value in enumerate(row):
        text = _text(value)
        if text:
            return col, _kind(_normalise_label(text))
    return -1, ""


def _normalise_label(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9?]+", " ", text.lower())).strip(" ?")


def _comparison_of(label: str) -> str | None:
    if "litdi" in label or "additive" in label:
        return "litdi"
    if any(word in label for word in ("aged", "ageing", "aging", "pristine")):
        return "ageing"
    return None


def _kind(label: str) -> str:
    if label.startswith("partner") or label in ("institution", "site"):
        return "partner"
    if label.startswith("technique"):
        return "technique"
    if "manipulat" in label or "handling" in label:
        return "manipulation"
    if label.startswith(("additional", "comment", "remark")):
        return "additional_information"
    if label.startswith("other") and any(w in label for w in ("specif", "describe", "which", "what")):
        return "other_note"
    comparison = _comparison_of(label)
    if comparison and ("propert" in label or label.startswith("which")):
        return f"section:{comparison}"
    if comparison and "differ" in label:
        return f"difference:{comparison}"
    match = difflib.get_close_matches(label, PROPERTY_LABELS, n=1, cutoff=0.8)
    return f"property:{PROPERTY_LABELS[match[0]]}" if match else ""


def _blocks(cells: list[list]) -> list[tuple[int, int]]:
    """(first row, end row) of each form block: a block restarts at a Partner/Technique label it already has."""
    starts, seen = [], set()
    for r, row in enumerate(cells):
        kind = _label(row)[1]
        if kind in ("partner", "technique"):
            if not starts or kind in seen:
                starts.append(r)
                seen = set()
            seen.add(kind)
    return list(zip(starts, [*starts[1:], len(cells)]))


def _cell_ref(row: int, col: int) -> str:
    letters = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def _read_block(sheet: str, cells: list[list], block: tuple[int, int]) -> tuple[list[dict], dict | None, list[dict]]:
    first, end = block
    header: dict[str, str] = {}
    materials: dict[str, int] | None = None
    section: str | None = None
    answers: list[dict] = []
    issues: list[dict] = []

    def issue(r: int, c: int, reason: str) -> None:
        issues.append({"location": f"{sheet}!{_cell_ref(r, c)}", "reason": reason})

    def answer(r: int, comparison: str, prop: str) -> None:
        for material, c in (materials or {}).items():
            raw = _text(cells[r][c]) if c < len(cells[r]) else ""
            try:
                value = normalise_answer(raw)
            except KeyError:
                value = None
                issue(r, c, f"answer {raw!r} is not yes, no, unsure or n.a. (left unanswered)")
            answers.append({"comparison": comparison, "material": material, "property": prop, "answer": value,
                            "raw_text": raw or None, "sheet": sheet, "cell": _cell_ref(r, c)})

    for r in range(first, end):
        row = cells[r]
        col, kind = _label(row)
        if col < 0:
            continue
        if _material_columns(row, col):
            materials = _material_columns(row, col)
            if not kind.startswith("section:"):
                continue
        rest = [(c, _text(v)) for c, v in enumerate(row) if c > col and _text(v)]
        if materials is None and kind.startswith(("difference", "property", "manipulation")):
            materials = {"LNO": col + 1, "Gr": col + 2}
        if kind in ("partner", "technique"):
            header[kind] = rest[0][1] if rest else ""
            if not rest:
                issue(r, col + 1, f"{kind} is blank")
        elif kind.startswith("section:"):
            section = kind.split(":")[1]
        elif kind.startswith("difference:"):
            answer(r, kind.split(":")[1], "difference")
        elif kind.startswith("property:"):
            if section is None:
                issue(r, col, f"property row {_text(row[col])!r} before any 'which properties differ' heading")
            else:
                answer(r, section, kind.split(":")[1])
        elif kind == "manipulation":
            answer(r, "handling", "manipulation")
        elif kind == "other_note":
            _attach_other_note(answers, section, {m: (_text(row[c]) if c < len(row) else "")
                                                  for m, c in (materials or {}).items()})
        elif kind == "additional_information":
            text = " ".join(t for _, t in rest)
            answers.append({"comparison": "general", "material": None, "property": "additional_information",
                            "answer": None, "raw_text": text or None, "note": text or None, "sheet": sheet,
                            "cell": _cell_ref(r, rest[0][0] if rest else col + 1)})
        else:
            issue(r, col, f"unrecognised row label {_text(row[col])!r} (row ignored)")
    if not header.get("partner") or not header.get("technique"):
        issue(first, 0, "form block without both a partner and a technique name (block ignored)")
        return [], None, issues
    rows = [{"partner": header["partner"], "technique": header["technique"], **a} for a in answers]
    form = {"partner": header["partner"], "technique": header["technique"], "sheet": sheet,
            "cell": _cell_ref(first, 0), "answers": len(rows)}
    return rows, form, issues


def _material_columns(row: list, label_col: int) -> dict[str, int] | None:
    """{material: column} when the row's cells right of the label (or all of them) each name one material
    ("Gr", "Graphite (anode)", "LiNiO2 / LNO"), each material once."""
    cells = [(c, _material_of(_text(v))) for c, v in enumerate(row) if _text(v)]
    for candidate in (cells, [(c, m) for c, m in cells if c > label_col]):
        materials = [m for _, m in candidate]
        if candidate and None not in materials and len(set(materials)) == len(materials):
            return {m: c for c, m in candidate}
    return None


def _material_of(text: str) -> str | None:
    """The material a header cell names ("Gr", "Graphite (anode)", "LiNiO2 / LNO"), else None; a cell with
    other words ("graphite exfoliation") is an answer, not a header."""
    words = _normalise_label(text).split()
    named = {MATERIAL_LABELS[word] for word in words if word in MATERIAL_LABELS}
    if len(named) == 1 and all(word in MATERIAL_LABELS or word in ELECTRODE_WORDS for word in words):
        return named.pop()
    return None


def _attach_other_note(answers: list[dict], section: str | None, notes: dict[str, str]) -> None:
    """The 'please specify' text goes into the note of the latest 'other' answer of the section, per material."""
    for row in answers:
        if row["comparison"] == section and row["property"] == "other" and notes.get(row["material"]):
            row["note"] = notes[row["material"]]
