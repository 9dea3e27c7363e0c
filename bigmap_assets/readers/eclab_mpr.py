"""BioLogic EC-Lab / BT-Lab binary raw file (``.mpr``, "BIO-LOGIC MODULAR FILE").

After a 52-byte magic the file is a run of modules, each ``MODULE`` + a header + payload:
``VMP Set`` (technique code in byte 0, device code at 0x46E), ``VMP data`` (the points),
optionally ``VMP LOG`` (acquisition start as an OLE date, device code and serial number) and
``VMP loop``/``VMP ExtDev``. Each module header carries the date it was written. Two header layouts
exist: before EC-Lab 11.50 (length, version, date) and from 11.50 on (0xFFFFFFFF, length,
two versions, date). The points are one packed little-endian record per point, decoded here
in one ``np.frombuffer`` call with a structured dtype built from the column-ID list
(layout from ``cycling-and-xas.md`` §1.1). ``iter_tables`` maps a large file instead and
decodes its records a chunk at a time (``streaming`` uses it).
"""

from __future__ import annotations

import mmap
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..ingest.errors import UnreadableFile
from .eclab_columns import (
    MPR_CONFLICTS,
    MPR_DATA_COLUMNS,
    MPR_FLAG_COLUMNS,
    MPR_TECHNIQUE_IDS,
    MPR_TECHNIQUE_RENAMES,
    measurement_kind,
    new_column,
    reader_table,
    split_unit,
)

NAME = "eclab_mpr"
TECHNIQUE = "cycling"

MAGIC = b"BIO-LOGIC MODULAR FILE\x1a"
_FILE_HEADER_BYTES = 52
# Module headers after "MODULE": short name (10 bytes), long name (25), then
# old style: length, version (u4 each), date (8); new style: 0xFFFFFFFF, length, old version, version, date.
_OLD_HEADER = struct.Struct("<10s25sII8s")
_NEW_HEADER = struct.Struct("<10s25sIIII8s")
# Where the records start in the data module, by header style and data-module version.
_RECORDS_OFFSET = {("old", 2): 0x195, ("old", 3): 0x196, ("new", 11): 0x3EF}
_LOG_OLE_START = 0x249  # f8 days since 1899-12-30, local wall-clock time
_LOG_SOFTWARE_VERSION = 0x3B7  # Pascal string
_LOG_DEVICE_CODE = 0x3CE  # u1, same code as the settings module's
_LOG_DEVICE_SERIAL = 0x3CF  # Pascal string
_SET_DEVICE_CODE = 0x46E  # u1, BioLogic device code (checked on 12 real files from EC-Lab 11.12 to 11.61, BT-Lab 1.79)
_MODULE_DATE_FORMATS = ("%m/%d/%y", "%m-%d-%y", "%m.%d.%y")  # month first, as EC-Lab writes them
# BioLogic device codes (EC-Lab Development Package, BL_Connect device constants), named as EC-Lab
# prints them in an .mpt header ("Device : VMP3 (SN 0858)"). 26 is "reserved" there; a BT-Lab
# file from a BCS-805 stores it (bcd.issue_241.mpr and its .mpt twin).
DEVICE_CODES = {
    0: "VMP", 1: "VMP2", 2: "MPG", 3: "BiStat", 4: "MCS-200", 5: "VMP3", 6: "VSP", 7: "HCP-803",
    8: "EPP-400", 9: "EPP-4000", 10: "BiStat2", 11: "FCT-150S", 12: "VMP-300", 13: "SP-50", 14: "SP-150",
    15: "FCT-50S", 16: "SP-300", 17: "CLB-500", 18: "HCP-1005", 19: "CLB-2000", 20: "VSP-300", 21: "SP-200",
    22: "MPG-2", 23: "SP-100", 24: "MOSLED", 26: "BCS-805", 27: "SP-240", 28: "MPG-205", 29: "MPG-210",
    30: "MPG-220", 31: "MPG-240", 32: "BP-300", 33: "VMP-3e", 34: "VSP-3e", 35: "SP-50e", 36: "SP-150e",
}
_OLE_EPOCH = datetime(1899, 12, 30)
_UNKNOWN_SIZES = {1: "<u1", 2: "<u2", 4: "<f4", 8: "<f8"}


