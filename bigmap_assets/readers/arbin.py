"""Arbin files: ``.res`` (MS Access database, MITS Pro), CSV exports and Excel exports.

Column names differ between software generations (``Test_Time`` / ``Test_Time(s)`` /
``Test Time (s)``), so columns are matched on their words with the unit read from the
brackets (no brackets: SI units, as MITS writes them). Arbin's charge and discharge
capacities are cumulative within a cycle; they are rebuilt here into counters since the
file start. Arbin records no control mode; it is inferred per step from current and voltage.

``.res`` files are read with ``mdb-export`` from the Debian package ``mdbtools``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..ingest.errors import UnreadableFile
from .limits import check_zip
from .cycler_common import (
    control_mode_array,
    CC_CURRENT_SPREAD,
    cycling_metadata,
    decode_text,
    increments_of_resetting,
    infer_control_mode,
    parse_local_time,
    TextLayout,
    encoding_of,
    line_offset,
    read_delimited,
    read_text_export,
    simple_layout,
    reader_table,
    run_alongside,
    renamed_extras,
)

NAME = "arbin"
TECHNIQUE = "cycling"

ACCESS_MAGICS = (b"Standard Jet DB", b"Standard ACE DB")
OLE_EPOCH = datetime(1899, 12, 30)
SIDECAR_KEYS = {"testid", "ivchid", "firststartdatetime", "schedulefilename"}
US_DATE_FORMATS = ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S.%f",
                   "%Y-%m-%d %H:%M:%S")

# canonical column <- Arbin column key (words only, lower case, no separators)
_KEYS = {
    "test_time_second": ("testtime",),
    "voltage_volt": ("voltage",),
    "current_ampere": ("current",),
    "step_id": ("stepindex",),
    "vendor_cycle_number": ("cycleindex",),
    "charge_capacity": ("chargecapacity",),
    "discharge_capacity": ("dischargecapacity",),
    "temperature_celsius": ("auxtemperature1", "temperature"),
    "date_time": ("datetime",),
}
# SI units of the unit-less column names of .res tables and MITS 7 CSVs
_IMPLIED_UNITS = {"steptime": "s", "chargeenergy": "Wh", "dischargeenergy": "Wh", "dvdt": "V/s",
                  "internalresistance": "Ohm", "acimpedance": "Ohm", "aciphaseangle": "deg", "power": "W"}
_SCALE = {"": 1.0, "s": 1.0, "v": 1.0, "a": 1.0, "ah": 1.0, "c": 1.0, "ma": 1e-3, "mv": 1e-3, "mah": 1e-3,
          "ms": 1e-3, "h": 3600.0, "min": 60.0, "ua": 1e-6, "uah": 1e-6}


def sniff(path: Path, head: bytes) -> bool:
    if any(magic in head[:32] for magic in ACCESS_MAGICS):
        return True
    if head.startswith(b"PK\x03\x04"):
        return _is_arbin_workbook(path)
    first_line = decode_text(head[:4096]).split("\n", 1)[0]
    keys = {_key(name)[0] for name in re.split(r"[,\t;]", first_line)}
    return {"datapoint", "testtime", "voltage", "current"} <= keys or SIDECAR_KEYS <= keys


def read(path: Path) -> tuple[pa.Table, dict]:
    return _read(path, canonical_only=False)


def read_canonical(path: Path) -> tuple[pa.Table, dict]:
    """Like ``read``; a CSV export parses only the columns behind ``READER_COLUMNS``."""
    return _read(path, canonical_only=True)


def _read(path: Path, canonical_only: bool) -> tuple[pa.Table, dict]:
    with open(path, "rb") as stream:
        head = stream.read(65536)
    if any(magic in head[:32] for magic in ACCESS_MAGICS):
        return _canonical(path, *_read_res(path), kind="res")
    if head.startswith(b"PK\x03\x04"):
        return _canonical(path, *_read_workbook(path), kind="xlsx")
    return read_text_export(path, layout, convert, canonical_sources if canonical_only else None)


def _key(vendor_name: str) -> tuple[str, str]:
    """(words, unit) of an Arbin column name: ``"Test Time (s)"`` -> ``("testtime", "s")``."""
    name = vendor_name.strip().lstrip("\ufeff")
    match = re.match(r"^(.*?)\s*\(([^)]*)\)\s*$", name)
    words, unit = (match.group(1), match.group(2)) if match else (name, "")
    return re.sub(r"[^0-9a-z]", "", words.lower()), unit.strip().lower()


def _find(source: pa.Table, canonical: str) -> str | None:
    for key in _KEYS[canonical]:
        for name in source.column_names:
            if _key(name)[0] == key:
                return name
    return None


def _scaled(path: Path, source: pa.Table, name: str) -> np.ndarray:
    unit = _key(name)[1]
    if unit not in _SCALE:
        raise UnreadableFile(path, f"column {name!r} has a unit this reader does not know ({unit!r})")
    values = source.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
    return values if _SCALE[unit] == 1.0 else values * _SCALE[unit]


def _canonical(path: Path, source: pa.Table, extra: dict, kind: str, source_columns: list[str] | None = None,
               first_date: str | None = None) -> tuple[pa.Table, dict]:
    names = {canonical: _find(source, canonical) for canonical in _KEYS}
    missing = [c for c in ("test_time_second", "voltage_volt", "current_ampere") if names[c] is None]
    if missing:
        raise UnreadableFile(path, f"Arbin table lacks the columns for {', '.join(missing)} (has: {', '.join(source.column_names)})")
    values = {c: _scaled(path, source, n) for c, n in names.items() if n and c not in ("date_time",)}
    warnings, lacks = list(extra.pop("warnings", [])), []
    cycle = values.get("vendor_cycle_number")
    step = values.get("step_id")
    if cycle is None or np.isnan(cycle).all():
        lacks.append("cycle column")
        cycle = None
    if step is None or np.isnan(step).all():
        lacks.append("step column")
        step = None
    canonical = {
        "test_time_second": values["test_time_second"],
        "voltage_volt": values["voltage_volt"],
        "current_ampere": values["current_ampere"],
        "step_id": None if step is None else _as_parsed(source, names["step_id"], step),
        "vendor_cycle_number": None if cycle is None else _as_parsed(source, names["vendor_cycle_number"], cycle),
        "temperature_celsius": values.get("temperature_celsius"),
    }
    vendor_counters = {}  # Arbin's own counters, cumulative within a cycle
    for vendor, target in (("charge_capacity", "charging_capacity_ah"), ("discharge_capacity", "discharging_capacity_ah")):
        if values.get(vendor) is None:
            lacks.append(vendor.replace("_", " "))
        else:
            vendor_counters[f"cycle_{target}"] = values[vendor]

    def counters_since_start():
        return {name.removeprefix("cycle_"): np.cumsum(increments_of_resetting(column, cycle))
                for name, column in vendor_counters.items()}

    modes, counters = run_alongside(
        lambda: _control_modes(values["current_ampere"], values["voltage_volt"], step, warnings), counters_since_start)
    canonical.update(counters, control_mode=control_mode_array(modes))
    if "temperature_celsius" not in values:
        lacks.append("temperature")

    time_extras, start_local, zone = _times(path, source, names["date_time"], kind, warnings, first_date)
    used = {n for n in names.values() if n}
    extras = renamed_extras(_with_implied_units(source), used | {_unit_named(n) for n in used})
    table = reader_table(canonical, {**time_extras, **vendor_counters, **dict(zip(extras.column_names, extras.columns))})
    metadata = cycling_metadata(
        instrument=f"Arbin ({kind})", source_columns=source_columns or source.column_names, start_time_local=start_local,
        timezone=zone, warnings=warnings, lacks=lacks, **extra,
    )
    return table, metadata


def _as_parsed(source: pa.Table, name: str, values: np.ndarray) -> pa.ChunkedArray | np.ndarray:
    """An index column as parsed when it is integer already (no float round trip), else ``values``."""
    column = source.column(name)
    return column if pa.types.is_integer(column.type) else values


def _unit_named(name: str) -> str:
    words, unit = _key(name)
    implied = _IMPLIED_UNITS.get(words)
    return f"{name} ({implied})" if implied and not unit else name


def _with_implied_units(source: pa.Table) -> pa.Table:
    """Unit-less Arbin column names get their SI unit in brackets (``Step_Time`` -> ``Step_Time (s)``)."""
    return source.rename_columns([_unit_named(name) for name in source.column_names])


def _control_modes(current: np.ndarray, voltage: np.ndarray, step: np.ndarray | None, warnings: list[str]) -> np.ndarray:
    """CC/CV/REST/OTHER inferred per step; without a step column, per run of steady current."""
    warnings.append("Arbin records no control mode: CC/CV/REST inferred per step from current and voltage")
    if step is None:
        warnings.append("no step column: steps taken as runs where the current changes by less than "
                        f"{CC_CURRENT_SPREAD:.0%} from row to row")
        magnitude = np.abs(np.nan_to_num(current))
        jump = np.abs(np.diff(np.nan_to_num(current), prepend=0.0)) > CC_CURRENT_SPREAD * np.maximum(
            magnitude, np.roll(magnitude, 1))
        step = np.cumsum(jump)
    return infer_control_mode(current, voltage, step)


def _times(path: Path, source: pa.Table, name: str | None, kind: str, warnings: list[str],
           first_date: str | None = None):
    """Per-row clock columns, the start time and the timezone, from Arbin's date column; when a
    canonical-only parse skipped that column, the start comes from the file's ``first_date`` text."""
    if name is None:
        return {}, *(_start(path, first_date, warnings) if first_date else (None, None))
    column = source.column(name)
    if kind == "res":  # OLE automation date: days since 1899-12-30, local clock
        days = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        microseconds = np.round(days * 86400e6).astype("int64")
        local = pa.array(np.datetime64(OLE_EPOCH, "us") + microseconds.astype("timedelta64[us]"))
        return {"date_time_local": local}, OLE_EPOCH + timedelta(days=float(days[0])), None
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):  # Unix epoch (MITS 7 CSV)
        unix = column.cast(pa.float64())
        return {"unix_time_second": unix}, *_start(path, unix[0].as_py(), warnings)
    if pa.types.is_timestamp(column.type):
        local = column.cast(pa.timestamp("us"))
        return {"date_time_local": local}, local[0].as_py(), None
    # only the start is parsed: per-row clock times are the start plus test_time_second
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    return {"clock_text_local": text}, *_start(path, text[0].as_py(), warnings)


