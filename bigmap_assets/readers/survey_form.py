"""Survey result forms (annex 5.3 of BIG-MAP D5.3): .xlsx, .xls, .ods (python-calamine) or .csv.

The report prints one block per technique: labels in column A, the material or property in B,
answers in C and D::

    Partner name                       | ILL
    Experimental technique             | neutron diffraction
    Experimental outputs:
    Are there differences between:
    with and without LiTDI cells       | LNO         | yes
                                       | Gr          | no
    Pristine and aged electrodes       | LNO         | yes
                                       | Gr          | unsure
    If there are differences, where are they?
    Material:                          |             | LNO | Gr
    If between with and without LiTDI  | Morphology  | no  | no
                                       | ... 7 more properties, then
                                       | Other (please specify) | yes | no | what it is
    If between pristine and aged       | Morphology  | ... the same 9 rows
    Is there a notable difference in manipulating the aged samples vs the pristine ones: | LNO | no
                                       | Gr          | yes
    Additional information: (optional) | free text

Our earlier layout is read as well: each question with its LNO and Gr answers to its right,
property names in the label column under a "which properties differ" heading with the materials,
and an "Other: please specify" row of notes.

Labels are matched loosely (case, punctuation, trailing colons and spaces, small typos); a value sits
right of its label or in the same cell after a colon (``Partner name: ILL``). A blank label cell
(one left empty or covered by a merged cell) continues the question above it; an answer cell merged
over several answer positions answers each of them. The "Other (please specify)" text may follow
the label in its cell or sit right of the answers; the additional information may go on in the rows
right below its label. Blocks follow one another in a sheet (a new block starts at a "Partner" or
"Technique" label its block already has) or sit one per sheet. Answers accept the spellings people
type (Yes, y, N/A, na, "unsure "; blank = not answered). Anything else, and every non-empty cell of
a block that is not read, is listed in the metadata's ``issues`` with its sheet and cell, never
guessed. Warnings (``severity``) go to a block in the report's layout that lacks rows of the form
(naming the answers it has no row for), to an answer typed twice in a block (naming both cells) and
to a block pasted without its "Partner name" row, which takes the partner of the form above it.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ..ingest.errors import UnreadableFile, failure_reason, must_propagate
from .limits import check_zip
from .ods_merges import merged_ranges

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
FORM_MATERIALS = ("LNO", "Gr")  # the order of the answer columns when no row names them
ELECTRODE_WORDS = {"anode", "cathode", "electrode", "positive", "negative"}
HEADINGS = {  # label rows that only open a part of the form
    "experimental outputs": "outputs",
    "are there differences between": "overview",
    "if there are differences where are they": "where",
}
FORM_PROPERTIES = tuple(dict.fromkeys(PROPERTY_LABELS.values()))  # morphology ... electronic_structure, other
FORM_POSITIONS = (  # (comparison, material, property) of the 42 answers of the report's form, in its order
    *((c, m, "difference") for c in ("litdi", "ageing") for m in FORM_MATERIALS),
    *((c, m, p) for c in ("litdi", "ageing") for p in FORM_PROPERTIES for m in FORM_MATERIALS),
    *(("handling", m, "manipulation") for m in FORM_MATERIALS),
)
INLINE_KINDS = ("partner", "technique", "additional_information")  # labels whose value may follow a colon
FILLER = re.compile(r"^[\s:;\-–]*(?:\(?\s*(?:please\s+specify|optional)\s*\)?)?[\s:;\-–]*", re.IGNORECASE)


def sniff(path: Path, head: bytes) -> bool:
    """A spreadsheet or CSV with both a "Partner" and a "Technique" label near its top."""
    suffix = path.suffix.lower()
    try:
        if suffix in SPREADSHEET_SUFFIXES:
            grids = _sheets(path, nrows=SNIFF_ROWS)
        elif suffix == ".csv":
            grids = {path.stem: _Grid(list(csv.reader(head.decode("utf-8-sig", "replace").splitlines()[:SNIFF_ROWS])))}
        else:
            return False
    except UnreadableFile:  # a workbook too big to open: say why
        raise
    except Exception:  # a broken workbook is not ours to explain; other readers may still try
        return False
    return any({"partner", "technique"} <= {_label(row)[1] for row in grid.cells} for grid in grids.values())


def read(path: Path) -> tuple[pa.Table, dict]:
    """One row per answer of every form block in the file; metadata lists the forms and the issues."""
    path = Path(path)
    warnings: list[str] = []
    try:
        grids = _sheets(path) if path.suffix.lower() in SPREADSHEET_SUFFIXES else _csv_sheet(path, warnings)
    except UnreadableFile:
        raise
    except BaseException as exc:  # noqa: BLE001 - python-calamine is Rust: a damaged workbook may panic
        if must_propagate(exc):
            raise
        raise UnreadableFile(path, f"cannot open as a spreadsheet: {failure_reason(exc)}") from exc
    rows, forms, issues = [], [], []
    for sheet, grid in grids.items():
        for first, end in _blocks(grid.cells):
            block = _Block(sheet, grid)
            form_rows, form = block.read(first, end, forms[-1] if forms else None)
            rows += form_rows
            issues += block.issues
            if form:
                forms.append(form)
    if not forms:
        raise UnreadableFile(path, "not a survey form: no block with both a 'Partner' and a 'Technique' label "
                                   f"(sheets: {', '.join(grids) or 'none'})")
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


@dataclass
class _Grid:
    """A sheet's cell values (row-major, from A1) and, for each cell a merged range covers, its top-left cell."""

    cells: list[list]
    merged: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)

    def text(self, row: int, col: int) -> str:
        return _text(self.cells[row][col]) if row < len(self.cells) and col < len(self.cells[row]) else ""


