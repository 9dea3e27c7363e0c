"""Maccor text and CSV exports (MIMS "Today's Date" header, KIT-style key/value header, CSV).

Dialects handled: tab- or comma-separated; decimal comma; test time as ``"0d 00:00:00.0000"``,
seconds, or minutes (the unit is checked against the clock column); US or day-first dates;
non-ASCII padding in description lines; a truncated last row (dropped and reported); a test
time that stands still while the clock runs (impedance rows of raw ``.0NN`` files: the time
comes from the clock there, reported). Maccor
writes current and capacity as magnitudes: the sign of the current comes from the state
column (C = charge, D = discharge), and the per-step capacity is rebuilt into cumulative
charge and discharge counters.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..ingest.errors import UnreadableFile
from .cycler_common import (
    OTHER,
    REST,
    control_mode_array,
    block_index,
    cumulative_by_direction,
    cycling_metadata,
    decode_text,
    increments_of_resetting,
    infer_control_mode,
    TextLayout,
    encoding_of,
    line_offset,
    read_text_export,
    reader_table,
    run_alongside,
    renamed_extras,
    seconds_from_duration_text,
)

NAME = "maccor"
TECHNIQUE = "cycling"

_HEADER_FIRST_FIELD = re.compile(r"^\s*Rec#?\s*$")
_COLUMNS = {
    "record": ("Rec#", "Rec"),
    "cycle": ("Cycle C", "Cyc#", "Cycle P", "Cycle"),
    "step": ("Step",),
    "test_time": ("TestTime", "Test Time (sec)", "Test (Sec)", "Test Time"),
    "capacity": ("Amp-hr", "Cap. [Ah]", "Capacity"),
    "energy": ("Watt-hr", "Ener. [Wh]", "Energy"),
    "current": ("Amps", "Current [A]", "Current"),
    "voltage": ("Volts", "Voltage [V]", "Voltage"),
    "state": ("State", "Md"),
    "clock": ("DPt Time", "DPT Time", "DPt Time (sec)"),
    "temperature": ("Temp 1",),
}
_KNOWN_NAMES = {"ES": "end_status", "ACImp/Ohms": "ac_impedance_ohm", "DCIR/Ohms": "dc_internal_resistance_ohm",
                "Range": "current_range"}
_CLOCK_FORMATS = ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%d-%b-%y %I:%M:%S %p", "%d-%b-%y %H:%M:%S",
                  "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S")
_SECONDS_PER_UNIT = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


def sniff(path: Path, head: bytes) -> bool:
    text = decode_text(head)
    if text.startswith("Today's Date"):
        return True
    return _header_line(text.splitlines()[:60]) is not None


def read(path: Path) -> tuple[pa.Table, dict]:
    return read_text_export(path, layout, convert)


def read_canonical(path: Path) -> tuple[pa.Table, dict]:
    """Like ``read``, parsing only the columns behind ``READER_COLUMNS``."""
    return read_text_export(path, layout, convert, canonical_sources)


def canonical_sources(text_layout: TextLayout) -> set[str]:
    """The Maccor columns behind ``READER_COLUMNS`` (found in the column line by ``layout``).

    The clock column is kept as text: it checks the test time's unit and fills in the test time
    where it stalls; only the rows that need it are ever parsed as dates.
    """
    columns = text_layout.header["columns"]
    needed = {key: name for key, name in columns.items() if name and key not in ("record", "energy")}
    return set(needed.values()) - {None}


def layout(path: Path, head: bytes) -> TextLayout:
    """Where the Maccor data rows start, their columns and dialect, from the first 64 KiB."""
    lines = decode_text(head).splitlines()
    header_index = _header_line(lines[:60])
    if header_index is None:
        raise UnreadableFile(path, "no Maccor column line (starting with Rec or Rec#) in the first 60 lines")
    header = lines[header_index]
    delimiter = "\t" if "\t" in header else ","
    names = [name.strip() for name in header.split(delimiter)]
    rows = [(number, line) for number, line in enumerate(lines[header_index + 1:], header_index + 2) if line.strip()]
    if not rows:
        raise UnreadableFile(path, "no data rows after the header yet (the run may just have started)")
    # a short row (damaged, or cut where the head ends) is dropped when the rows are parsed: look past it
    first_data = next((line for _, line in rows if len(line.split(delimiter)) >= len(names)), None)
    if first_data is None:
        number, line = rows[0]
        raise UnreadableFile(path, f"the first data row has {len(line.split(delimiter))} fields, expected the "
                                   f"{len(names)} of the column line (line {header_index + 1})", location=f"line {number}")
    first_fields = first_data.rstrip("\r\n").split(delimiter)
    decimal_comma = delimiter == "\t" and bool(re.search(r"(^|\t)\s*-?\d+,\d+\s*(\t|$)", first_data))
    columns = {key: next((n for n in candidates if n in names), None) for key, candidates in _COLUMNS.items()}
    missing = [k for k in ("test_time", "current", "voltage") if columns[k] is None]
    if missing:
        raise UnreadableFile(path, f"Maccor column line lacks {', '.join(missing)} columns: {header.strip()!r}")
    durations = tuple(n for n in names if n in ("TestTime", "StepTime")
                      and not _is_number(first_fields[names.index(n)], decimal_comma))
    return TextLayout(
        offset=line_offset(head, header_index + 1), column_names=names, delimiter=delimiter,
        decimal_comma=decimal_comma, text_columns=tuple(n for n in (columns["state"], columns["clock"]) if n) + durations,
        trailing_delimiter=len(first_fields) > len(names), encoding=encoding_of(head),
        header={"columns": columns, "preamble": _preamble(lines[:header_index])},
    )


def convert(path: Path, table: pa.Table, text_layout: TextLayout, dropped: int) -> tuple[pa.Table, dict]:
    """The reader table and metadata from parsed Maccor data rows."""
    header = text_layout.header
    return _canonical(table, header["columns"], header["preamble"], dropped,
                      text_layout.decimal_comma, text_layout.column_names,
                      canonical_only=bool(text_layout.include_columns))


def _header_line(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        fields = re.split(r"[\t,]", line)
        if _HEADER_FIRST_FIELD.match(fields[0]) and len(fields) > 4:
            return index
    return None


def _is_number(text: str, decimal_comma: bool) -> bool:
    text = text.strip().replace(",", ".") if decimal_comma else text.strip()
    return bool(re.fullmatch(r"-?[0-9.]+(e[-+]?\d+)?", text, re.IGNORECASE))


def _preamble(lines: list[str]) -> dict[str, str]:
    """Key/value pairs of the lines above the column line (both header styles)."""
    values = {}
    for line in lines:
        line = re.sub(r"[^\x20-\x7e\t\u00b0\u00b5\u00c0-\u00fe]", "", line)
        if line.startswith("Today's Date"):
            parts = re.split(r"(Today's Date|Date of Test:|Filename:|Procedure:|Comment/Barcode:)", line)
            for key, value in zip(parts[1::2], parts[2::2]):
                values[key.rstrip(":")] = value.strip(" \t,")
            continue
        parts = [p.strip() for p in re.split(r"[\t,]", line, maxsplit=1)]
        if len(parts) == 2 and parts[0]:
            values[parts[0].rstrip(":")] = parts[1].strip()
    return values


def _canonical(table: pa.Table, columns: dict, preamble: dict, dropped: int,
               decimal_comma: bool, source_columns: list[str], canonical_only: bool = False) -> tuple[pa.Table, dict]:
    warnings, lacks = [], []
    if dropped:
        warnings.append(f"{dropped} malformed row(s) skipped (e.g. a truncated last row)")
    voltage = _float(table, columns["voltage"])
    current = _float(table, columns["current"])
    if columns["state"]:
        state = pc.utf8_trim_whitespace(table.column(columns["state"]))
        charging = pc.equal(state, "C").fill_null(False).to_numpy(zero_copy_only=False)
        discharging = pc.equal(state, "D").fill_null(False).to_numpy(zero_copy_only=False)
        resting = pc.equal(state, "R").fill_null(False).to_numpy(zero_copy_only=False)
        magnitude = np.abs(current)
        current = np.where(charging, magnitude, np.where(discharging, -magnitude, current))
    else:
        state = charging = discharging = resting = None
        lacks.append("state column")
        warnings.append("no state column: the current's sign is taken as written")
    step = _int(table, columns["step"])
    cycle = _int(table, columns["cycle"])
    if cycle is None:
        lacks.append("cycle column")
    clock_text, start_local, end_local, clock_format = _clock(table, columns["clock"], decimal_comma, warnings)
    test_time, seconds_per_unit = _test_time(table, columns["test_time"], start_local, end_local, warnings)
    test_time = _through_stalls(test_time, clock_text, clock_format, warnings)
    state_code = pc.dictionary_encode(state).combine_chunks().indices.to_numpy(zero_copy_only=False) if state is not None else None
    blocks = block_index(*(k for k in (step, cycle, state_code) if k is not None))

    def capacities():
        if not columns["capacity"]:
            return None, None
        return cumulative_by_direction(increments_of_resetting(_float(table, columns["capacity"]), blocks), current)

    modes, (charge, discharge) = run_alongside(
        lambda: _modes(current, voltage, blocks, charging, discharging, resting), capacities)
    canonical = {
        "test_time_second": test_time,
        "voltage_volt": voltage,
        "current_ampere": current,
        "step_id": step,
        "control_mode": control_mode_array(modes),
        "vendor_cycle_number": cycle,
        "temperature_celsius": _float(table, columns["temperature"]) if columns["temperature"] else None,
        "charging_capacity_ah": charge,
        "discharging_capacity_ah": discharge,
    }
    if not columns["capacity"]:
        lacks.append("capacity")
    if columns["temperature"] is None:
        lacks.append("temperature")
    kind = _measurement_kind(preamble, state)
    if kind != "cycling":
        warnings.append("procedure or states show impedance (FRA/EIS) measurements, not cycling")
    metadata = cycling_metadata(
        instrument=f"Maccor {preamble.get('Tester', '')}".strip(),
        source_columns=source_columns,
        start_time_local=start_local,
        measurement_kind=kind,
        warnings=warnings,
        lacks=lacks,
        procedure=preamble.get("Procedure"),
        header=preamble,
    )
    if canonical_only:  # a parse narrowed to the canonical sources: extras would be dropped anyway
        return reader_table(canonical), metadata
    return reader_table(canonical, _extras(table, columns, seconds_per_unit, clock_text, state)), metadata


def _extras(table: pa.Table, columns: dict, seconds_per_unit: float, clock_text, state) -> dict:
    """The file's other columns under unit-bearing names (from a parse of every column)."""
    used = {n for n in columns.values() if n} | {"StepTime", "Step Time (sec)"}
    extras = renamed_extras(table, used, _KNOWN_NAMES)
    extra_columns = {"record_index": table.column(columns["record"]),
                     "step_time_second": _step_time(table, seconds_per_unit)}
    if columns["capacity"]:
        extra_columns["step_capacity_ah"] = table.column(columns["capacity"]).cast(pa.float64())
    if columns["energy"]:
        extra_columns["step_energy_wh"] = table.column(columns["energy"]).cast(pa.float64())
    extra_columns.update(zip(extras.column_names, extras.columns))
    if clock_text is not None:
        extra_columns["clock_text_local"] = pc.utf8_trim_whitespace(clock_text)
    if state is not None:
        extra_columns["state"] = state
    return extra_columns


