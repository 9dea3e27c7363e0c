"""ILL D2B numors (NeXus/HDF5 detector scans), read as Mantid's LoadILLDiffraction reads them.

Layout: ``/entry0/data_scan/detector_data/data`` counts (scan steps, 128 tubes, 128 pixels);
``raw_data`` beside it in files that carry ILL-calibrated counts (``data`` is then calibrated and
already in pixel order, ``raw_data`` the raw counts in the DAQ's U-shape: odd tubes top to bottom).
``scanned_variables/data`` (variables, steps) rows are found by ``variables_names/property``
(``Position`` = detector angle, ``Time*`` = step duration) and the monitor by name
(``Monitor1``, ``Monitor_1``, ``monitor1``). The instrument geometry comes from the run's date era.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import h5py
import numpy as np
import pyarrow as pa

from ..ingest.errors import UnreadableFile
from ..schemas import Column, utc_timestamp
from ..schemas.d2b import PIXELS, READER_COLUMNS
from ..science.d2b_efficiency import EfficiencyMap
from ..science.d2b_geometry import ILL_TIMEZONE, PIXELS_PER_TUBE, TUBE_RADIUS_METRE, TUBES, era_for
from .limits import MAX_TEXT_VALUES, check_hdf5

NAME = "d2b_nexus"
TECHNIQUE = "d2b"

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MONITOR_NAMES = ("Monitor1", "Monitor_1", "monitor1")
BLOCKS = ("auto", "data", "raw_data")


def sniff(path: Path, head: bytes) -> bool:
    if not head.startswith(_HDF5_SIGNATURE):
        return False
    try:
        with h5py.File(path, "r") as h5:
            return "entry0/data_scan" in h5 and _text(h5, "entry0/instrument/name") == "D2B"
    except OSError:
        return False


def read(path: Path) -> tuple[pa.Table, dict]:
    """The numor's scan steps (one row each, counts as a 16384-value list) and its metadata."""
    return read_numor(path)


def read_numor(path: Path, *, block: str = "auto") -> tuple[pa.Table, dict]:
    """Read a numor; ``block`` picks the counts: ``auto`` (calibrated ``data`` when ``raw_data`` exists,
    as Mantid 2018-2022 and today), ``data`` or ``raw_data``. Raw counts are un-flipped from the U-shape
    (as Mantid 2018-2022; metadata ``raw_only_numor`` says when ``data`` itself was raw, which today's
    Mantid leaves U-shaped: ``diffraction.numor_from_table`` re-flips those for the ``current`` workflow)."""
    if block not in BLOCKS:
        raise ValueError(f"block must be one of {BLOCKS}, not {block!r}")
    path = Path(path)
    try:
        h5 = h5py.File(path, "r")
    except OSError as exc:
        raise UnreadableFile(path, f"not a readable HDF5/NeXus file ({exc})") from exc
    with h5:
        check_hdf5(path, h5)
        entry = _entry(path, h5)
        warnings: list[str] = []
        counts, block_read, raw_only = _counts(path, entry, block)
        variables = _scanned_variables(path, entry, counts.shape[0], warnings)
        metadata = _metadata(path, entry, warnings)
    start_local = metadata.pop("_start_local")
    step_starts = _step_starts(start_local, variables["duration_second"], metadata["timezone"], counts.shape[0])
    era = era_for(start_local)
    metadata.update({
        "counts_block": block_read, "raw_only_numor": raw_only, "scan_steps": int(counts.shape[0]),
        "start_utc_time": step_starts[0].isoformat(),
        "instrument_definition": era.idf_name, "pixel_pitch_metre": era.pixel_pitch_metre,
        "first_pixel_height_metre": era.first_pixel_height_metre, "tube_radius_metre": TUBE_RADIUS_METRE,
        "end_utc_time": (step_starts[-1] + dt.timedelta(seconds=float(variables["duration_second"][-1]))).isoformat()
        if variables["duration_second"] is not None else None,
        "warnings": warnings,
    })
    columns = {
        "scan_step": pa.array(np.arange(counts.shape[0], dtype=np.int32)),
        "detector_angle_degree": pa.array(variables["detector_angle_degree"]),
        "monitor_counts": pa.array(variables["monitor_counts"]),
        "duration_second": pa.array(variables["duration_second"] if variables["duration_second"] is not None
                                    else np.full(counts.shape[0], np.nan)),
        "start_utc_time": pa.array(step_starts, utc_timestamp()),
        "counts": pa.FixedSizeListArray.from_arrays(pa.array(counts.reshape(-1)), PIXELS),
    }
    schema = pa.schema([_field(c) for c in READER_COLUMNS])
    return pa.Table.from_pydict(columns, schema=schema), metadata