def sniff(path: Path, head: bytes) -> bool:
    """The ``BIO-LOGIC MODULAR FILE`` magic."""
    return head.startswith(MAGIC)


def read(path: Path) -> tuple[pa.Table, dict]:
    """The file as ``READER_COLUMNS`` + extra columns, and what the modules say about it."""
    return _read(path, extras=True)


def read_canonical(path: Path) -> tuple[pa.Table, dict]:
    """Like ``read``, without the extra columns."""
    return _read(path, extras=False)


@dataclass(frozen=True)
class _Points:
    """The decoded layout of an ``.mpr``: its modules and its packed point records (a view, not a copy)."""

    modules: dict
    techniques: list[str]
    records: np.ndarray  # structured, one record per point; fields f0, f1, ...
    fields: tuple[tuple[str, str], ...]  # EC-Lab name and dtype per record field
    column_ids: list[int]
    warnings: list[str]


def _read(path: Path, extras: bool) -> tuple[pa.Table, dict]:
    path = Path(path)
    points = _points(path, _file_bytes(path))
    metadata = _file_metadata(points)
    return _converted(path, _columns(points.records, points.fields, points.column_ids), metadata, extras)


def iter_tables(path: str | Path, chunk_points: int, *, extras: bool = True) -> Iterator[tuple[pa.Table, dict]]:
    """The file as ``read`` gives it, ``chunk_points`` points at a time, in bounded memory.

    Each chunk after the first is led by the last point of the chunk before, so that per-point
    increments at the seam are right (the caller drops it and continues the capacities:
    ``streaming`` does). The file is mapped, not read, and the pages of the chunks done are
    handed back, so the resident memory does not grow with the file.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size < len(MAGIC):
            raise UnreadableFile(path, "not a BioLogic .mpr: the 'BIO-LOGIC MODULAR FILE' magic is missing")
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        yield from _chunks(path, mapped, max(chunk_points, 1), extras)
    finally:
        try:
            mapped.close()
        except BufferError:  # a traceback still holds a view into it: the map is closed with it
            pass


def _chunks(path: Path, mapped: mmap.mmap, chunk_points: int, extras: bool) -> Iterator[tuple[pa.Table, dict]]:
    points = _points(path, memoryview(mapped))
    metadata = _file_metadata(points)
    start_address = np.frombuffer(mapped, np.uint8, count=1).ctypes.data
    for start in range(0, len(points.records), chunk_points):
        records = points.records[max(start - 1, 0) : start + chunk_points]
        yield _converted(path, _columns(records, points.fields, points.column_ids), metadata, extras)
        done = (records.ctypes.data - start_address) // mmap.PAGESIZE * mmap.PAGESIZE
        if done:
            mapped.madvise(mmap.MADV_DONTNEED, 0, done)


def _points(path: Path, data: memoryview) -> _Points:
    if bytes(data[: len(MAGIC)]) != MAGIC:
        raise UnreadableFile(path, "not a BioLogic .mpr: the 'BIO-LOGIC MODULAR FILE' magic is missing")
    modules = _modules(path, data)
    if "VMP data" not in modules:
        raise UnreadableFile(path, "no 'VMP data' module: the file holds settings only")
    header_style, data_version, payload, _ = modules["VMP data"]
    techniques = _techniques(modules)
    records, fields, column_ids, warnings = _decode_points(path, payload, header_style, data_version, techniques)
    return _Points(modules, techniques, records, fields, column_ids, warnings)


def _file_metadata(points: _Points) -> dict:
    """What the modules say about the file (the column mapping is added per table)."""
    header_style, data_version = points.modules["VMP data"][:2]
    warnings = list(points.warnings)
    flags = [MPR_FLAG_COLUMNS[i][2] for i in points.column_ids if i in MPR_FLAG_COLUMNS]
    names = [column for name, _ in points.fields for column in (flags if name == "flags" else [name])]
    return {
        **_log_facts(points.modules, warnings),
        "techniques": points.techniques,
        "measurement_kind": measurement_kind(points.techniques, names),
        "source_columns": names,
        "column_ids": points.column_ids,
        "data_module_version": data_version,
        "header_style": "EC-Lab >= 11.50" if header_style == "new" else "EC-Lab < 11.50",
        "modules": list(points.modules),
        "current_sign": "EC-Lab sign kept: positive = oxidation at the working electrode (charge)",
        "warnings": warnings,
    }


def _converted(path: Path, columns: dict[str, np.ndarray], metadata: dict, extras: bool) -> tuple[pa.Table, dict]:
    try:
        table, mapping = reader_table(columns, extras=extras)
    except ValueError as exc:
        raise UnreadableFile(path, str(exc)) from exc
    return table, {**metadata, **mapping, "warnings": metadata["warnings"] + mapping["warnings"]}


def _file_bytes(path: Path) -> memoryview:
    """The whole file, read into memory from Arrow's pool.

    A large file read with ``read_bytes`` would land in fresh pages from the OS on every
    read (one page fault per 4 KiB); the pool hands back memory it already holds.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        buffer = new_column(size, np.uint8)
        got = fh.readinto(buffer)
    return memoryview(buffer[:got]).cast("B")


