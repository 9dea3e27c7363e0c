"""Neware BTS binary files: ``.nda`` (BTS 7) and ``.ndax`` (BTS 8 zip archive, with aux channels).

Decoding is done by ``fastnda`` (BSD-3-Clause, Empa's maintained, numpy-vectorised fork of
NewareNDA, also used by cellpy and the Battery Data Format). This module maps its output onto
the reader contract: A, V, s, Ah, current positive = charge, Neware's per-step capacity rebuilt
into cumulative charge/discharge counters, and the vendor's own cycle counter (``raw``).

Two things are corrected here rather than taken from fastnda (1.3.1):

* ``.ndax`` auxiliary channels: fastnda pairs the ``data_AUX_<a>_<b>_<c>.ndc`` members with the
  ``<AuxN>`` entries of ``TestInfo.xml`` by sort order, which mislabels them as soon as the
  real channel numbers are not in the same order as the entries. The member name itself holds
  the entry's ``RealChlID`` (``a``) and ``ChlType - 100`` (``b``): each channel is named here by
  the type its entry declares (``AUX_CHANNEL_TYPES``).
* ``.nda`` of BTS 7 store local wall-clock time: record version 29 as date fields (checked on a
  real file), versions 1 and 3 only as the header's start (fastnda adds the test time to it).
  fastnda turns it into "Unix" seconds as if it were UTC. It is kept as ``local_clock_second``
  and the start is the clock time of test time 0 on the rows, to be localised with the
  sample's timezone.
"""

from __future__ import annotations

import logging
import re
import zipfile
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..ingest.errors import UnreadableFile, failure_reason, must_propagate
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
NDA_WALL_CLOCK_VERSIONS = {1, 3, 29}  # fastnda builds unix_time_s from local clock fields or the local header start

# Auxiliary channel types (TestInfo.xml ``ChlType``) -> column name, ``{n}`` = the entry's ``AuxID``.
# 102/103 as BTSDA shows them (V<n>, T<n>) and as fastnda maps them; 1122 is the channel BTSDA
# exports as "CPU" (an IFE BTS 8.5 export lists exactly V1, T1 and CPU for a 102/103/1122 test);
# 335/345 from fastnda's map (chamber set point, humidity).
AUX_CHANNEL_TYPES = {
    102: "aux_voltage_{n}_volt",
    103: "temperature_t{n}_celsius",
    1122: "cpu_temperature_{n}_celsius",
    335: "temperature_setpoint_{n}_celsius",
    345: "humidity_{n}_percent",
}
_AUX_MEMBER = re.compile(r"data_AUX_(\d+)_(\d+)_(\d+)\.ndc$")

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
    warnings: list[str] = []
    notices: list[str] = []
    check_zip(path)  # .ndax: a zip archive
    try:
        with _fastnda_notices_into(notices):
            frame = fastnda.read(path, cycle_mode="raw")
            vendor_metadata = fastnda.read_metadata(path)
    except BaseException as exc:  # noqa: BLE001 - plain exceptions on unknown layouts, a Rust panic on damaged ones
        if must_propagate(exc):
            raise
        raise UnreadableFile(path, f"not a Neware file fastnda can decode ({failure_reason(exc)})") from exc
    if frame.height == 0:
        raise UnreadableFile(path, "the Neware file holds no data records")
    source = frame.to_arrow()
    if "unix_time_s" not in source.column_names:  # fastnda found no start time to build it from
        source = source.append_column("unix_time_s", pa.nulls(source.num_rows, pa.float64()))
    aux_names, aux_channels = _declared_aux_names(path, source, vendor_metadata, warnings)
    wall_clock = vendor_metadata.get("nda_version") in NDA_WALL_CLOCK_VERSIONS
    table = _canonical(source, warnings, extras, aux_names, wall_clock)
    has_temperature = table.column("temperature_celsius").null_count < table.num_rows
    metadata = _metadata(path, source, vendor_metadata, has_temperature, wall_clock)
    if aux_channels:
        metadata["aux_channels"] = aux_channels
    metadata["warnings"] += warnings
    if notices:  # what fastnda logs (e.g. clock jumps, which our own warnings state in our terms)
        metadata["decoder_notices"] = notices
    return table, metadata


@contextmanager
def _fastnda_notices_into(notices: list[str]):
    """fastnda's log messages go to ``notices`` (the file's metadata) instead of stderr."""
    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            notices.append(record.getMessage())

    fastnda_logger = logging.getLogger("fastnda")
    handler, propagate = Collect(logging.WARNING), fastnda_logger.propagate
    fastnda_logger.addHandler(handler)
    fastnda_logger.propagate = False
    try:
        yield
    finally:
        fastnda_logger.removeHandler(handler)
        fastnda_logger.propagate = propagate


def _canonical(source: pa.Table, warnings: list[str], with_extras: bool = True,
               aux_names: dict[str, str] | None = None, wall_clock: bool = False) -> pa.Table:
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
    aux = _aux_columns(source, aux_names)
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
        ("local_clock_second" if wall_clock else "unix_time_second"): source.column("unix_time_s"),
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


