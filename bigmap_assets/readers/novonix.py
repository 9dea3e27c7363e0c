"""Novonix UHPC CSV files: ``[Summary]``, ``[Protocol]`` (JSON) and ``[Data]`` sections.

Current is signed (positive on charge); times are in hours and converted to seconds.
``Capacity (Ah)`` restarts at each step and is rebuilt into cumulative charge and discharge
counters. Step type codes follow the UHPC convention: 0 open circuit, 1/2 CC charge/discharge,
3/4 CV charge/discharge, 7/8 CC and CV parts of a CC-CV charge, 9/10 of a CC-CV discharge.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..ingest.errors import UnreadableFile
from .cycler_common import (
    CC,
    CV,
    OTHER,
    REST,
    control_mode_array,
    as_float,
    block_index,
    cumulative_by_direction,
    cycling_metadata,
    decode_text,
    increments_of_resetting,
    parse_local_time,
    TextLayout,
    encoding_of,
    read_text_export,
    reader_table,
    run_alongside,
    renamed_extras,
)

NAME = "novonix"
TECHNIQUE = "cycling"

MODE_BY_STEP_TYPE = {0: REST, 1: CC, 2: CC, 3: CV, 4: CV, 7: CC, 8: CV, 9: CC, 10: CV}
_REQUIRED = ("Run Time (h)", "Current (A)", "Potential (V)")
SECONDS_PER_HOUR = 3600.0
# Novonix columns this reader maps to named columns (the others keep their own names)
_MAPPED = {"Date and Time", "Run Time (h)", "Step Time (h)", "Current (A)", "Potential (V)", "Cycle Number",
           "Step Number", "Temperature (°C)", "Capacity (Ah)"}


def sniff(path: Path, head: bytes) -> bool:
    text = decode_text(head[:4096])
    return text.startswith("[Summary]") and "Novonix" in text[:400]


def read(path: Path) -> tuple[pa.Table, dict]:
    return read_text_export(path, layout, convert)


def read_canonical(path: Path) -> tuple[pa.Table, dict]:
    """Like ``read``, parsing only the columns behind ``READER_COLUMNS``."""
    return read_text_export(path, layout, convert, canonical_sources)


def canonical_sources(text_layout: TextLayout) -> set[str]:
    """The Novonix columns behind ``READER_COLUMNS`` (the start time is in the summary, not the rows)."""
    return (_MAPPED | {"Step Type"}) - {"Date and Time", "Step Time (h)"}


def layout(path: Path, head: bytes) -> TextLayout:
    """Where the Novonix [Data] rows start and their columns, from the first 64 KiB."""
    marker = head.find(b"[Data]")
    if marker < 0:
        raise UnreadableFile(path, "no [Data] section in the first 64 KiB: the Novonix file holds no measurements")
    column_line_end = head.find(b"\n", head.index(b"\n", marker) + 1)
    column_line = decode_text(head[head.index(b"\n", marker) + 1: column_line_end]).rstrip("\r")
    names = [name.strip() for name in column_line.split(",")]
    missing = [n for n in _REQUIRED if n not in names]
    if missing:
        raise UnreadableFile(path, f"Novonix [Data] section lacks {', '.join(missing)}")
    preamble = decode_text(head[:marker])
    return TextLayout(offset=column_line_end + 1, column_names=names, delimiter=",",
                      text_columns=("Date and Time",), encoding=encoding_of(head),
                      header={"summary": _summary(preamble), "protocol": _protocol(preamble)})


def convert(path: Path, table: pa.Table, text_layout: TextLayout, dropped: int) -> tuple[pa.Table, dict]:
    """The reader table and metadata from parsed Novonix data rows."""
    return _canonical(table, text_layout.header["summary"], text_layout.header["protocol"], dropped,
                      text_layout.column_names)


def _summary(preamble: str) -> dict[str, str]:
    section = preamble.split("[Summary]", 1)[-1].split("[End Summary]", 1)[0]
    values = {}
    for line in section.splitlines():
        key, _, value = line.partition(":")
        if value:
            values[key.strip()] = value.strip()
    return values


def _protocol(preamble: str) -> dict | None:
    if "[Protocol]" not in preamble:
        return None
    text = preamble.split("[Protocol]", 1)[1].split("[End Protocol]", 1)[0].strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _modes_of(step_type: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """Mode code per row from the UHPC step type codes, and the codes present."""
    small = step_type.max(initial=0) - step_type.min(initial=0) <= 4096
    codes, rows = _small_codes(step_type) if small else np.unique(step_type, return_inverse=True)
    lookup = np.array([MODE_BY_STEP_TYPE.get(int(code), OTHER) for code in codes], dtype=np.int8)
    return lookup[rows], [int(code) for code in codes]


def _small_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for integers within a small range, without sorting."""
    low = values.min(initial=0)
    present = np.bincount(values - low) > 0
    index = np.cumsum(present) - 1
    return np.flatnonzero(present) + low, index[values - low]


