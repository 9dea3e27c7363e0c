"""BioLogic EC-Lab / BT-Lab text export (``.mpt``).

Layout: ``EC-Lab ASCII FILE``, ``Nb header lines : N`` (N counts every header line up to and
including the tab-separated column-name line), a settings block, then tab-separated data.
Also read: exports without settings (N = 3), files with no header at all (the first line
is the column line), Latin-1 or UTF-8 text, decimal commas, CRLF, a trailing tab on the
column line. Data are parsed by ``pyarrow.csv`` in one pass.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..ingest.errors import UnreadableFile
from .cycler_common import bad_rows_warning, parse_dropping_bad_rows, with_line_feeds
from .eclab_columns import CANONICAL_SOURCES, TECHNIQUE_NAMES, canonical_name, measurement_kind, reader_table

NAME = "eclab_mpt"
TECHNIQUE = "cycling"

_TITLES = (b"ec-lab ascii file", b"bt-lab ascii file")
_COLUMN_LINE_MARKERS = (b"Ewe/V", b"Ecell/V", b"<Ewe>/V", b"<Ewe/V>", b"I/mA", b"<I>/mA", b"freq/Hz")
_START_FORMATS = ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%m.%d.%Y %H:%M:%S", "%m-%d-%Y %H:%M:%S")
_NON_BLANK = re.compile(rb"\S")
_SOFTWARE = re.compile(r"\s*(EC-Lab|BT-Lab) for windows v(\S+)", re.IGNORECASE)  # matched at a line's start


def sniff(path: Path, head: bytes) -> bool:
    """An EC-Lab/BT-Lab title line, or a tab-separated EC-Lab column line with ``time/s``."""
    first_line = head.split(b"\n", 1)[0].strip()
    if first_line.lower() in _TITLES:
        return True
    return b"\t" in first_line and b"time/s" in first_line and any(m in first_line for m in _COLUMN_LINE_MARKERS)


def read(path: Path) -> tuple[pa.Table, dict]:
    """The file as ``READER_COLUMNS`` + extra columns, and its header metadata."""
    return _read(path, canonical_only=False)


def read_canonical(path: Path) -> tuple[pa.Table, dict]:
    """Like ``read``, parsing only the columns behind ``READER_COLUMNS``."""
    return _read(path, canonical_only=True)


def _read(path: Path, canonical_only: bool) -> tuple[pa.Table, dict]:
    path = Path(path)
    data = with_line_feeds(path.read_bytes())
    header_lines, data_offset = _split_header(path, data)
    text_lines = [_decode(line).rstrip("\r") for line in header_lines]
    source_columns = [canonical_name(name) for name in _column_names(text_lines[-1])]
    if "time/s" not in source_columns:
        raise UnreadableFile(path, "the column line has no time/s column", location=f"line {len(header_lines)}")

    wanted = [n for n in source_columns if n in CANONICAL_SOURCES] if canonical_only else source_columns
    columns, warnings, decimal_separator = _parse_data(path, data, data_offset, source_columns, wanted)
    facts = _header_facts(text_lines)
    if columns["time/s"].dtype.kind == "M":
        facts["start_time_local"] = facts["start_time_local"] or np.datetime_as_string(columns["time/s"][0], unit="ms")
        columns["time/s"] = _seconds_since(columns["time/s"], facts["start_time_local"])
        warnings.append("time/s was exported as dates: converted to seconds since the acquisition start")
    try:
        table, mapping = reader_table(columns, extras=not canonical_only)
    except ValueError as exc:
        raise UnreadableFile(path, str(exc)) from exc
    techniques = _techniques(text_lines)
    metadata = {
        **facts,
        "techniques": techniques,
        "measurement_kind": measurement_kind(techniques, source_columns),
        "header_lines": len(header_lines),
        "decimal_separator": decimal_separator,
        "source_columns": source_columns,
        "current_sign": "EC-Lab sign kept: positive = oxidation at the working electrode (charge)",
        **mapping,
        "warnings": warnings + mapping["warnings"],
    }
    if metadata["start_time_local"] is None:
        metadata["warnings"].append("no 'Acquisition started on' line: absolute time unknown")
    return table, metadata


def _split_header(path: Path, data: bytes) -> tuple[list[bytes], int]:
    """The header lines (the column line last) and the byte offset where data begin."""
    first_end = data.find(b"\n")
    first_line = data[: first_end if first_end >= 0 else len(data)].strip()
    if first_line.lower() not in _TITLES:
        if sniff(path, first_line):
            return [first_line], first_end + 1 if first_end >= 0 else len(data)
        raise UnreadableFile(path, "not an EC-Lab text export: no 'EC-Lab ASCII FILE' title and no column line")
    second_end = data.find(b"\n", first_end + 1)
    match = re.match(rb"\s*Nb header lines\s*:\s*(\d+)", data[first_end + 1 : second_end])
    if not match:
        raise UnreadableFile(path, "line 2 is not 'Nb header lines : N'", location="line 2")
    count = int(match.group(1))
    lines, offset = [], 0
    for number in range(1, count + 1):
        end = data.find(b"\n", offset)
        if end < 0 and number < count:
            raise UnreadableFile(path, f"file ends inside its {count}-line header")
        end = len(data) if end < 0 else end
        lines.append(data[offset:end])
        offset = end + 1
    return lines, offset


def _decode(line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("latin-1")


def _column_names(line: str) -> list[str]:
    names = line.split("\t")
    while names and not names[-1].strip():
        names.pop()
    return names


def _parse_data(path: Path, data: bytes, offset: int, names: list[str],
                wanted: list[str]) -> tuple[dict[str, np.ndarray], list[str], str]:
    """``wanted`` (of the columns ``names``) parsed as arrays, warnings, and the decimal separator."""
    if not _NON_BLANK.search(data, offset):
        raise UnreadableFile(path, "no data rows after the header yet (the run may just have started)")
    row_end = data.find(b"\n", offset)
    first_row = data[offset : row_end if row_end >= 0 else len(data)]
    first_fields = first_row.rstrip(b"\r").split(b"\t")
    time_index = names.index("time/s")
    time_as_date = time_index < len(first_fields) and b"/" in first_fields[time_index]
    decimal_comma = b"," in first_row
    field_count = len(first_fields) if first_row.strip() else len(names)
    padded = names + [f"__extra_{i}" for i in range(max(0, field_count - len(names)))]
    skipped: list[int] = []

    def skip_row(row) -> str:
        skipped.append(row.number)
        return "skip"

    # a byte >= 0x80 in a row (a damaged file) is not UTF-8: pyarrow could not hand that row to skip_row
    encoding = "latin-1" if np.frombuffer(data, np.uint8, offset=offset).max(initial=0) >= 0x80 else "utf8"
    read_options, convert_options = _csv_options(tuple(padded), tuple(wanted), decimal_comma, time_as_date, encoding)
    parse_options = pacsv.ParseOptions(delimiter="\t", quote_char=False, invalid_row_handler=skip_row)
    try:
        table, bad_rows = parse_dropping_bad_rows(
            path, pa.py_buffer(data)[offset:],
            lambda rows: pacsv.read_csv(pa.BufferReader(rows), read_options=read_options, parse_options=parse_options,
                                        convert_options=convert_options),
            padded, first_line=data.count(b"\n", 0, offset) + 1)
    except pa.ArrowInvalid as exc:
        raise UnreadableFile(path, f"data rows do not parse as EC-Lab numbers: {exc}") from exc
    warnings = [bad_rows_warning(bad_rows)] if bad_rows else []
    if skipped:
        warnings.append(f"{len(skipped)} malformed data row(s) skipped (e.g. a truncated last line)")
    if time_as_date:
        table = table.set_column(table.column_names.index("time/s"), "time/s", _parse_dates(table.column("time/s")))
    columns = {name: table.column(name).to_numpy() for name in wanted}
    return columns, warnings, "," if decimal_comma else "."


@lru_cache(maxsize=64)
def _csv_options(padded: tuple[str, ...], names: tuple[str, ...], decimal_comma: bool, time_as_date: bool,
                 encoding: str = "utf8"):
    """``pyarrow.csv`` read and convert options for one column layout (cached: exports of a protocol share it)."""
    # one thread: the invalid-row handler is Python, and pyarrow's threaded parser calling it has been
    # seen to abort the process ("terminate called without an active exception")
    read_options = pacsv.ReadOptions(column_names=list(padded), block_size=1 << 24, use_threads=False, encoding=encoding)
    convert_options = pacsv.ConvertOptions(
        decimal_point="," if decimal_comma else ".",
        column_types={n: pa.string() if time_as_date and n == "time/s" else pa.float64() for n in names},
        include_columns=list(names),
    )
    return read_options, convert_options


def _parse_dates(text: pa.ChunkedArray) -> pa.ChunkedArray:
    """EC-Lab dates ``MM/DD/YYYY HH:MM:SS.fff`` -> naive ``timestamp[us]`` (vectorised)."""
    iso = pc.replace_substring_regex(text, r"^(\d\d)/(\d\d)/(\d{4}) ", r"\3-\1-\2 ")
    return pc.cast(iso, pa.timestamp("us"))


def _seconds_since(times: np.ndarray, start_local: str) -> np.ndarray:
    """Seconds from ``start_local`` (ISO string) to each ``datetime64`` in ``times``."""
    return (times - np.datetime64(start_local, "us")) / np.timedelta64(1, "s")


def _header_facts(lines: list[str]) -> dict:
    facts = {"start_time_local": None, "device": None, "instrument": None, "software_version": None}
    for line in lines:
        key, _, value = line.partition(" : ")
        key = key.strip()
        if key == "Acquisition started on" and facts["start_time_local"] is None:
            facts["start_time_local"] = _parse_start(value.strip())
        elif key == "Device":
            facts["device"] = value.strip()
            facts["instrument"] = facts["device"].split(" (SN")[0].strip()
        elif facts["software_version"] is None and (match := _SOFTWARE.match(line)):
            program = "BT-Lab" if match.group(1).lower().startswith("bt") else "EC-Lab"
            facts["software_version"] = f"{program} {match.group(2)}"
    return facts


def _parse_start(value: str) -> str | None:
    for fmt in _START_FORMATS:
        try:
            return datetime.strptime(value, fmt).isoformat(timespec="milliseconds")
        except ValueError:
            continue
    return None


def _techniques(lines: list[str]) -> list[str]:
    found = []
    for line in lines:
        short = TECHNIQUE_NAMES.get(line.strip())
        if short and short not in found:
            found.append(short)
    return found
