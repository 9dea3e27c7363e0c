"""BaSyTec result files (``~Resultfile from Basytec Battery Test System``, tab-separated text).

The header lines start with ``~``; the last of them names the columns (units in brackets,
``U[V]``, ``I[A]``, ``T1[°C]``). Current is signed, positive on charge. ``Ah-Step`` restarts
at each step and is rebuilt into cumulative charge and discharge counters. BaSyTec records
the command (Pause, Charge, Discharge...) but not CC versus CV: that is inferred per step.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..ingest.errors import UnreadableFile
from .cycler_common import (
    REST,
    control_mode_array,
    as_float,
    block_index,
    cumulative_by_direction,
    cycling_metadata,
    decode_text,
    increments_of_resetting,
    infer_control_mode,
    parse_local_time,
    TextLayout,
    encoding_of,
    line_offset,
    read_text_export,
    reader_table,
    run_alongside,
    forward_filled,
    renamed_extras,
)

NAME = "basytec"
TECHNIQUE = "cycling"

_REQUIRED = ("Time[s]", "U[V]", "I[A]")
# BaSyTec columns this reader maps to canonical columns (with the first temperature, T1)
_MAPPED = {"Time[s]", "U[V]", "I[A]", "Line", "Cyc-Count"}
# BaSyTec names whose unit is implied (Ah, Wh, Ohm) or whose words say little
_KNOWN_NAMES = {
    "DataSet": "record_index", "t-Step[s]": "step_time_second", "t-Set[s]": "set_time_second",
    "t-Cyc[s]": "cycle_time_second", "Ah[Ah]": "net_capacity_ah", "Wh[Wh]": "net_energy_wh",
    "Ah-Step": "step_capacity_ah", "Wh-Step": "step_energy_wh",
    "Ah-Cyc-Charge": "cycle_charging_capacity_ah", "Ah-Cyc-Discharge": "cycle_discharging_capacity_ah",
    "Ah-Cyc-Charge-0": "cycle_charging_capacity_0_ah", "Ah-Cyc-Discharge-0": "cycle_discharging_capacity_0_ah",
    "Wh-Cyc-Charge": "cycle_charging_energy_wh", "Wh-Cyc-Discharge": "cycle_discharging_energy_wh",
    "Wh-Cyc-Charge-0": "cycle_charging_energy_0_wh", "Wh-Cyc-Discharge-0": "cycle_discharging_energy_0_wh",
    "R-AC": "ac_resistance_ohm", "R-DC": "dc_resistance_ohm", "P[W]": "power_watt",
}


def sniff(path: Path, head: bytes) -> bool:
    text = decode_text(head)
    if text.startswith("~Resultfile from Basytec"):
        return True
    column_line = next((line for line in text.splitlines() if line.startswith("~Time[")), "")
    return all(name in column_line for name in ("U[V]", "I[A]"))


def read(path: Path) -> tuple[pa.Table, dict]:
    return read_text_export(path, layout, convert)


def read_canonical(path: Path) -> tuple[pa.Table, dict]:
    """Like ``read``, parsing only the columns behind ``READER_COLUMNS``."""
    return read_text_export(path, layout, convert, canonical_sources)


def canonical_sources(text_layout: TextLayout) -> set[str]:
    """The BaSyTec columns behind ``READER_COLUMNS`` (``Command`` tells pauses)."""
    return {*_MAPPED, "Command", "Ah-Step", "Ah[Ah]", _temperature_column(text_layout.column_names)}


def layout(path: Path, head: bytes) -> TextLayout:
    """Where the BaSyTec data rows start and their columns, from the first 64 KiB."""
    lines = decode_text(head).splitlines()
    header_count = next((i for i, line in enumerate(lines) if not line.startswith("~")), len(lines))
    if header_count == len(lines) and lines and lines[-1].startswith("~Time["):
        raise UnreadableFile(path, "no data rows after the header yet (the run may just have started)")
    if header_count == 0 or header_count == len(lines):
        raise UnreadableFile(path, "no '~' header block followed by data rows: not a BaSyTec result file")
    names = [name.strip() for name in lines[header_count - 1].lstrip("~").split("\t")]
    names = [re.sub(r"\[\ufffd?[^\]]*C\]$", "[°C]", n) if n.startswith("T") and n.endswith("C]") else n for n in names]
    missing = [n for n in _REQUIRED if n not in names]
    if missing:
        raise UnreadableFile(path, f"BaSyTec column line lacks {', '.join(missing)}: {lines[header_count - 1][:120]!r}")
    return TextLayout(offset=line_offset(head, header_count), column_names=names, delimiter="\t",
                      text_columns=("Command",), encoding=encoding_of(head),
                      header=_header(lines[:header_count - 1]))


def convert(path: Path, table: pa.Table, text_layout: TextLayout, dropped: int) -> tuple[pa.Table, dict]:
    """The reader table and metadata from parsed BaSyTec data rows."""
    return _canonical(table, text_layout.header, dropped, text_layout.column_names)


def _header(lines: list[str]) -> dict[str, str]:
    values = {}
    for line in lines:
        key, _, value = line.lstrip("~").partition(":")
        if value:
            values[key.strip()] = value.strip()
    return values


def _temperature_column(names: list[str]) -> str | None:
    return next((n for n in names if re.fullmatch(r"T1\[.*C\]", n)), None)


def _canonical(table: pa.Table, header: dict, dropped: int, source_columns: list[str]) -> tuple[pa.Table, dict]:
    warnings = [f"{dropped} malformed row(s) skipped"] if dropped else []
    lacks = []
    current = as_float(table, "I[A]")
    voltage = as_float(table, "U[V]")
    step = table.column("Line").cast(pa.int64()).to_numpy(zero_copy_only=False) if "Line" in table.column_names else None
    command = (pc.dictionary_encode(table.column("Command")).combine_chunks() if "Command" in table.column_names else None)
    command_code = command.indices.to_numpy(zero_copy_only=False) if command is not None else None
    blocks = block_index(*(k for k in (step, command_code) if k is not None))

    def capacities():
        if "Ah-Step" in table.column_names:
            increments = increments_of_resetting(np.abs(as_float(table, "Ah-Step")), blocks)
        elif "Ah[Ah]" in table.column_names:
            increments = np.diff(forward_filled(as_float(table, "Ah[Ah]")), prepend=0.0)  # a running total
        else:
            return None, None
        return cumulative_by_direction(increments, current)

    modes, (charge, discharge) = run_alongside(lambda: infer_control_mode(current, voltage, blocks), capacities)
    if command is not None:
        pause = [i for i, name in enumerate(command.dictionary.to_pylist()) if (name or "").strip().lower() == "pause"]
        modes[np.isin(command_code, pause)] = REST
    warnings.append("BaSyTec records the command but not CC/CV: inferred per step from current and voltage")
    if charge is None:
        lacks.append("capacity")
    canonical = {
        "test_time_second": as_float(table, "Time[s]"),
        "voltage_volt": voltage,
        "current_ampere": current,
        "step_id": step,
        "control_mode": control_mode_array(modes),
        "vendor_cycle_number": table.column("Cyc-Count") if "Cyc-Count" in table.column_names else None,
        "charging_capacity_ah": charge,
        "discharging_capacity_ah": discharge,
    }
    temperature = _temperature_column(table.column_names)
    canonical["temperature_celsius"] = as_float(table, temperature) if temperature else None
    for name, lack in (("Cyc-Count", "cycle column"), ("Line", "step column"), (temperature, "temperature")):
        if name is None or name not in table.column_names:
            lacks.append(lack)
    extras = renamed_extras(table, {*_MAPPED, temperature}, _KNOWN_NAMES)
    metadata = cycling_metadata(
        instrument=f"BaSyTec ({header.get('Testchannel', 'channel unknown')})",
        source_columns=source_columns,
        start_time_local=parse_local_time(header.get("Start of Test", ""), ("%d.%m.%Y %H:%M:%S",)),
        warnings=warnings,
        lacks=lacks,
        test_name=header.get("Name of Test"),
        testplan=header.get("Testplan"),
        battery=header.get("Battery"),
    )
    return reader_table(canonical, extras), metadata