def _canonical(table: pa.Table, summary: dict, protocol: dict | None, dropped: int,
               source_columns: list[str]) -> tuple[pa.Table, dict]:
    warnings = [f"{dropped} malformed row(s) skipped"] if dropped else []
    lacks = []
    current = as_float(table, "Current (A)")
    step = table.column("Step Number").cast(pa.int64()).to_numpy(zero_copy_only=False) if "Step Number" in table.column_names else None
    step_type = table.column("Step Type").cast(pa.int64()).to_numpy(zero_copy_only=False) if "Step Type" in table.column_names else None
    blocks = block_index(*(k for k in (step, step_type) if k is not None)) if step_type is not None else block_index(np.sign(current))

    def capacities():
        if "Capacity (Ah)" not in table.column_names:
            return None, None
        return cumulative_by_direction(increments_of_resetting(np.abs(as_float(table, "Capacity (Ah)")), blocks), current)

    def modes():
        if step_type is None:
            return None
        codes, present = _modes_of(step_type)
        unknown = sorted(code for code in present if code not in MODE_BY_STEP_TYPE)
        if unknown:
            warnings.append(f"step type code(s) {unknown} have no known control mode: OTHER")
        return control_mode_array(codes)

    (charge, discharge), control_mode = run_alongside(capacities, modes)
    if step_type is None:
        lacks.append("step type")
    if charge is None:
        lacks.append("capacity")
    canonical = {
        "test_time_second": as_float(table, "Run Time (h)") * SECONDS_PER_HOUR,
        "voltage_volt": as_float(table, "Potential (V)"),
        "current_ampere": current,
        "step_id": step,
        "control_mode": control_mode,
        "vendor_cycle_number": table.column("Cycle Number") if "Cycle Number" in table.column_names else None,
        "temperature_celsius": as_float(table, "Temperature (°C)") if "Temperature (°C)" in table.column_names else None,
        "charging_capacity_ah": charge,
        "discharging_capacity_ah": discharge,
    }
    extras = {"step_capacity_ah": table.column("Capacity (Ah)")} if "Capacity (Ah)" in table.column_names else {}
    if "Date and Time" in table.column_names:
        extras["date_time_local"] = pc.cast(table.column("Date and Time"), pa.timestamp("us"))  # ISO 8601, local
    if "Step Time (h)" in table.column_names:
        extras["step_time_second"] = pa.array(as_float(table, "Step Time (h)") * SECONDS_PER_HOUR)
    renamed = renamed_extras(table, _MAPPED)
    extras.update(zip(renamed.column_names, renamed.columns))
    metadata = cycling_metadata(
        instrument=f"Novonix {summary.get('Novonix UHPC data file', 'UHPC')} (software {summary.get('Version', '?')})",
        source_columns=source_columns,
        start_time_local=parse_local_time(summary.get("Started", ""), ("%Y-%m-%d %H:%M:%S",)),
        warnings=warnings,
        lacks=lacks,
        channel=summary.get("Channel"),
        cell=summary.get("Cell"),
        description=summary.get("Description"),
        mass_g=summary.get("Mass (g)"),
        nominal_capacity_ah=summary.get("Capacity (Ah)"),
        protocol_steps=len(protocol.get("ProtocolStepList", [])) if protocol else None,
    )
    return reader_table(canonical, extras), metadata