def _modules(path: Path, data: memoryview) -> dict[str, tuple[str, int, memoryview, bytes]]:
    """Short name -> (header style, version, payload, date written as text) for every module in the file."""
    modules = {}
    view = memoryview(data)
    offset = _FILE_HEADER_BYTES
    while offset < len(data):
        if data[offset : offset + 6] != b"MODULE":
            found = bytes(data[offset : offset + 6])
            raise UnreadableFile(path, f"expected a 'MODULE' marker at byte {offset}, found {found!r}")
        offset += 6
        header_style = "new" if data[offset + 35 : offset + 39] == b"\xff\xff\xff\xff" else "old"
        header = _NEW_HEADER if header_style == "new" else _OLD_HEADER
        if offset + header.size > len(data):
            raise UnreadableFile(path, f"file is truncated inside a module header at byte {offset}")
        fields = header.unpack_from(data, offset)
        name = fields[0].decode("ascii", "replace").strip(" \x00")
        length, version = (fields[3], fields[5]) if header_style == "new" else (fields[2], fields[3])
        start = offset + header.size
        end = start + length
        if end > len(data):
            raise UnreadableFile(
                path, f"file is truncated: module {name!r} declares {length} bytes, "
                f"only {len(data) - start} are present (copy the file again once the run has finished)")
        modules[name] = (header_style, version, view[start:end], fields[-1])
        offset = end
    return modules


def _module_date(text: bytes) -> date | None:
    """The date in a module header (``05/07/24``, ``01.10.18``: month first), None when unreadable."""
    text = text.decode("ascii", "replace").strip(" \x00")
    for fmt in _MODULE_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _techniques(modules: dict) -> list[str]:
    if "VMP Set" not in modules or len(modules["VMP Set"][2]) == 0:
        return []
    code = modules["VMP Set"][2][0]
    return [MPR_TECHNIQUE_IDS.get(code, f"technique 0x{code:02X}")]