def _start(path: Path, first: str | float, warnings: list[str]) -> tuple[datetime, str | None]:
    """The start time (naive) and its timezone from the first row's date: Unix seconds (MITS 7,
    so UTC) or US-style local clock text (zone unknown)."""
    if isinstance(first, str) and _is_number_text(first):
        first = float(first)
    if isinstance(first, float):
        warnings.append("Date column is Unix time, so rows are absolute (UTC); the local clock zone is unknown")
        return datetime.fromtimestamp(first, tz=timezone.utc).replace(tzinfo=None), "UTC"
    start = parse_local_time(first or "", US_DATE_FORMATS)
    if start is None:
        raise UnreadableFile(path, f"the date column has an unknown layout: {first!r}")
    return start, None


def canonical_sources(text_layout: TextLayout) -> set[str]:
    """The Arbin CSV columns behind ``READER_COLUMNS``, matched on their words (not the date
    column: the start time comes from the first data row, see ``layout``)."""
    keys = {key for canonical, candidates in _KEYS.items() if canonical != "date_time" for key in candidates}
    return {name for name in text_layout.column_names if _key(name)[0] in keys}


def layout(path: Path, head: bytes) -> TextLayout:
    """Columns and dialect of an Arbin CSV export, from its first 64 KiB."""
    bom = b"\xef\xbb\xbf"
    start = len(bom) if head.startswith(bom) else 0
    first_line = decode_text(head[start: head.find(b"\n")]).rstrip("\r")
    if SIDECAR_KEYS <= {_key(name)[0] for name in first_line.split(",")}:
        raise UnreadableFile(path, "this is an Arbin test-metadata sidecar (schedule, start time), not data; "
                                   "it is read together with its data file <name>.csv")
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    names = [name.strip() for name in first_line.split(delimiter)]
    dates = tuple(n for n in names if _key(n)[0] == "datetime")
    first_row = decode_text(head[line_offset(head, 1):]).split("\n", 1)[0].split(delimiter)
    first_date = first_row[names.index(dates[0])].strip() if dates and len(first_row) == len(names) else None
    return TextLayout(offset=line_offset(head, 1), column_names=names, delimiter=delimiter, text_columns=dates,
                      encoding=encoding_of(head), header={"sidecar": _sidecar(path), "first_date": first_date})


