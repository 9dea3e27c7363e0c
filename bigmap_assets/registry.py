"""The sample registry: load and validate ``registry/samples.csv`` (or ``samples.xlsx``). Pure, no Dagster.

Problems never raise: each becomes an ``Issue`` naming the file, the row and the reason,
and the row is left out.
"""

from __future__ import annotations

import csv
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .ingest import Issue
from .warehouse.lake import SAFE_VALUE

SAMPLE_COLUMNS = ("sample_id", "provider", "batch", "series", "chemistry", "active_mass_mg", "timezone")


def read_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV (UTF-8, with or without BOM) or of the first sheet of an .xlsx, as text."""
    if path.suffix.lower() in (".xlsx", ".xls", ".ods"):
        from python_calamine import CalamineWorkbook

        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        header = [str(h).strip() for h in sheet[0]]
        return [{h: _text(v) for h, v in zip(header, row)} for row in sheet[1:] if any(_text(v) for v in row)]
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(fh)]


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def samples_file(registry_dir: Path) -> Path | None:
    for name in ("samples.csv", "samples.xlsx"):
        if (Path(registry_dir) / name).is_file():
            return Path(registry_dir) / name
    return None


def load_samples(registry_dir: str | Path) -> tuple[dict[str, dict], list[Issue]]:
    """``{sample_id: row}`` of the valid rows, and an ``Issue`` for every row left out."""
    path = samples_file(Path(registry_dir))
    if path is None:
        return {}, [Issue(str(Path(registry_dir) / "samples.csv"), "registry", "no samples.csv or samples.xlsx")]
    rows = read_rows(path)
    missing = [c for c in SAMPLE_COLUMNS if rows and c not in rows[0]]
    if missing:
        return {}, [Issue(str(path), "registry", f"missing column(s): {', '.join(missing)}", location="header")]
    samples, issues = {}, []
    for line, row in enumerate(rows, start=2):
        reason = _row_problem(row, samples)
        if reason:
            issues.append(Issue(str(path), "registry", reason, row.get("sample_id") or None, location=f"row {line}"))
            continue
        samples[row["sample_id"]] = {**row, "active_mass_mg": float(row["active_mass_mg"]) if row["active_mass_mg"] else None}
    return samples, issues


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
    if row["active_mass_mg"]:
        try:
            if float(row["active_mass_mg"]) <= 0:
                return f"active_mass_mg {row['active_mass_mg']!r} must be positive"
        except ValueError:
            return f"active_mass_mg {row['active_mass_mg']!r} is not a number"
    return None