@lru_cache(maxsize=256)
def _column_layout(ids: tuple[int, ...], techniques: tuple[str, ...]) -> tuple[tuple[tuple[str, str | None], ...], tuple[int, ...], int]:
    """(EC-Lab name, dtype or None when unknown) per stored field, the unknown IDs, and the known bytes per point.

    Flag IDs share one ``u8`` field named ``"flags"``, placed at the first flag ID.
    Cached: files of one protocol share their column IDs.
    """
    fields: list[tuple[str, str | None]] = []
    unknown = []
    for column_id in ids:
        if column_id in MPR_FLAG_COLUMNS:
            if ("flags", "<u1") not in fields:
                fields.append(("flags", "<u1"))
            continue
        known = MPR_DATA_COLUMNS.get(column_id) or MPR_DATA_COLUMNS.get(column_id % 256)
        conflict = MPR_CONFLICTS.get(column_id % 256)
        if conflict and conflict[0] & set(ids):
            known = conflict[1]
        if known is None:
            unknown.append(column_id)
            fields.append((f"col_{column_id}", None))
            continue
        dtype, name = known
        for technique in techniques:
            name = MPR_TECHNIQUE_RENAMES.get((technique, name), name)
        fields.append((_unique(name, [f[0] for f in fields]), dtype))
    known_size = sum(np.dtype(dtype).itemsize for _, dtype in fields if dtype)
    return tuple(fields), tuple(unknown), known_size


@lru_cache(maxsize=256)
def _record_dtype(fields: tuple[tuple[str, str], ...]) -> np.dtype:
    """The packed record of one point: field ``f<k>`` per stored field."""
    return np.dtype([(f"f{k}", dtype) for k, (_, dtype) in enumerate(fields)])


def _unique(name: str, taken: list[str]) -> str:
    if name not in taken:
        return name
    quantity, unit = split_unit(name)
    return f"{quantity} 2/{unit}" if unit else f"{name} 2"


def _decode_points(path: Path, payload: memoryview, header_style: str, version: int, techniques: list[str]):
    """The point records (a structured view into ``payload``), their fields, the raw column IDs, and warnings."""
    records_offset = _RECORDS_OFFSET.get((header_style, version))
    if records_offset is None:
        raise UnreadableFile(path, f"data module version {version} ({header_style} header) is not supported "
                                   "(known: 2, 3, 11)")
    n_points = int.from_bytes(payload[0:4], "little")
    if n_points == 0:
        raise UnreadableFile(path, "no data points yet (the run may just have started)")
    n_columns = payload[4]
    id_dtype = ">u2" if header_style == "new" else "<u2"
    ids = np.frombuffer(payload, id_dtype, count=n_columns, offset=5).tolist()
    fields, unknown, known_size = _column_layout(tuple(ids), tuple(techniques))

    records_bytes = len(payload) - records_offset
    warnings = []
    if records_bytes % n_points:
        raise UnreadableFile(path, f"data module holds {records_bytes} bytes, not a whole number of "
                                   f"{n_points} records (column IDs {ids})")
    record_size = records_bytes // n_points
    if unknown:
        unknown_dtype = _guess_unknown_dtype(record_size - known_size, len(unknown))
        if unknown_dtype is None:
            raise UnreadableFile(path, f"unknown column IDs {list(unknown)}: their {record_size - known_size} bytes per point "
                                       f"cannot be split between them (all IDs: {ids})")
        fields = tuple((name, dtype or unknown_dtype) for name, dtype in fields)
        warnings += [f"unknown column ID {i} kept as raw_col_{i}, decoded as {unknown_dtype}" for i in unknown]
    record = _record_dtype(fields)
    if record.itemsize != record_size:
        raise UnreadableFile(path, f"column IDs {ids} give {record.itemsize} bytes per point but the data module holds "
                                   f"{record_size} (a column of unexpected size)")
    return np.frombuffer(payload, record, count=n_points, offset=records_offset), fields, ids, warnings


def _columns(records: np.ndarray, fields: tuple[tuple[str, str], ...], ids: list[int]) -> dict[str, np.ndarray]:
    """EC-Lab name -> array for every column of ``records``: views into the file's bytes (reader_table makes
    the one typed copy of each), the flags decoded."""
    columns = {}
    for k, (name, _) in enumerate(fields):
        if name != "flags":
            columns[name] = records[f"f{k}"]
            continue
        flags = np.ascontiguousarray(records[f"f{k}"])  # one strided pass, then one contiguous pass per flag
        for column_id in ids:
            if column_id in MPR_FLAG_COLUMNS:
                mask, shift, flag_name = MPR_FLAG_COLUMNS[column_id]
                columns[flag_name] = (flags & mask) >> shift
    return columns