def read_calibration(path: Path) -> EfficiencyMap:
    """Efficiency constants K[pixel, tube] (128 x 128), their errors and mask flags from a PowderILLEfficiency
    output saved by SaveNexusProcessed: ``/mantid_workspace_1/workspace/values`` and ``errors``, and the
    masked bins (``masked_spectra`` rows of [spectrum, offset into ``masked_bins``], ``masked_bins``)."""
    path = Path(path)
    try:
        with h5py.File(path, "r") as h5:
            check_hdf5(path, h5)
            if "mantid_workspace_1/workspace/values" not in h5:
                raise UnreadableFile(path, "not a Mantid processed NeXus calibration: no "
                                           "/mantid_workspace_1/workspace/values dataset")
            workspace = h5["mantid_workspace_1/workspace"]
            values = np.asarray(workspace["values"][()], float)
            errors = np.asarray(workspace["errors"][()], float) if "errors" in workspace else np.zeros_like(values)
            masked = _masked_bins(path, workspace, values.shape)
    except OSError as exc:
        raise UnreadableFile(path, f"not a readable HDF5/NeXus file ({exc})") from exc
    if values.shape != (PIXELS_PER_TUBE, TUBES) or errors.shape != values.shape:
        raise UnreadableFile(path, f"calibration has shape {values.shape} (errors {errors.shape}), "
                                   f"expected (128 pixels, 128 tubes)")
    return EfficiencyMap(values, errors, masked)


def _masked_bins(path: Path, workspace: h5py.Group, shape: tuple) -> np.ndarray:
    masked = np.zeros(shape, bool)
    if "masked_spectra" not in workspace:
        return masked
    spectra = np.asarray(workspace["masked_spectra"][()], int).reshape(-1, 2)
    bins = np.asarray(workspace["masked_bins"][()], int).reshape(-1)
    ends = np.append(spectra[1:, 1], bins.size)
    for (spectrum, start), end in zip(spectra, ends):
        chosen = bins[start:end]
        if not (0 <= spectrum < shape[0]) or np.any((chosen < 0) | (chosen >= shape[1])):
            raise UnreadableFile(path, f"masked bin outside the {shape[0]} x {shape[1]} map (spectrum {spectrum})")
        masked[spectrum, chosen] = True
    return masked


def _field(column: Column) -> pa.Field:
    return pa.field(column.name, column.type, nullable=column.nullable)


def _text(group: h5py.Group, name: str) -> str | None:
    if name not in group or not isinstance(group[name], h5py.Dataset) or group[name].size > MAX_TEXT_VALUES:
        return None
    value = group[name][()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else ""
    return (value.decode(errors="replace") if isinstance(value, bytes) else str(value)).strip()


def _entry(path: Path, h5: h5py.File) -> h5py.Group:
    if "entry0" not in h5:
        found = ", ".join(sorted(h5.keys())) or "nothing"
        raise UnreadableFile(path, f"not an ILL numor: no /entry0 group (top level holds: {found})")
    entry = h5["entry0"]
    instrument = _text(entry, "instrument/name")
    if instrument != "D2B":
        raise UnreadableFile(path, f"not a D2B numor: /entry0/instrument/name is {instrument!r}")
    for required in ("data_scan/detector_data/data", "data_scan/scanned_variables/data",
                     "data_scan/scanned_variables/variables_names/name",
                     "data_scan/scanned_variables/variables_names/property", "run_number", "start_time"):
        if required not in entry:
            raise UnreadableFile(path, f"D2B numor without /entry0/{required}")
    return entry


def _counts(path: Path, entry: h5py.Group, block: str) -> tuple[np.ndarray, str, bool]:
    detector = entry["data_scan/detector_data"]
    has_raw = "raw_data" in detector
    if block == "raw_data" and not has_raw:
        raise UnreadableFile(path, "raw_data block asked for, but the numor has only /data")
    name = "raw_data" if block == "raw_data" else "data"
    counts = np.asarray(detector[name][()])
    if counts.ndim != 3 or counts.shape[1:] != (TUBES, PIXELS_PER_TUBE):
        raise UnreadableFile(path, f"detector_data/{name} has shape {counts.shape}, expected (steps, 128, 128)")
    counts = counts.astype(np.int32, copy=True)
    is_raw = name == "raw_data" or not has_raw
    if is_raw:  # the DAQ reads odd tubes top to bottom
        counts[:, 1::2, :] = counts[:, 1::2, ::-1]
    return counts, name, not has_raw


def _names(group: h5py.Group, key: str) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(group[key][()]).reshape(-1)]