def _sheets(path: Path, nrows: int | None = None) -> dict[str, _Grid]:
    """Every sheet's cells; with ``nrows`` (sniffing) only its first rows and no merged ranges."""
    from python_calamine import CalamineWorkbook

    check_zip(path)  # .xlsx and .ods are zip archives
    book = CalamineWorkbook.from_path(str(path))
    ods = path.suffix.lower() == ".ods"
    ods_ranges = merged_ranges(path) if ods and nrows is None else {}
    grids = {}
    for name in book.sheet_names:
        sheet = book.get_sheet_by_name(name)
        ranges = [] if nrows is not None else ods_ranges.get(name, []) if ods else sheet.merged_cell_ranges or []
        grids[name] = _Grid(sheet.to_python(skip_empty_area=False, nrows=nrows), _covered_cells(ranges))
    return grids


def _covered_cells(ranges: list[tuple[tuple[int, int], tuple[int, int]]]) -> dict[tuple[int, int], tuple[int, int]]:
    """{covered cell: top-left cell} of merged ranges ((top, left), (bottom, right))."""
    covered = {}
    for (top, left), (bottom, right) in ranges:
        for r in range(top, bottom + 1):
            for c in range(left, right + 1):
                if (r, c) != (top, left):
                    covered[r, c] = (top, left)
    return covered


def _csv_sheet(path: Path, warnings: list[str]) -> dict[str, _Grid]:
    """The CSV as one sheet named after the file; not UTF-8 is read as Windows-1252 with a warning."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = raw.decode("cp1252", errors="replace")
        line = raw.count(b"\n", 0, exc.start) + 1
        warnings.append(f"not UTF-8 (first at line {line}): read as Windows-1252")
    return {path.stem: _Grid(list(csv.reader(io.StringIO(text, newline=""))))}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _cells(row: list) -> list[tuple[int, str]]:
    """(column, text) of the row's non-empty cells."""
    return [(c, text) for c, value in enumerate(row) if (text := _text(value))]


def _label(row: list) -> tuple[int, str]:
    """(column, kind) of the row's first non-empty cell: kind is a label keyword or ''."""
    cells = _cells(row)
    if not cells:
        return -1, ""
    col, text = cells[0]
    return col, _kind(_normalise_label(_split_label(text)[0]))


def _normalise_label(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9?]+", " ", text.lower())).strip(" ?")


def _split_label(text: str) -> tuple[str, str]:
    """(label, value) of a cell holding a value after its label and a colon ("Partner name: ILL"), else (text, '')."""
    label, colon, value = text.partition(":")
    value = FILLER.sub("", value, count=1).strip()
    if colon and value and _kind(_normalise_label(label)) in INLINE_KINDS:
        return label, value
    return text, ""