def _float(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)


def _int(table: pa.Table, name: str | None) -> np.ndarray | None:
    return None if name is None else table.column(name).cast(pa.int64()).to_numpy(zero_copy_only=False)


def _modes(current: np.ndarray, voltage: np.ndarray, blocks: np.ndarray, charging: np.ndarray | None,
           discharging: np.ndarray | None, resting: np.ndarray | None) -> np.ndarray:
    """REST for state R, CC/CV inferred per step for C and D rows, OTHER for any other state."""
    modes = infer_control_mode(current, voltage, blocks)
    if charging is not None:
        modes[resting] = REST
        modes[~(charging | discharging | resting)] = OTHER
    return modes


def _clock(table: pa.Table, name: str | None, decimal_comma: bool, warnings: list[str]):
    """The DPT Time column as written, its first and last clock times (naive, local) and its format.

    Only the ends are parsed here: per-row clock times are the start plus ``test_time_second``,
    and parsing half a million US-style dates would dominate the read time.
    """
    if name is None:
        return None, None, None, None
    text = table.column(name)  # trimmed per value where parsed (the whole column only as an extra)
    sample = (text[0].as_py() or "").strip()
    fmt = next((f for f in _CLOCK_FORMATS if _parses(sample, f)), None)
    if fmt is None:
        warnings.append(f"clock column {name!r} has an unknown layout ({sample!r}); start time unknown")
        return text, None, None, None
    if fmt.startswith("%m/%d") and decimal_comma and "%p" not in fmt:
        fmt = fmt.replace("%m/%d", "%d/%m")
        warnings.append("dates like 06/05/2021 are ambiguous: read day first because the file uses decimal commas")
    last = (text[len(text) - 1].as_py() or "").strip()
    return text, datetime.strptime(sample, fmt), datetime.strptime(last, fmt) if _parses(last, fmt) else None, fmt