def _declared_aux_names(path: Path, source: pa.Table, vendor: dict,
                        warnings: list[str]) -> tuple[dict[str, str] | None, list[dict]]:
    """fastnda aux column -> our name from the type its ``TestInfo.xml`` entry declares, and one
    record per channel (column, type, real channel, member); ``(None, [])`` when it cannot be told.

    fastnda appends one column per ``data_AUX_*.ndc`` member, members sorted by the numbers in
    their names; each member belongs to the entry with its ``RealChlID`` and ``ChlType - 100``.
    """
    if not zipfile.is_zipfile(path):
        return None, []
    fastnda_columns = [name for name in source.column_names if name.startswith("aux")]
    info = vendor.get("TestInfo", {}).get("TestInfo", {})
    entries = [value for key, value in info.items() if re.fullmatch(r"Aux\d+", key) and isinstance(value, dict)]
    with zipfile.ZipFile(path) as archive:
        members = sorted((tuple(int(n) for n in match.groups()), name) for name in archive.namelist()
                         if (match := _AUX_MEMBER.search(name)))
    if not fastnda_columns:
        if members:
            listed = ", ".join(member for _, member in members)
            warnings.append(f"{len(members)} auxiliary channel member(s) ({listed}) but fastnda decoded none "
                            "(TestInfo.xml unreadable?): auxiliary channels and temperature missing")
        return None, []
    if not (len(members) == len(entries) == len(fastnda_columns)):
        warnings.append(f"{len(fastnda_columns)} auxiliary columns, {len(members)} data_AUX members and {len(entries)} "
                        "TestInfo.xml entries do not pair up: channels named as fastnda decodes them "
                        "(check which one is the cell thermocouple)")
        return None, []
    by_key = {(int(e.get("RealChlID", -1)), int(e.get("ChlType", -1)) - 100): e for e in entries}
    names, channels = {}, []
    for column, ((real_channel, type_code, _), member) in zip(fastnda_columns, members, strict=True):
        entry = by_key.get((real_channel, type_code))
        if entry is None:
            warnings.append(f"aux member {member} matches no TestInfo.xml entry (RealChlID {real_channel}, "
                            f"ChlType {type_code + 100}): channels named as fastnda decodes them")
            return None, []
        chl_type, aux_id = int(entry["ChlType"]), int(entry.get("AuxID", 0))
        name = AUX_CHANNEL_TYPES.get(chl_type, "aux_{n}_type_" + str(chl_type)).format(n=aux_id)
        names[column] = _unique(name, names.values())
        channels.append({"column": names[column], "chl_type": chl_type, "aux_id": aux_id,
                         "real_channel": real_channel, "member": member})
    unknown = sorted({c["chl_type"] for c in channels} - set(AUX_CHANNEL_TYPES))
    if unknown:
        warnings.append(f"auxiliary channel type(s) {unknown} not known here: kept as aux_<n>_type_<code>")
    return names, channels


def _unique(name: str, taken) -> str:
    taken, candidate, k = set(taken), name, 2
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    return candidate


def _aux_columns(source: pa.Table, declared: dict[str, str] | None = None) -> dict[str, pa.ChunkedArray]:
    """Auxiliary channels under ``declared`` names when the archive declares their types, else as
    ``temperature_t<n>_celsius``, ``aux_voltage_<n>_volt``, ``aux_<n>_<what>`` from fastnda's names."""
    if declared:
        return {new: source.column(old).cast(pa.float64()) for old, new in declared.items()}
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


def _metadata(path: Path, source: pa.Table, vendor: dict, has_temperature: bool, wall_clock: bool) -> dict:
    info = vendor.get("TestInfo", {}).get("TestInfo", {})
    start_text = info.get("StartTime") or vendor.get("start_time") or ""
    start_local = parse_local_time(start_text, ("%Y-%m-%d %H:%M:%S",))
    warnings = []
    extra = {}
    if wall_clock:
        start_local, extra = _wall_clock_start(source, start_local, warnings)
        start_utc = None
    else:
        first_unix = source.column("unix_time_s")[0].as_py()
        start_utc = datetime.fromtimestamp(first_unix, tz=timezone.utc) if first_unix else None
        extra["clock"] = "rows carry Unix time (UTC); start_time_local is the test's StartTime on the PC clock"
    if start_utc is not None:
        extra["start_time_utc"] = start_utc.isoformat()
        if start_local is not None:
            offset = round((start_local - start_utc.replace(tzinfo=None)).total_seconds() / 900.0) * 900
            extra["utc_offset_second"] = offset
            warnings.append(f"rows carry Unix time; the test PC clock was UTC{offset / 3600:+.2f} h at start (no IANA zone stated)")
    unix = source.column("unix_time_s").to_numpy()
    if unix.size > 1 and (np.diff(unix) < 0).any():
        clock = "clock" if wall_clock else "Unix"
        warnings.append(f"{clock} time jumps backwards in the file; use test_time_second for ordering")
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


def _wall_clock_start(source: pa.Table, header_start: datetime | None,
                      warnings: list[str]) -> tuple[datetime | None, dict]:
    """Start (naive, local) of a file whose rows carry local wall-clock time: the clock time of test
    time 0, i.e. the first row's clock minus its test time, so that start + test time = row time.
    The header's own start, often some seconds earlier (the test was set up, then started), is kept aside."""
    first_clock = source.column("unix_time_s")[0].as_py()
    extra = {"clock": "rows carry the test PC's local wall-clock time (naive): the sample's timezone applies",
             "header_start_time_local": header_start.isoformat() if header_start else None}
    if first_clock is None:
        warnings.append("the rows carry no clock time: start taken from the header")
        return header_start, extra
    start = datetime(1970, 1, 1) + timedelta(seconds=round(first_clock - source.column("total_time_s")[0].as_py(), 3))
    if header_start is not None and abs((start - header_start).total_seconds()) >= 1:
        off_s = (start - header_start).total_seconds()
        warnings.append(f"the header start {header_start.isoformat()} is {off_s:+.0f} s off the rows' clock at "
                        f"test time 0 ({start.isoformat()}): the rows' clock is used")
    return start, extra