def convert(path: Path, table: pa.Table, text_layout: TextLayout, dropped: int) -> tuple[pa.Table, dict]:
    """The reader table and metadata from parsed Arbin CSV rows (date column: text or Unix time)."""
    for name in text_layout.text_columns:  # dates as text, or as Unix time (MITS 7)
        if name in table.column_names and _numeric(table.column(name)):
            unix = pc.cast(pc.utf8_trim_whitespace(table.column(name)), pa.float64())
            table = table.set_column(table.column_names.index(name), name, unix)
    extra = {"warnings": [f"{dropped} malformed row(s) skipped"] if dropped else [], **text_layout.header["sidecar"]}
    return _canonical(path, table, extra, kind="csv", source_columns=text_layout.column_names,
                      first_date=text_layout.header["first_date"])


def _sidecar(path: Path) -> dict:
    """Fields of the ``<stem>_Metadata.csv`` that Arbin/MITS writes beside a data CSV, if present."""
    sidecar = Path(path).with_name(f"{Path(path).stem}_Metadata.csv")
    if not sidecar.is_file():
        return {}
    data = sidecar.read_bytes()
    table = read_delimited(sidecar, data, simple_layout(data))[0]
    if table.num_rows == 0:
        return {}
    row = {name: table.column(name)[0].as_py() for name in table.column_names}
    return {"schedule_file": row.get("Schedule_File_Name"), "channel": row.get("IV_Ch_ID"),
            "test_id": row.get("Test_ID"), "first_start_unix_second": row.get("First_Start_DateTime")}