def _through_stalls(test_time: np.ndarray, clock_text: pa.ChunkedArray | None, fmt: str | None,
                    warnings: list[str]) -> np.ndarray:
    """Test time carried on by the clock where it stands still while the clock runs.

    Raw Maccor files repeat the test time on impedance (FRA) rows although each row is seconds
    or minutes later. There each row gets the previous row's time plus the clock's step, and
    the rows after a stall are shifted by the time it lasted, so that test time follows the
    clock throughout. Only the stalled rows and the rows before them are parsed as dates.
    """
    if clock_text is None or fmt is None or test_time.size < 2:
        return test_time
    stalled = np.flatnonzero(np.diff(test_time) == 0) + 1
    if stalled.size == 0:
        return test_time
    wanted = np.union1d(stalled, stalled - 1)
    texts = clock_text.take(pa.array(wanted)).to_pylist()
    seconds = dict(zip(wanted.tolist(), (_clock_seconds(t, fmt) for t in texts), strict=True))
    gained = np.zeros_like(test_time)
    for row in stalled.tolist():
        if seconds[row] is not None and seconds[row - 1] is not None:
            gained[row] = max(seconds[row] - seconds[row - 1], 0.0)
    if not gained.any():
        return test_time
    moved = np.flatnonzero(gained)
    warnings.append(f"test time stands still on {moved.size} row(s) (rows {moved[0]}-{moved[-1]}) while the clock "
                    f"runs {gained.sum():.0f} s: test time there taken from the clock, later rows shifted by it")
    return test_time + np.cumsum(gained)