def _other_note(text: str) -> str:
    """The free text after an "Other (please specify)" label in the same cell, '' when there is none."""
    match = re.match(r"\s*others?\b(.*)$", text, re.IGNORECASE | re.DOTALL)
    return FILLER.sub("", match.group(1), count=1).strip() if match else ""


def _comparison_of(label: str) -> str | None:
    if "litdi" in label or "additive" in label:
        return "litdi"
    if any(word in label for word in ("aged", "ageing", "aging", "pristine")):
        return "ageing"
    return None


def _kind(label: str, part: str = "") -> str:
    """What a normalised label opens: partner, technique, heading:<part>, materials (the answer columns' header),
    difference:<comparison>, section:<comparison>, manipulation, additional_information, material:<name>,
    property:<name> or ''.
    ``part`` is the form part the block is in ('overview' or 'where' after their headings)."""
    if re.match(r"(?:\w+ ){0,2}partners?\b", label) or label in ("institution", "site"):
        return "partner"  # Partner, Partner name, Name of partner, Project partner
    if re.match(r"(?:\w+ ){0,2}techniques?\b", label):
        return "technique"  # Technique, Experimental technique, Exp. technique
    if label in HEADINGS:
        return f"heading:{HEADINGS[label]}"
    if label in ("material", "materials"):
        return "materials"
    if "manipulat" in label or "handling" in label:
        return "manipulation"
    if label.startswith(("additional", "comment", "remark")):
        return "additional_information"
    if re.match(r"others?\b", label):
        return "property:other"
    comparison = _comparison_of(label)
    if comparison:
        if "propert" in label or label.startswith(("which", "if between", "if yes")):
            return f"section:{comparison}"
        if "differ" not in label and part == "where":
            return f"section:{comparison}"
        return f"difference:{comparison}"
    material = _material_of(label)
    if material:
        return f"material:{material}"
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


