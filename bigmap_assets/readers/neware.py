"""Neware BTS binary files: ``.nda`` (BTS 7) and ``.ndax`` (BTS 8 zip archive, with aux channels).

Decoding is done by ``fastnda`` (BSD-3-Clause, Empa's maintained, numpy-vectorised fork of
NewareNDA, also used by cellpy and the Battery Data Format). This module maps its output onto
the reader contract: A, V, s, Ah, current positive = charge, Neware's per-step capacity rebuilt
into cumulative charge/discharge counters, and the vendor's own cycle counter (``raw``).
"""

from __future__ import annotations

import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import UnreadableFile, failure_reason, must_propagate
from .limits import check_zip
from .cycler_common import (
    CC,
    CCCV,
    CV,
    OTHER,
    REST,
    control_mode_array,
    cumulative_by_direction,
    cycling_metadata,
    increments_of_resetting,
    parse_local_time,
    reader_table,
    run_alongside,
    split_cccv,
)

NAME = "neware"
TECHNIQUE = "cycling"

NDA_MAGIC = b"NEWARE"
NDAX_MEMBERS = {"data.ndc", "TestInfo.xml"}

_MODE_BY_STEP_PREFIX = (("CCCV_", CCCV), ("CC_", CC), ("CV_", CV), ("Rest", REST), ("OCV", REST), ("Pause", REST))
_AUX_NAME = re.compile(r"^aux(?P<channel>\d+)_(?P<quantity>.+?)(?:_(?P<unit>V|degC))?$")


def sniff(path: Path, head: bytes) -> bool:
    if head.startswith(NDA_MAGIC):
        return True
    if not head.startswith(b"PK\x03\x04"):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return NDAX_MEMBERS <= set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read(path: Path) -> tuple[pa.Table, dict]:
    return _read(path, extras=True)


def read_canonical(path: Path) -> tuple[pa.Table, dict]:
    """Like ``read``, without the extra columns (record index, step time, aux channels...)."""
    return _read(path, extras=False)


def _read(path: Path, extras: bool) -> tuple[pa.Table, dict]:
    try:
        import fastnda
    except ModuleNotFoundError as exc:
        raise UnreadableFile(path, "reading Neware files needs the Python package fastnda (pip install fastnda)") from exc
    check_zip(path)  # .ndax: a zip archive
    try:
        frame = fastnda.read(path, cycle_mode="raw")
        vendor_metadata = fastnda.read_metadata(path)
    except BaseException as exc:  # noqa: BLE001 - plain exceptions on unknown layouts, a Rust panic on damaged ones
        if must_propagate(exc):
            raise
        raise UnreadableFile(path, f"not a Neware file fastnda can decode ({failure_reason(exc)})") from exc
    if frame.height == 0:
        raise UnreadableFile(path, "the Neware file holds no data records")
    source = frame.to_arrow()
    warnings: list[str] = []
    table = _canonical(source, warnings, extras)
    has_temperature = table.column("temperature_celsius").null_count < table.num_rows
    metadata = _metadata(path, source, vendor_metadata, has_temperature)
    metadata["warnings"] += warnings
    return table, metadata


def _canonical(source: pa.Table, warnings: list[str], with_extras: bool = True) -> pa.Table:
    def column(name: str) -> np.ndarray:
        return source.column(name).to_numpy().astype(np.float64)

    current = column("current_mA") / 1000.0
    voltage = column("voltage_V")
    step_count = source.column("step_count").to_numpy()
    step_capacity = column("capacity_mAh") / 1000.0  # signed, resets each step

    def capacities():
        return cumulative_by_direction(increments_of_resetting(np.abs(step_capacity), step_count), step_capacity)

    def mode_codes():
        codes = _mode_codes(source.column("step_type"))
        return split_cccv(codes, voltage, current, step_count) if (codes == CCCV).any() else codes

    (charge_ah, discharge_ah), modes = run_alongside(capacities, mode_codes)
    aux = _aux_columns(source)
    canonical = {
        "test_time_second": source.column("total_time_s"),
        "voltage_volt": voltage,
        "current_ampere": current,
        "step_id": source.column("step_index"),
        "control_mode": control_mode_array(modes),
        "vendor_cycle_number": source.column("cycle_count"),
        "charging_capacity_ah": charge_ah,
        "discharging_capacity_ah": discharge_ah,
        "temperature_celsius": _cell_temperature(aux, warnings),
    }
    if not with_extras:
        return reader_table(canonical)
    extras = {
        "unix_time_second": source.column("unix_time_s"),
        "step_time_second": source.column("step_time_s"),
        "step_count": source.column("step_count"),
        "step_type": source.column("step_type").cast(pa.string()),
        "step_capacity_ah": pa.array(step_capacity),
        "step_energy_wh": pa.array(column("energy_mWh") / 1000.0),
        "record_index": source.column("index"),
        **aux,
    }
    return reader_table(canonical, extras)