def _numeric(text: pa.ChunkedArray) -> bool:
    return _is_number_text((text[0].as_py() or "") if len(text) else "")


def _is_number_text(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9.]+", text.strip()))


def _is_arbin_workbook(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            workbook = archive.read("xl/workbook.xml")
    except (zipfile.BadZipFile, KeyError, OSError):
        return False
    return b'name="Channel_' in workbook and (b'name="Global_Info"' in workbook or b'name="Info"' in workbook)


def _read_workbook(path: Path) -> tuple[pa.Table, dict]:
    from python_calamine import CalamineWorkbook

    check_zip(path)
    workbook = CalamineWorkbook.from_path(str(path))
    sheets = [name for name in workbook.sheet_names if re.fullmatch(r"Channel_\d+_\d+", name)]
    if not sheets:
        raise UnreadableFile(path, "Arbin workbook has no Channel_<n>_<k> data sheet")
    parts = [_sheet_table(workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)) for name in sheets]
    table = pa.concat_tables(parts, promote_options="permissive")
    return table, {"sheets": sheets}


def _sheet_table(rows: list[list]) -> pa.Table:
    header, body = rows[0], rows[1:]
    columns = {}
    for index, name in enumerate(header):
        if not name:
            continue
        values = [row[index] if index < len(row) and row[index] != "" else None for row in body]
        columns[str(name)] = pa.array(values, from_pandas=True)
    return pa.table(columns)


def _read_res(path: Path) -> tuple[pa.Table, dict]:
    tool = shutil.which("mdb-export")
    if tool is None:
        raise UnreadableFile(path, "Arbin .res files need mdb-export from the Debian/Ubuntu package mdbtools "
                                   "(apt-get install mdbtools); it is not installed")
    normal = _export_table(path, tool, "Channel_Normal_Table")
    if normal.num_rows == 0:
        raise UnreadableFile(path, "Channel_Normal_Table holds no data point (a truncated .res file, "
                                   f"{path.stat().st_size} bytes, or a test that recorded nothing)")
    global_table = _export_table(path, tool, "Global_Table")
    extra = {"warnings": []}
    if global_table.num_rows:
        row = {k: v[0] for k, v in global_table.to_pydict().items()}
        extra.update({k: row.get(v) for k, v in (("test_name", "Test_Name"), ("schedule_file", "Schedule_File_Name"),
                                                  ("channel", "Channel_Number"), ("creator", "Creator"))})
    aux = _export_table(path, tool, "Auxiliary_Table")
    normal = _with_aux_temperature(normal, aux)  # mdb-export returns rows in storage order, not time order
    return normal.sort_by([("Test_ID", "ascending"), ("Data_Point", "ascending")]), extra


def _export_table(path: Path, tool: str, table: str) -> pa.Table:
    result = subprocess.run([tool, str(path), table], capture_output=True, timeout=600)
    if result.returncode != 0:
        reason = " ".join(result.stderr.decode("utf-8", "replace").split()) or f"exit code {result.returncode}"
        raise UnreadableFile(path, f"mdb-export could not export {table} ({reason}); is this an Arbin .res file?")
    complaint = " ".join(result.stderr.decode("utf-8", "replace").split())
    if "error" in complaint.lower() or "beyond eof" in complaint.lower():  # pages missing: rows lost or blank
        raise UnreadableFile(path, f"{table} cannot be read whole (mdb-export: {complaint}): a truncated or damaged "
                                   f".res file ({path.stat().st_size} bytes)")
    if not result.stdout.strip():
        return pa.table({})
    return read_delimited(path, result.stdout, simple_layout(result.stdout), allow_empty=True)[0]


def _with_aux_temperature(normal: pa.Table, aux: pa.Table) -> pa.Table:
    """Join the first auxiliary temperature channel (Data_Type 1) onto the data points."""
    if aux.num_rows == 0 or "Data_Type" not in aux.column_names:
        return normal
    temperature = aux.filter(pc.and_(pc.equal(aux.column("Data_Type"), 1), pc.equal(aux.column("Auxiliary_Index"), 0)))
    if temperature.num_rows == 0:
        return normal
    temperature = temperature.select(["Test_ID", "Data_Point", "X"]).rename_columns(["Test_ID", "Data_Point", "Aux_Temperature_1 (C)"])
    return normal.join(temperature, ["Test_ID", "Data_Point"], join_type="left outer")