class _Block:
    """Reads one form block row by row; a row's first non-empty cell says what the row holds."""

    def __init__(self, sheet: str, grid: _Grid):
        self.sheet, self.grid = sheet, grid
        self.header: dict[str, str] = {}
        self.part = ""  # the heading the block is under: outputs, overview, where
        self.question: tuple[str, str] | None = None  # (comparison, property) rows below may continue
        self.section: str | None = None  # comparison whose property rows follow
        self.materials: dict[str, int] | None = None  # answer column of each material
        self.other_answered: set[str] = set()  # sections whose "Other" answers were read
        self.printed = False  # the block follows the report's layout (its headings, a material beside a question)
        self.additional: dict | None = None  # the additional-information answer, once read
        self.additional_until = -1  # last row of its text (it goes on in the rows right below)
        self.answers: list[dict] = []
        self.issues: list[dict] = []

    def read(self, first: int, end: int, above: dict | None) -> tuple[list[dict], dict | None]:
        """(answer rows, form summary) of rows first..end-1; the summary is None without partner and technique.
        A block without a partner label (pasted without its first row) takes the partner of the form ``above``
        in the file, with a warning."""
        for r in range(first, end):
            cells = _cells(self.grid.cells[r])
            if cells:
                used = self._row(r, cells)
                for c, text in cells:
                    if c not in used:
                        self._issue(r, c, f"{text!r} is not where the form has an answer (not read)")
        if "partner" not in self.header and self.header.get("technique") and above:
            self.header["partner"] = above["partner"]
            self._issue(first, _label(self.grid.cells[first])[0], f"no partner name: the partner of the form "
                        f"above ({above['partner']}, {above['sheet']}!{above['cell']}) is used", severity="warning")
        if not self.header.get("partner") or not self.header.get("technique"):
            self._issue(first, 0, "form block without both a partner and a technique name (block ignored)")
            return [], None
        if self.printed:
            self._missing_positions(first)
        partner, technique = self.header["partner"], self.header["technique"]
        rows = [{"partner": partner, "technique": technique, **a} for a in self.answers]
        form = {"partner": partner, "technique": technique, "sheet": self.sheet, "cell": _cell_ref(first, 0),
                "answers": len(rows)}
        return rows, form

    def _issue(self, r: int, c: int, reason: str, **extra) -> None:
        self.issues.append({"location": f"{self.sheet}!{_cell_ref(r, c)}", "reason": reason, **extra})

    def _missing_positions(self, first: int) -> None:
        """A warning naming the answer positions of the report's form that the block has no row for."""
        read = {(a["comparison"], a["material"], a["property"]) for a in self.answers}
        missing = ["/".join(key) for key in FORM_POSITIONS if key not in read]
        if missing:
            self._issue(first, _label(self.grid.cells[first])[0],
                        f"the form has no row for {len(missing)} of its {len(FORM_POSITIONS)} answers: "
                        f"{', '.join(missing)}", severity="warning")

    def _row(self, r: int, cells: list[tuple[int, str]]) -> set[int]:
        """Read one row; returns the columns it used."""
        col, text = cells[0]
        label, value = _split_label(text)
        kind, _, name = _kind(_normalise_label(label), self.part).partition(":")
        right = [(c, t) for c, t in cells if c > col]
        if kind == "material" and self.question and not _material_columns(cells)[1:]:
            return self._single_answer(r, col, name)  # a blank label cell continues the question above
        self.question = None
        if kind in ("partner", "technique"):
            return self._header(r, col, kind, value, right)
        if kind == "heading":
            self.part, self.printed = name, True
            return {col}
        if kind == "materials":
            return {col} | self._material_header(right)
        if kind in ("difference", "manipulation"):
            self.question = (name, "difference") if kind == "difference" else ("handling", "manipulation")
            return {col} | self._question(r, col, right)
        if kind == "section":
            self.section = name
            if right and _kind(_normalise_label(right[0][1]), self.part).startswith("property:"):
                return {col} | self._property(r, cells[cells.index(right[0]):])
            return {col} | self._material_header(right)
        if kind == "property":
            return self._property(r, cells)
        if kind == "material" and len(_material_columns(cells)) > 1:
            return self._material_header(cells)
        if kind == "additional_information":
            return self._additional(r, col, value, right)
        if not kind and self.additional is not None and r == self.additional_until + 1:
            self.additional["note"] = self.additional["raw_text"] = "\n".join(
                filter(None, [self.additional["note"], *(t for _, t in cells)]))
            self.additional_until = r
            return {c for c, _ in cells}
        return self._ignore_row(r, cells, f"unrecognised row label {text!r}")

    def _ignore_row(self, r: int, cells: list[tuple[int, str]], reason: str) -> set[int]:
        """One issue at the row's first cell naming the other cells it leaves unread."""
        unread = ", ".join(_cell_ref(r, c) for c, _ in cells[1:])
        self._issue(r, cells[0][0], f"{reason} (row ignored{f': {unread} not read' if unread else ''})")
        return {c for c, _ in cells}

    def _header(self, r: int, col: int, kind: str, value: str, right: list[tuple[int, str]]) -> set[int]:
        used = {col}
        if not value and right:
            c, value = right[0]
            used.add(c)
        if not value:
            self._issue(r, col + 1, f"{kind} is blank")
        self.header[kind] = value
        return used

    def _material_header(self, cells: list[tuple[int, str]]) -> set[int]:
        """Cells that each name one material set the answer columns; others are left for the caller to report."""
        columns = _material_columns(cells)
        if columns:
            self.materials = dict(columns)
        return {c for _, c in columns}

    def _question(self, r: int, col: int, right: list[tuple[int, str]]) -> set[int]:
        """A yes/no question: one material named right of it with its answer next (the report), or an answer
        per material column (our earlier layout)."""
        if right and _material_of(right[0][1]):
            return self._single_answer(r, right[0][0], _material_of(right[0][1]))
        comparison, prop = self.question
        return self._answers(r, col, comparison, prop)

    def _single_answer(self, r: int, material_col: int, material: str) -> set[int]:
        self.printed = True
        comparison, prop = self.question
        self._answer(r, material_col + 1, comparison, material, prop)
        return {material_col, material_col + 1}

    def _property(self, r: int, cells: list[tuple[int, str]]) -> set[int]:
        """A property row (label first in ``cells``) of the current section; "Other" carries its free text."""
        col, text = cells[0]
        prop = _kind(_normalise_label(text), self.part).partition(":")[2]
        if self.section is None:
            return self._ignore_row(r, cells, f"property row {text!r} before any 'If between ...' or 'which "
                                              "properties differ' heading")
        if prop == "other" and self.section in self.other_answered:  # our earlier layout: a row of notes
            columns = self._answer_columns(col)
            for material, c in columns.items():
                self._note(material, self.grid.text(r, c))
            return {col, *columns.values()}
        used = {col} | self._answers(r, col, self.section, prop)
        if prop == "other":
            self.other_answered.add(self.section)
            beside = [(c, t) for c, t in cells if c not in used]
            note = " ".join(filter(None, [_other_note(text), *(t for _, t in beside)]))
            for material in FORM_MATERIALS:
                self._note(material, note)
            used |= {c for c, _ in beside}
        return used

    def _additional(self, r: int, col: int, value: str, right: list[tuple[int, str]]) -> set[int]:
        text = " ".join(filter(None, [value, *(t for _, t in right)]))
        cell = col if value else right[0][0] if right else col + 1
        self.additional = {"comparison": "general", "material": None, "property": "additional_information",
                           "answer": None, "raw_text": text or None, "note": text or None, "sheet": self.sheet,
                           "cell": _cell_ref(r, cell)}
        self.answers.append(self.additional)
        self.additional_until = r
        return {col} | {c for c, _ in right}

    def _answer_columns(self, label_col: int) -> dict[str, int]:
        """The material columns when they lie right of the label, else the two cells after it."""
        if self.materials and min(self.materials.values()) > label_col:
            return self.materials
        return {material: label_col + 1 + i for i, material in enumerate(FORM_MATERIALS)}

    def _answers(self, r: int, label_col: int, comparison: str, prop: str) -> set[int]:
        columns = self._answer_columns(label_col)
        for material, c in columns.items():
            self._answer(r, c, comparison, material, prop)
        return set(columns.values())

    def _answer(self, r: int, c: int, comparison: str, material: str, prop: str) -> None:
        raw = self._answer_text(r, c)
        earlier = [a["cell"] for a in self.answers if (a["comparison"], a["material"], a["property"])
                   == (comparison, material, prop)]
        if earlier:
            self._issue(r, c, f"second answer for {comparison}/{material}/{prop} in this form, first at "
                              f"{earlier[0]}: the meta-view uses this later one", severity="warning")
        try:
            value = normalise_answer(raw)
        except KeyError:
            value = None
            self._issue(r, c, f"answer {raw!r} is not yes, no, unsure or n.a. (left unanswered)")
        self.answers.append({"comparison": comparison, "material": material, "property": prop, "answer": value,
                             "raw_text": raw or None, "note": None, "sheet": self.sheet, "cell": _cell_ref(r, c)})

    def _answer_text(self, r: int, c: int) -> str:
        """The cell's text; a blank cell under a merged range whose top-left holds an answer takes that answer."""
        text = self.grid.text(r, c)
        if not text and (r, c) in self.grid.merged:
            shown = self.grid.text(*self.grid.merged[r, c])
            try:
                normalise_answer(shown)
            except KeyError:
                return ""
            return shown
        return text

    def _note(self, material: str, note: str) -> None:
        """The "Other" free text goes to the latest "other" answer of the section for that material."""
        for row in reversed(self.answers):
            if (row["comparison"], row["material"], row["property"]) == (self.section, material, "other"):
                row["note"] = note or row["note"]
                return


def _material_columns(cells: list[tuple[int, str]]) -> list[tuple[str, int]]:
    """[(material, column)] when every cell names one material ("Gr", "Graphite (anode)", "LiNiO2 / LNO"),
    each once, else []."""
    named = [(_material_of(text), c) for c, text in cells]
    materials = [m for m, _ in named]
    return named if named and None not in materials and len(set(materials)) == len(materials) else []


def _material_of(text: str) -> str | None:
    """The material a header cell names ("Gr", "Graphite (anode)", "LiNiO2 / LNO"), else None; a cell with
    other words ("graphite exfoliation") is an answer, not a header."""
    words = _normalise_label(text).split()
    named = {MATERIAL_LABELS[word] for word in words if word in MATERIAL_LABELS}
    if len(named) == 1 and all(word in MATERIAL_LABELS or word in ELECTRODE_WORDS for word in words):
        return named.pop()
    return None
