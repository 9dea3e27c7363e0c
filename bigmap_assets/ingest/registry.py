"""The registry: load and validate ``registry/*.csv`` (or ``.xlsx``). No Dagster.

``samples``, ``electrodes``, ``shipments``, ``experiments`` and ``archive_records``.
Problems never raise: each becomes an ``Issue`` naming the file, the row and the reason.
A row that cannot be used (bad or duplicate ID, unreadable or backwards dates) is left
out (severity error); a row naming an unknown sample is kept (severity warning). Every
numeric field must be a finite number in its physical range (``NUMBER_BOUNDS``): a bad one
(``nan``, ``inf``, 0 mg, a negative cost) is left blank and reported (severity error), the
row is kept (a cell keeps its timezone when only its mass is wrong).
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import UnreadableFile
from .admission import Issue
from .raw_tree import containment, entry_problem, kind_of
from ..schemas import TABLES
from ..warehouse.lake import SAFE_VALUE

SPREADSHEET_SUFFIXES = (".xlsx", ".xls", ".ods")
SAMPLE_COLUMNS = ("sample_id", "provider", "batch", "series", "chemistry", "active_mass_mg", "timezone")


@dataclass(frozen=True)
class Bounds:
    """The physical range of a numeric registry field (``low`` excluded when ``low_open``)."""

    low: float
    high: float
    unit: str
    low_open: bool = False

    def problem(self, column: str, text: str) -> str | None:
        """Why ``text`` is not a usable value of ``column``, or None."""
        try:
            value = float(text)
        except ValueError:
            return f"{column} {text!r} is not a number"
        if not math.isfinite(value):
            return f"{column} {text!r} is not a finite number"
        if value < self.low or value > self.high or (self.low_open and value == self.low):
            low = f"{'above' if self.low_open else 'from'} {self.low:g}"
            return f"{column} {text} is outside its physical range ({low} to {self.high:g} {self.unit})"
        return None


NUMBER_BOUNDS = {
    "active_mass_mg": Bounds(0.0, 100_000.0, "mg", low_open=True),  # a cathode's active material, up to 100 g
    "cost_eur": Bounds(0.0, 100_000.0, "EUR"),  # one shipment
    "percent_done": Bounds(0.0, 100.0, "%"),
}


def blank_bad_numbers(row: dict[str, str], columns: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """``row`` with each of ``columns`` that is not a number in its ``NUMBER_BOUNDS`` blanked, and why each was."""
    problems = [(c, NUMBER_BOUNDS[c].problem(c, row[c])) for c in columns if row.get(c)]
    problems = [(c, why) for c, why in problems if why]
    return {**row, **{c: "" for c, _ in problems}}, [f"{why}: left blank" for _, why in problems]


def read_rows(path: Path) -> tuple[list[dict[str, str]], list[str]]:
    """Rows of a CSV or of the first sheet of an .xlsx/.ods, as text, and warnings about assumptions made.

    A CSV that is not UTF-8 is read as Windows-1252 (Excel's "CSV" on Western Windows) with a warning;
    a file that cannot be opened raises ``UnreadableFile``.
    """
    if path.suffix.lower() in SPREADSHEET_SUFFIXES:
        from python_calamine import CalamineWorkbook

        try:
            sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        except Exception as exc:  # calamine's errors (zip, xml, format) share no base class
            raise UnreadableFile(path, f"cannot open as a spreadsheet: {type(exc).__name__}: {exc}") from exc
        if not sheet:
            return [], []
        header = [_text(h) for h in sheet[0]]
        return [{h: _text(v) for h, v in zip(header, row) if h} for row in sheet[1:] if any(_text(v) for v in row)], []
    raw = path.read_bytes()
    try:
        text, warnings = raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        text = raw.decode("cp1252", errors="replace")
        line = raw.count(b"\n", 0, exc.start) + 1
        warnings = [f"not UTF-8 (first at line {line}): read as Windows-1252; save as 'CSV UTF-8' to be sure of "
                    "accented names"]
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise UnreadableFile(path, f"not a readable CSV: {exc}") from exc
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in rows], warnings


def _opened(path: Path) -> tuple[list[dict[str, str]] | None, list[Issue]]:
    """``read_rows`` with its problems as issues: (None, [error]) when the file cannot be opened, or is a
    link out of the data folder (``registry/``'s parent)."""
    problem = file_problem(path)
    if problem:
        return None, [Issue(str(path), "registry", problem)]
    try:
        rows, warnings = read_rows(path)
    except UnreadableFile as exc:
        return None, [Issue(str(path), "registry", exc.reason)]
    return rows, [Issue(str(path), "registry", warning, severity="warning") for warning in warnings]


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def file_problem(path: Path) -> str | None:
    """Why a registry file is not opened (a link out of the data folder, a FIFO...), or None."""
    mode, problem = entry_problem(path, containment(Path(path).parent.parent))
    return problem or (None if stat.S_ISREG(mode) else f"not read: {kind_of(mode)}, not a regular file")


def registry_file(registry_dir: Path, name: str) -> Path | None:
    """``<name>.csv`` (or .xlsx, .xls, .ods) in ``registry_dir``, whichever exists (CSV first)."""
    for suffix in (".csv", *SPREADSHEET_SUFFIXES):
        if os.path.lexists(Path(registry_dir) / f"{name}{suffix}"):
            return Path(registry_dir) / f"{name}{suffix}"
    return None


def samples_file(registry_dir: Path) -> Path | None:
    return registry_file(registry_dir, "samples")


def load_samples(registry_dir: str | Path) -> tuple[dict[str, dict], list[Issue]]:
    """``{sample_id: row}`` of the valid rows, and an ``Issue`` for every row left out.

    Optional ``assembly_date`` and ``end_of_life_date`` become ``datetime.date`` (or None).
    """
    path = samples_file(Path(registry_dir))
    if path is None:
        return {}, [Issue(str(Path(registry_dir) / "samples.csv"), "registry", "no samples.csv or samples.xlsx")]
    rows, issues = _opened(path)
    if rows is None:
        return {}, issues
    missing = [c for c in SAMPLE_COLUMNS if rows and c not in rows[0]]
    if missing:
        return {}, [*issues, Issue(str(path), "registry", f"missing column(s): {', '.join(missing)}",
                                   location="header")]
    samples = {}
    for line, row in enumerate(rows, start=2):
        reason = _row_problem(row, samples)
        if reason:
            issues.append(Issue(str(path), "registry", reason, row.get("sample_id") or None, location=f"row {line}"))
            continue
        row, blanked = blank_bad_numbers(row, ("active_mass_mg",))
        issues += [Issue(str(path), "registry", why, row["sample_id"], location=f"row {line}") for why in blanked]
        samples[row["sample_id"]] = {
            **row, "active_mass_mg": float(row["active_mass_mg"]) if row["active_mass_mg"] else None,
            "assembly_date": parse_date(row.get("assembly_date", "")),
            "end_of_life_date": parse_date(row.get("end_of_life_date", "")),
        }
    return samples, issues


def samples_table(samples: dict[str, dict]) -> pa.Table:
    """The ``samples`` table (without provenance) of ``load_samples``' valid rows."""
    return _conform("samples", list(samples.values()))


def _row_problem(row: dict[str, str], seen: dict[str, dict]) -> str | None:
    sample_id = row["sample_id"]
    if not SAFE_VALUE.match(sample_id):
        return f"sample_id {sample_id!r} refused: use letters, digits, '.', '_' and '-' only"
    if sample_id in seen:
        return f"duplicate sample_id {sample_id!r}"
    try:
        ZoneInfo(row["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        return f"timezone {row['timezone']!r} is not an IANA name (e.g. Europe/Berlin)"
    return _date_problem(row, ("assembly_date", "end_of_life_date"), (("assembly_date", "end_of_life_date"),))


def parse_date(text: str) -> date | None:
    """ISO date (``2023-03-01``, a trailing time is ignored) or None for blank; ``ValueError`` otherwise."""
    text = text.strip()
    if not text:
        return None
    return datetime.fromisoformat(text).date() if len(text) > 10 else date.fromisoformat(text)


def _date_problem(row: dict[str, str], columns: tuple[str, ...], order: tuple[tuple[str, str], ...]) -> str | None:
    """Why the row's dates cannot be used: unreadable, or a later step dated before an earlier one."""
    for column in columns:
        try:
            parse_date(row.get(column, ""))
        except ValueError:
            return f"{column} {row[column]!r} is not a date (use YYYY-MM-DD)"
    for earlier, later in order:
        first, then = parse_date(row.get(earlier, "")), parse_date(row.get(later, ""))
        if first and then and then < first:
            return f"dates run backwards: {later} {then} is before {earlier} {first}"
    return None


@dataclass(frozen=True)
class Spec:
    """How to validate one registry table."""

    name: str
    id_column: str
    required: tuple[str, ...]
    dates: tuple[str, ...] = ()
    order: tuple[tuple[str, str], ...] = ()  # (earlier, later) date pairs
    sample_column: str = ""  # one sample ID per row
    sample_list_column: str = ""  # ';'-separated sample IDs
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)
    numbers: tuple[str, ...] = ()  # optional numeric fields, each with its NUMBER_BOUNDS
    flags: tuple[str, ...] = ()


SPECS = {spec.name: spec for spec in (
    Spec("electrodes", "electrode_id", ("electrode_id", "sample_id", "material"), sample_column="sample_id",
         choices={"material": ("LNO", "Gr"), "state": ("", "pristine", "aged")}),
    Spec("shipments", "shipment_id", ("shipment_id", "from_site", "to_site", "sent_date", "received_date"),
         dates=("sent_date", "received_date"), order=(("sent_date", "received_date"),),
         sample_list_column="sample_ids", numbers=("cost_eur",),
         flags=("lost",)),
    Spec("experiments", "experiment_id", ("experiment_id", "partner", "technique", "site_type", "received_date",
                                          "started_date", "completed_date"),
         dates=("received_date", "started_date", "completed_date"),
         order=(("received_date", "started_date"), ("started_date", "completed_date"),
                ("received_date", "completed_date")),
         sample_list_column="sample_ids", choices={"site_type": ("lab", "large-scale facility")},
         numbers=("percent_done",)),
    Spec("archive_records", "record_id", ("record_id", "partner", "technique", "created_date"),
         dates=("created_date", "updated_date"), order=(("created_date", "updated_date"),)),
)}
FLAG_VALUES = {"": False, "false": False, "no": False, "0": False, "true": True, "yes": True, "1": True}


def load_registry(registry_dir: str | Path) -> tuple[dict[str, pa.Table], list[Issue]]:
    """Every registry table (``samples`` and ``SPECS``, without provenance columns) and the issues of all.

    Shipments and experiments may name a cell or one of its electrodes.
    """
    samples, issues = load_samples(registry_dir)
    tables, known = {"samples": samples_table(samples)}, set(samples)
    for name in SPECS:
        tables[name], table_issues = load_table(registry_dir, name, known)
        issues += table_issues
        if name == "electrodes":
            known = known | set(tables[name]["electrode_id"].to_pylist())
    return tables, issues


def load_table(registry_dir: str | Path, name: str, known_samples: set[str]) -> tuple[pa.Table, list[Issue]]:
    """The validated ``name`` table (without provenance columns) and an ``Issue`` per problem.

    ``known_samples``: the IDs a row may name (cells, and electrodes for shipments and experiments).
    An absent file gives an empty table and no issue (not every registry has every table).
    """
    spec = SPECS[name]
    path = registry_file(Path(registry_dir), name)
    if path is None:
        return _conform(name, []), []
    rows, issues = _opened(path)
    if rows is None:
        return _conform(name, []), issues
    missing = [c for c in spec.required if rows and c not in rows[0]]
    if missing:
        return _conform(name, []), [*issues, Issue(str(path), "registry", f"missing column(s): {', '.join(missing)}",
                                                   location="header")]
    kept, seen = [], set()
    for line, row in enumerate(rows, start=2):
        row_id = row[spec.id_column]
        reason = _spec_problem(spec, row, seen)
        if reason:
            issues.append(Issue(str(path), "registry", reason, location=f"row {line}"))
            continue
        seen.add(row_id)
        row, blanked = blank_bad_numbers(row, spec.numbers)
        issues += [Issue(str(path), "registry", why, location=f"row {line}") for why in blanked]
        typed = _typed(spec, row)
        samples = [typed[spec.sample_column]] if spec.sample_column else typed.get(spec.sample_list_column) or []
        registry_tables = "samples" if spec.sample_column else "samples or electrodes"
        for unknown in [s for s in samples if s not in known_samples]:
            issues.append(Issue(str(path), "registry", f"{spec.id_column} {row_id!r} names unknown sample {unknown!r} "
                                f"(not in {registry_tables})", unknown, f"row {line}", severity="warning"))
        kept.append(typed)
    return _conform(name, kept), issues


def _spec_problem(spec: Spec, row: dict[str, str], seen: set[str]) -> str | None:
    row_id = row[spec.id_column]
    if not SAFE_VALUE.match(row_id):
        return f"{spec.id_column} {row_id!r} refused: use letters, digits, '.', '_' and '-' only"
    if row_id in seen:
        return f"duplicate {spec.id_column} {row_id!r}"
    for column in spec.required:
        if column not in spec.dates[1:] and not row.get(column):
            return f"{column} is blank"
    for column, allowed in spec.choices.items():
        if row.get(column, "") not in allowed:
            return f"{column} {row.get(column)!r} is not one of {', '.join(a for a in allowed if a)}"
    for column in spec.flags:
        if row.get(column, "").lower() not in FLAG_VALUES:
            return f"{column} {row[column]!r} is not true or false"
    if spec.name == "electrodes" and not row_id.startswith(f"{row['sample_id']}-"):
        return f"electrode_id {row_id!r} does not start with its cell ID {row['sample_id']!r}"
    if spec.name == "shipments" and FLAG_VALUES[row.get("lost", "").lower()] and row.get("received_date"):
        return "a lost parcel with a received_date: clear one of them"
    return _date_problem(row, spec.dates, spec.order)


def _typed(spec: Spec, row: dict[str, str]) -> dict:
    typed: dict = dict(row)
    for column in spec.dates:
        typed[column] = parse_date(row.get(column, ""))
    for column in spec.numbers:
        typed[column] = float(row[column]) if row.get(column) else None
    for column in spec.flags:
        typed[column] = FLAG_VALUES[row.get(column, "").lower()]
    if spec.sample_list_column:
        typed[spec.sample_list_column] = [s.strip() for s in row.get(spec.sample_list_column, "").replace(",", ";")
                                          .split(";") if s.strip()]
    return typed


def _conform(name: str, rows: list[dict]) -> pa.Table:
    schema = TABLES[name]
    columns = [c.name for c in schema.columns]
    return schema.conform(pa.Table.from_pylist([{c: row.get(c) for c in columns} for row in rows],
                                               schema=schema.arrow_schema()))