def _mode_codes(step_type: pa.ChunkedArray) -> np.ndarray:
    """Mode code per row from Neware's step type names (fastnda gives them dictionary-encoded)."""
    encoded = step_type.combine_chunks()
    if not pa.types.is_dictionary(encoded.type):
        encoded = pc.dictionary_encode(encoded.cast(pa.string()))
    lookup = np.array([_mode_of(name) for name in encoded.dictionary.to_pylist()] + [OTHER], dtype=np.int8)
    return lookup[encoded.indices.fill_null(len(lookup) - 1).to_numpy()]


def _cell_temperature(aux: dict[str, pa.ChunkedArray], warnings: list[str]) -> pa.ChunkedArray | None:
    """The first auxiliary temperature channel that measured something.

    A channel reading exactly 0 °C on every row has no sensor behind it (seen with BTS
    client 8 files, where fastnda's other aux1 channels hold the ~25 °C readings): it is
    kept as an extra column but not taken as the cell temperature.
    """
    for name in sorted(n for n in aux if n.startswith("temperature_t")):
        column = aux[name]
        if pc.all(pc.equal(column, 0.0)).as_py():
            plausible = [f"{other} ({pc.min(aux[other]).as_py():.1f} to {pc.max(aux[other]).as_py():.1f})"
                         for other in aux if other != name and 5.0 < (pc.mean(aux[other]).as_py() or 0.0) < 80.0]
            warnings.append(f"{name} reads 0 °C on every row (no sensor): temperature left empty"
                            + (f"; channels in a temperature range: {', '.join(plausible)}" if plausible else ""))
            continue
        return column
    return None


def _mode_of(step_type: str | None) -> int:
    for prefix, mode in _MODE_BY_STEP_PREFIX:
        if step_type and step_type.startswith(prefix):
            return mode
    return OTHER


def _aux_columns(source: pa.Table) -> dict[str, pa.ChunkedArray]:
    """Auxiliary channels as ``temperature_t<n>_celsius``, ``aux_voltage_<n>_volt``, ``aux_<n>_<what>``."""
    columns = {}
    for name in source.column_names:
        match = _AUX_NAME.match(name)
        if not match:
            continue
        channel, quantity, unit = match["channel"], match["quantity"], match["unit"]
        if unit == "degC":
            new = f"temperature_t{channel}_celsius"
        elif unit == "V":
            new = f"aux_voltage_{channel}_volt"
        else:
            new = f"aux_{channel}_" + (re.sub(r"[^0-9a-z]+", "_", quantity.lower()).strip("_") or "unknown")
        columns[new] = source.column(name).cast(pa.float64())
    return columns


def _metadata(path: Path, source: pa.Table, vendor: dict, has_temperature: bool) -> dict:
    info = vendor.get("TestInfo", {}).get("TestInfo", {})
    start_text = info.get("StartTime") or vendor.get("start_time") or ""
    start_local = parse_local_time(start_text, ("%Y-%m-%d %H:%M:%S",))
    first_unix = source.column("unix_time_s")[0].as_py()
    start_utc = datetime.fromtimestamp(first_unix, tz=timezone.utc) if first_unix else None
    warnings = []
    extra = {}
    if start_utc is not None:
        extra["start_time_utc"] = start_utc.isoformat()
        if start_local is not None:
            offset = round((start_local - start_utc.replace(tzinfo=None)).total_seconds() / 900.0) * 900
            extra["utc_offset_second"] = offset
            warnings.append(f"rows carry Unix time; the test PC clock was UTC{offset / 3600:+.2f} h at start (no IANA zone stated)")
    unix = source.column("unix_time_s").to_numpy()
    if unix.size > 1 and (np.diff(unix) < 0).any():
        warnings.append("Unix time jumps backwards in the file; use test_time_second for ordering")
    if any(name.startswith("aux") for name in source.column_names):
        warnings.append("auxiliary channels named as fastnda decodes them; check which aux channel is the cell thermocouple")
    version = vendor.get("VersionInfo", {}).get("ZwjVersion", {}).get("CurrClientVer") or vendor.get("client_version")
    return cycling_metadata(
        instrument=f"Neware BTS ({version})" if version else "Neware BTS",
        source_columns=source.column_names,
        start_time_local=start_local,
        timezone=None,
        warnings=warnings,
        lacks=["timezone"] + ([] if has_temperature else ["temperature"]),
        active_mass_mg=vendor.get("active_mass_mg"),
        **extra,
    )