def _clock_seconds(text: str | None, fmt: str) -> float | None:
    try:
        return (datetime.strptime((text or "").strip(), fmt) - datetime(1970, 1, 1)).total_seconds()
    except ValueError:
        return None


def _parses(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
        return True
    except ValueError:
        return False


def _test_time(table: pa.Table, name: str, start: datetime | None, end: datetime | None,
               warnings: list[str]) -> tuple[np.ndarray, float]:
    """Test time in seconds and the seconds per unit of the file's number (duration text: 1).

    A plain number's unit is checked against the clock column: some exports write minutes.
    """
    column = table.column(name)
    if pa.types.is_string(column.type):
        return seconds_from_duration_text(column).to_numpy(zero_copy_only=False), 1.0
    values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if "sec" in name.lower() or start is None or end is None or len(values) < 2:
        return values, 1.0
    clock_span = (end - start).total_seconds()
    value_span = values[-1] - values[0]
    if value_span <= 0 or clock_span <= 0:
        return values, 1.0
    unit = min(_SECONDS_PER_UNIT, key=lambda u: abs(np.log(value_span * _SECONDS_PER_UNIT[u] / clock_span)))
    if unit != "second":
        warnings.append(f"{name!r} is in {unit}s (checked against the clock column); converted to seconds")
    return values * _SECONDS_PER_UNIT[unit], _SECONDS_PER_UNIT[unit]


def _step_time(table: pa.Table, seconds_per_unit: float) -> pa.Array | None:
    name = next((n for n in ("StepTime", "Step Time (sec)", "Step (Sec)") if n in table.column_names), None)
    if name is None:
        return None
    column = table.column(name)
    if pa.types.is_string(column.type):
        return seconds_from_duration_text(column)
    return pc.multiply(column.cast(pa.float64()), seconds_per_unit)


def _measurement_kind(preamble: dict, state: pa.ChunkedArray | None) -> str:
    procedure = preamble.get("Procedure", "") or ""
    if re.search(r"\b(EIS|FRA)\b", procedure) or (state is not None and pc.any(pc.equal(state, "FRA")).as_py()):
        return "impedance"
    return "cycling"