def _guess_unknown_dtype(unknown_bytes: int, count: int) -> str | None:
    if unknown_bytes <= 0 or unknown_bytes % count:
        return None
    return _UNKNOWN_SIZES.get(unknown_bytes // count)


def _log_facts(modules: dict, warnings: list[str]) -> dict:
    facts = {"start_time_local": None, "software_version": None, "device_serial_number": None,
             **_device(modules, warnings)}
    if "VMP LOG" not in modules:
        settings_date = _module_date(modules["VMP Set"][3]) if "VMP Set" in modules else None
        if settings_date is None:
            warnings.append("no VMP LOG module: acquisition start (absolute time) unknown")
        else:
            facts["start_date_local"] = settings_date.isoformat()
            warnings.append(f"no VMP LOG module: only the start date is known ({settings_date.isoformat()}, from the "
                            "settings module header), not the time of day: start_time_local left empty")
        return _with_serial(facts)
    log = bytes(modules["VMP LOG"][2])
    if len(log) >= _LOG_OLE_START + 8:
        (ole_days,) = struct.unpack_from("<d", log, _LOG_OLE_START)
        if 20000 < ole_days < 80000:  # 1954..2118: anything else is not a date
            start = _OLE_EPOCH + timedelta(seconds=round(ole_days * 86400.0, 3))  # EC-Lab keeps milliseconds
            facts["start_time_local"] = start.isoformat(timespec="milliseconds")
        else:
            warnings.append(f"VMP LOG start time {ole_days!r} is not a plausible OLE date: ignored")
    version = _pascal(log, _LOG_SOFTWARE_VERSION)
    if version:
        # BT-Lab (battery cyclers) is numbered 1.x-2.x, EC-Lab 9.x and up; the program name is not stored.
        program = "BT-Lab" if version.split(".")[0].isdigit() and int(version.split(".")[0]) < 9 else "EC-Lab"
        facts["software_version"] = f"{program} {version}"
    facts["device_serial_number"] = _pascal(log, _LOG_DEVICE_SERIAL)
    return _with_serial(facts)


def _device(modules: dict, warnings: list[str]) -> dict:
    """``instrument`` (the device model, e.g. ``VMP3``) from the settings module's device code,
    checked against the LOG module's copy."""
    codes = {name: block[offset] for name, offset in (("VMP Set", _SET_DEVICE_CODE), ("VMP LOG", _LOG_DEVICE_CODE))
             if name in modules and len(block := modules[name][2]) > offset}
    if not codes:
        return {"device": None, "instrument": None, "device_code": None}
    code = codes.get("VMP Set", codes.get("VMP LOG"))
    if len(set(codes.values())) > 1:
        warnings.append(f"device codes differ between the settings ({codes['VMP Set']}) and LOG ({codes['VMP LOG']}) "
                        "modules: the settings module's is used")
    name = DEVICE_CODES.get(code)
    if name is None:
        warnings.append(f"unknown BioLogic device code {code}: instrument left empty")
    return {"device": name, "instrument": name, "device_code": code}


def _with_serial(facts: dict) -> dict:
    """``device`` as an .mpt header prints it: model and serial number, ``VMP3 (SN 0858)``."""
    if facts["device"] and facts["device_serial_number"]:
        facts["device"] = f"{facts['device']} (SN {facts['device_serial_number']})"
    return facts


def _pascal(block: bytes, offset: int) -> str | None:
    if offset >= len(block):
        return None
    length = block[offset]
    text = block[offset + 1 : offset + 1 + length].decode("latin-1").strip()
    return text or None
