"""BioLogic EC-Lab / BT-Lab binary raw file (``.mpr``, "BIO-LOGIC MODULAR FILE").

After a 52-byte magic the file is a run of modules, each ``MODULE`` + a header + payload:
``VMP Set`` (technique code in byte 0), ``VMP data`` (the points), optionally ``VMP LOG``
(acquisition start as an OLE date) and ``VMP loop``/``VMP ExtDev``. Two header layouts
exist: before EC-Lab 11.50 (length, version, date) and from 11.50 on (0xFFFFFFFF, length,
two versions, date). The points are one packed little-endian record per point, decoded here
in one ``np.frombuffer`` call with a structured dtype built from the column-ID list
(layout from ``cycling-and-xas.md`` §1.1).
"""

from __future__ import annotations

import struct
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from ..errors import UnreadableFile
from .eclab_columns import (
    MPR_CONFLICTS,
    MPR_DATA_COLUMNS,
    MPR_FLAG_COLUMNS,
    MPR_TECHNIQUE_IDS,
    MPR_TECHNIQUE_RENAMES,
    measurement_kind,
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
_LOG_DEVICE_SERIAL = 0x3CF  # Pascal string
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


def _read(path: Path, extras: bool) -> tuple[pa.Table, dict]:
    path = Path(path)
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise UnreadableFile(path, "not a BioLogic .mpr: the 'BIO-LOGIC MODULAR FILE' magic is missing")
    modules = _modules(path, data)
    if "VMP data" not in modules:
        raise UnreadableFile(path, "no 'VMP data' module: the file holds settings only")
    header_style, data_version, payload = modules["VMP data"]

    techniques = _techniques(modules)
    columns, column_ids, warnings = _decode_points(path, payload, header_style, data_version, techniques)
    try:
        table, mapping = reader_table(columns, extras=extras)
    except ValueError as exc:
        raise UnreadableFile(path, str(exc)) from exc
    metadata = {
        **_log_facts(modules, warnings),
        "techniques": techniques,
        "measurement_kind": measurement_kind(techniques, list(columns)),
        "source_columns": list(columns),
        "column_ids": column_ids,
        "data_module_version": data_version,
        "header_style": "EC-Lab >= 11.50" if header_style == "new" else "EC-Lab < 11.50",
        "modules": list(modules),
        "current_sign": "EC-Lab sign kept: positive = oxidation at the working electrode (charge)",
        **mapping,
        "warnings": warnings + mapping["warnings"],
    }
    return table, metadata


def _modules(path: Path, data: bytes) -> dict[str, tuple[str, int, memoryview]]:
    """Short name -> (header style, version, payload) for every module in the file."""
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
        modules[name] = (header_style, version, view[start:end])
        offset = end
    return modules


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
    """EC-Lab name -> array for every column, the raw column IDs, and warnings."""
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
    points = np.frombuffer(payload, record, count=n_points, offset=records_offset)

    columns = {}  # views into the file's bytes: reader_table makes the one typed copy of each
    for k, (name, _) in enumerate(fields):
        if name != "flags":
            columns[name] = points[f"f{k}"]
            continue
        flags = points[f"f{k}"]
        for column_id in ids:
            if column_id in MPR_FLAG_COLUMNS:
                mask, shift, flag_name = MPR_FLAG_COLUMNS[column_id]
                columns[flag_name] = (flags & mask) >> shift
    return columns, ids, warnings


def _guess_unknown_dtype(unknown_bytes: int, count: int) -> str | None:
    if unknown_bytes <= 0 or unknown_bytes % count:
        return None
    return _UNKNOWN_SIZES.get(unknown_bytes // count)


def _log_facts(modules: dict, warnings: list[str]) -> dict:
    facts = {"start_time_local": None, "software_version": None, "device_serial_number": None,
             "device": None, "instrument": None}
    if "VMP LOG" not in modules:
        warnings.append("no VMP LOG module: acquisition start (absolute time) unknown")
        return facts
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
    return facts


def _pascal(block: bytes, offset: int) -> str | None:
    if offset >= len(block):
        return None
    length = block[offset]
    text = block[offset + 1 : offset + 1 + length].decode("latin-1").strip()
    return text or None