def _scanned_variables(path: Path, entry: h5py.Group, steps: int, warnings: list[str]) -> dict:
    scanned = entry["data_scan/scanned_variables"]
    values = np.asarray(scanned["data"][()], float)
    names = _names(scanned, "variables_names/name")
    properties = _names(scanned, "variables_names/property")
    if values.ndim != 2 or values.shape != (len(names), steps):
        raise UnreadableFile(path, f"scanned_variables/data has shape {values.shape}, expected "
                                   f"({len(names)} variables, {steps} steps)")
    if "Position" not in properties:
        raise UnreadableFile(path, f"no scanned variable with property 'Position' (detector angle); "
                                   f"variables: {', '.join(names)}")
    position = properties.index("Position")
    if names[position] != "2theta":
        warnings.append(f"detector angle taken from scanned variable {names[position]!r} (property Position), "
                        f"not '2theta'")
    monitor = next((names.index(n) for n in MONITOR_NAMES if n in names), None)
    if monitor is None:
        raise UnreadableFile(path, f"no monitor among the scanned variables (looked for {', '.join(MONITOR_NAMES)}; "
                                   f"found {', '.join(names)})")
    time = next((i for i, p in enumerate(properties) if p.startswith("Time")), None)
    if time is None:
        warnings.append("no scanned variable with property 'Time': step times unknown")
    return {"detector_angle_degree": values[position], "monitor_counts": values[monitor],
            "duration_second": values[time] if time is not None else None}


def _metadata(path: Path, entry: h5py.Group, warnings: list[str]) -> dict:
    start_text = _text(entry, "start_time")
    start_local = _parse_ill_time(path, start_text)
    if start_local.tzinfo is None:
        warnings.append(f"start_time {start_text!r} has no timezone: read as ILL local time ({ILL_TIMEZONE})")
        timezone = ILL_TIMEZONE
    else:
        timezone = "UTC" if start_local.utcoffset() == dt.timedelta(0) else str(start_local.tzinfo)
    wavelength = _text(entry, "wavelength")
    if wavelength is None:
        raise UnreadableFile(path, "D2B numor without /entry0/wavelength")
    return {
        "instrument": "D2B", "run_number": int(float(_text(entry, "run_number"))),
        "title": _text(entry, "title") or "", "sample_name": _text(entry, "sample/name") or "",
        "experiment_identifier": _text(entry, "experiment_identifier"),
        "wavelength_angstrom": float(wavelength), "calibration_file": _text(entry, "instrument/Detector/calibration_file"),
        "timezone": timezone, "start_local_time": start_local.replace(tzinfo=None).isoformat(),
        "_start_local": start_local,
    }


def _parse_ill_time(path: Path, text: str) -> dt.datetime:
    for parse in (lambda s: dt.datetime.strptime(s, "%d-%b-%y %H:%M:%S"), dt.datetime.fromisoformat):
        try:
            return parse(text)
        except ValueError:
            continue
    raise UnreadableFile(path, f"start_time {text!r} is neither 'dd-Mon-yy HH:MM:SS' nor ISO 8601")


def _step_starts(start_local: dt.datetime, durations: np.ndarray | None, timezone: str,
                 steps: int) -> list[dt.datetime | None]:
    if start_local.tzinfo is None:
        start_local = start_local.replace(tzinfo=ZoneInfo(timezone))
    start = start_local.astimezone(dt.timezone.utc)
    if durations is None:
        return [start] + [None] * (steps - 1)
    offsets = np.concatenate([[0.0], np.cumsum(durations[:-1])])
    return [start + dt.timedelta(seconds=float(s)) for s in offsets]
