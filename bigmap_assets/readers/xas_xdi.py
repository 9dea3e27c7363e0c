"""XDI (XAS Data Interchange, 1.0/1.1) text, including the Epics StepScan flavour.

Header: ``# XDI/1.x`` then ``# Family.key: value`` lines (``Column.N: name [units]``,
``Element.symbol``, ``Element.edge``, ``Scan.start_time``...), ``# ///``, free comments,
``#----``, then whitespace-separated numbers. mu is taken as given, else from fluorescence
channels of the edge element over I0, else ln(I0/I1) (``xas_columns.choose_channels``).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..ingest.errors import UnreadableFile
from .xas_columns import choose_channels, energy_order, numeric_block, reader_table

NAME = "xas_xdi"
TECHNIQUE = "xas"

_FIELD = re.compile(r"^#\s*([A-Za-z_][\w]*)\.([\w.]+)\s*:\s*(.*)$")


def sniff(path: Path, head: bytes) -> bool:
    return re.match(rb"#\s*XDI/1\.\d", head) is not None


def _header(lines: list[str]) -> tuple[dict[str, str], int]:
    """``{'family.key': value}`` (lower-case keys) and the index of the first data line."""
    fields: dict[str, str] = {}
    for i, line in enumerate(lines):
        if line.strip() and not line.lstrip().startswith("#"):
            return fields, i
        match = _FIELD.match(line)
        if match:
            fields.setdefault(f"{match[1]}.{match[2]}".lower(), match[3].split("||")[0].strip())
    return fields, len(lines)


def _column_names(fields: dict[str, str], lines: list[str], first_data: int) -> list[str]:
    numbered = sorted((int(k.split(".")[1]), v.split()[0]) for k, v in fields.items()
                      if re.fullmatch(r"column\.\d+", k) and v)
    if numbered:
        return [name for _, name in numbered]
    return lines[first_data - 1].lstrip("#").split() if first_data else []


def _start_time(text: str | None) -> tuple[str | None, str | None]:
    """(UTC ISO time when the text carries an offset, else None; the text as written)."""
    if not text:
        return None, None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None, text
    return (moment.astimezone(timezone.utc).isoformat() if moment.tzinfo else None), text


def read(path: Path) -> tuple[pa.Table, dict]:
    path = Path(path)
    lines = path.read_text(encoding="latin-1").splitlines()
    fields, first_data = _header(lines)
    names = _column_names(fields, lines, first_data)
    if not names:
        raise UnreadableFile(path, "no Column.N fields and no column line before the data")
    width = len(lines[first_data].split()) if first_data < len(lines) else 0
    if width != len(names):
        raise UnreadableFile(path, f"the header names {len(names)} columns but the data rows hold {width}",
                             location=f"line {first_data + 1}")
    data = numeric_block(path, lines, first_data, width)
    repeats: list[str] = []
    order = energy_order(path, data[:, 0], repeats)
    columns = {name: data[order, i] for i, name in enumerate(names)}
    element = fields.get("element.symbol") or fields.get("scanparameters.element")
    edge = fields.get("element.edge") or fields.get("scanparameters.edge")
    try:
        channels, source, warnings = choose_channels(columns, element)
    except ValueError as exc:
        raise UnreadableFile(path, str(exc)) from exc
    warnings += repeats

    start_utc, start_local = _start_time(fields.get("scan.start_time"))
    _, end_local = _start_time(fields.get("scan.end_time"))
    duration = None
    if start_local and end_local:
        try:
            duration = (datetime.fromisoformat(end_local) - datetime.fromisoformat(start_local)).total_seconds()
        except ValueError:
            duration = None
    if start_local and not start_utc:
        warnings.append(f"Scan.start_time {start_local!r} has no timezone: kept as local text, no UTC time")
    facility = fields.get("facility.name")
    beamline = fields.get("beamline.name")
    scan = {
        "scan_index": 0, "scan_name": path.stem, "start_utc_time": start_utc, "start_local_time": start_local,
        "timezone": None, "duration_second": duration, "element": element, "edge": edge, "mu_source": source,
        "tabulated_e0_ev": float(fields["scan.edge_energy"]) if _is_number(fields.get("scan.edge_energy")) else None,
        "sample_name": fields.get("sample.name"),
    }
    metadata = {
        "instrument": " ".join(filter(None, (facility, beamline))) or None,
        "columns": names,
        "scans": [scan],
        "xdi_fields": fields,
        "warnings": warnings,
    }
    return reader_table([{"scan_name": path.stem, "energy_ev": columns[names[0]], **channels}], channels={name: columns[name] for name in names[1:]}), metadata


def _is_number(text: str | None) -> bool:
    try:
        return text is not None and np.isfinite(float(text))
    except ValueError:
        return False
