"""NeXus NXxas HDF5: one scan per NXentry whose ``definition`` is ``NXxas``.

Per entry: ``energy`` (eV), ``intensity`` (normalised mu when its long_name says so),
``instrument/i0/data`` and ``instrument/itrans/data`` (mu = ln(i0/itrans)),
``element/symbol``, ``edge/name``, ``scan/start_time``.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa

from ..ingest.errors import UnreadableFile
from .limits import MAX_TEXT_VALUES, check_hdf5
from .xas_columns import energy_order, reader_table

NAME = "xas_nxxas"
TECHNIQUE = "xas"

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _text(group: h5py.Group, name: str) -> str | None:
    if name not in group or not isinstance(group[name], h5py.Dataset) or group[name].size > MAX_TEXT_VALUES:
        return None
    value = group[name][()]
    return value.decode() if isinstance(value, bytes) else str(value)


def _xas_entries(h5: h5py.File) -> list[str]:
    return [name for name, group in h5.items()
            if isinstance(group, h5py.Group) and (_text(group, "definition") or "").strip() == "NXxas"]


def sniff(path: Path, head: bytes) -> bool:
    if not head.startswith(_HDF5_SIGNATURE):
        return False
    try:
        with h5py.File(path, "r") as h5:
            return bool(_xas_entries(h5))
    except OSError:
        return False


def _scan(path: Path, name: str, entry: h5py.Group, warnings: list[str]) -> tuple[dict, dict]:
    if "energy" not in entry:
        raise UnreadableFile(path, "NXxas entry has no energy dataset", location=name)
    energy = np.asarray(entry["energy"][()], dtype=float)
    order = energy_order(path, energy, warnings, scan=name)
    arrays = {"scan_name": name, "energy_ev": energy[order]}
    intensity = entry.get("intensity")
    normalised = intensity is not None and "normalized" in str(intensity.attrs.get("long_name", "")).lower()
    i0 = entry.get("instrument/i0/data")
    itrans = entry.get("instrument/itrans/data")
    if i0 is not None and itrans is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            arrays["mu"] = np.log(np.asarray(i0[()], float) / np.asarray(itrans[()], float))[order]
        arrays["i0"] = np.asarray(i0[()], float)[order]
        source = "transmission ln(i0/itrans)"
    elif intensity is not None and not normalised:
        arrays["mu"] = np.asarray(intensity[()], float)[order]
        source = "file dataset intensity"
    elif not normalised:
        raise UnreadableFile(path, "NXxas entry has neither intensity nor i0/itrans detectors", location=name)
    else:
        source = "normalised in file"
    if intensity is not None and normalised:
        arrays["norm_mu"] = np.asarray(intensity[()], float)[order]
    start = _text(entry, "scan/start_time")
    if start:
        warnings.append(f"{name}: scan/start_time {start!r} has no timezone: kept as local text, no UTC time")
    facts = {
        "scan_name": name, "start_utc_time": None, "start_local_time": start, "timezone": None,
        "duration_second": None, "element": _text(entry, "element/symbol"), "edge": _text(entry, "edge/name"),
        "mu_source": source, "sample_name": _text(entry, "sample/name"),
        "processing_notes": _text(entry, "process/notes/data"),
    }
    return arrays, facts


def read(path: Path) -> tuple[pa.Table, dict]:
    path = Path(path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise UnreadableFile(path, f"not a readable HDF5 file: {exc}") from exc
    with h5:
        check_hdf5(path, h5)
        names = _xas_entries(h5)
        if not names:
            raise UnreadableFile(path, "HDF5 file has no NXentry with definition NXxas")
        warnings: list[str] = []
        scans, facts = [], []
        for index, name in enumerate(names):
            arrays, scan_facts = _scan(path, name, h5[name], warnings)
            scans.append(arrays)
            facts.append({"scan_index": index, **scan_facts})
    return reader_table(scans), {"scans": facts, "warnings": warnings}
