"""D2B reduction as Mantid's PowderILLDetectorScan + SumOverlappingTubes do it, in numpy; grouping of
numors into measurements; comparison of consecutive diffractograms.

Reduction (per measurement, all numors merged), with the options of one of the two Mantid workflows
(``d2b_workflows``: ``current`` by default, or ``2018``):

* every pixel of every scan step is one entry; counts C are divided by the step's monitor M and
  multiplied by 1e6: ``y = 1e6 C/M``, ``e = 1e6 sqrt(C + C^2/M)/M`` (Poisson errors of C and M);
* an optional efficiency map multiplies y (``y K``, error ``sqrt((e K)^2 + (y sigma_K)^2)``); its masked
  bins, K = 0, masked tubes and pixels drop pixels; masked angle ranges drop entries;
* the angle grid spans the unmasked tube angles of all numors, widened by half a bin each side, with
  0.05 degree bins; cropping negative angles moves the start up by whole bins (the bin straddling 0
  stays); entry i goes to bin ``floor((angle_i - start)/step)``;
* 1D and 2D use the true scattering angle (Debye-Scherrer cone correction), 2DTubes the tube angle;
* each bin is the plain mean of its entries, errors added in quadrature and divided by their number.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..readers import metadata_of
from ..schemas import TABLES
from ..warehouse.provenance import code_version
from .d2b_alignment import (TubeAlignment, aligned_pixel_heights_metre, aligned_tube_angles_degree, alignment_for,
                            max_height_metre)
from .d2b_efficiency import EfficiencyMap, apply_efficiency, efficiency_map
from .d2b_geometry import PIXELS_PER_TUBE, TUBES, pixel_heights_metre, tube_angles_degree, two_theta_degree
from .d2b_workflows import DEFAULT_WORKFLOW, MantidWorkflow, mantid_workflow

BIN_DEGREE = 0.05
MONITOR_SCALE = 1e6
HEIGHT_LIMIT_METRE = 0.15
HEIGHT_TOLERANCE_METRE = 1e-6
OUTPUT_TYPES = ("1D", "2D", "2DTubes")
DEFAULT_THRESHOLD = 2.0


@dataclass(frozen=True)
class Numor:
    """One D2B detector scan: counts[step, tube, pixel] (pixel 0 at the bottom) and what goes with them.

    ``pixel_heights_metre`` is (128 pixels,) for every tube alike or (128 tubes, 128 pixels) with tube
    alignment; ``alignment`` (Mantid's AlignTubes) replaces the nominal 1.25 degree tube spacing."""

    run_number: int
    counts: np.ndarray
    detector_angle_degree: np.ndarray
    monitor_counts: np.ndarray
    pixel_heights_metre: np.ndarray
    start_utc_time: dt.datetime | None = None
    end_utc_time: dt.datetime | None = None
    source_file: str = ""
    source_sha256: str = ""
    alignment: TubeAlignment | None = None
    pixel_pitch_metre: float | None = None

    def tube_angles_degree(self) -> np.ndarray:
        """Mirrored in-plane angle (degrees) of every tube at every scan step, shape (steps, 128)."""
        if self.alignment is None:
            return tube_angles_degree(self.detector_angle_degree)
        return aligned_tube_angles_degree(self.detector_angle_degree, self.alignment)

    def heights_metre(self) -> np.ndarray:
        """Height (m) of every pixel of every tube, shape (128 tubes, 128 pixels)."""
        return np.broadcast_to(self.pixel_heights_metre, (TUBES, PIXELS_PER_TUBE))

    def max_height_metre(self) -> float | None:
        """Mantid's ``MaxHeight`` log (m), which the loader writes only when it aligned the tubes."""
        if self.alignment is None or self.pixel_pitch_metre is None:
            return None
        return max_height_metre(self.pixel_pitch_metre, self.alignment)


def numor_from_table(table: pa.Table, *, workflow: str | MantidWorkflow = DEFAULT_WORKFLOW,
                     align_tubes: bool | None = None) -> Numor:
    """The ``Numor`` of a D2B reader table (its metadata in the schema, provenance columns when stamped) as
    the workflow's loader sees it: the tube alignment of the run's era where Mantid has one (2018 on) when
    ``align_tubes`` (default: the workflow's), and a raw-only numor's odd tubes left in the DAQ's U-shape
    where the workflow does not flip them (``current``)."""
    flow = mantid_workflow(workflow)
    meta = metadata_of(table)
    align = flow.align_tubes if align_tubes is None else align_tubes
    alignment = alignment_for(meta["instrument_definition"]) if align else None
    pitch, first_height = meta["pixel_pitch_metre"], meta["first_pixel_height_metre"]
    steps = table.num_rows
    counts = table.column("counts").combine_chunks().values.to_numpy().reshape(steps, TUBES, PIXELS_PER_TUBE)
    if meta.get("raw_only_numor") and meta.get("counts_block") == "data" and not flow.unflip_raw_only:
        counts = counts.copy()
        counts[:, 1::2, :] = counts[:, 1::2, ::-1]
    provenance = {name: table.column(name)[0].as_py() if name in table.column_names and steps else
                  meta.get(name, "") for name in ("source_file", "source_sha256")}
    return Numor(
        run_number=int(meta["run_number"]), counts=counts,
        detector_angle_degree=table.column("detector_angle_degree").to_numpy(),
        monitor_counts=table.column("monitor_counts").to_numpy(),
        pixel_heights_metre=pixel_heights_metre(pitch, first_height) if alignment is None
        else aligned_pixel_heights_metre(pitch, first_height, alignment),
        start_utc_time=_time(meta.get("start_utc_time")), end_utc_time=_time(meta.get("end_utc_time")),
        source_file=provenance["source_file"] or "", source_sha256=provenance["source_sha256"] or "",
        alignment=alignment, pixel_pitch_metre=pitch,
    )


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def angle_bin_edges(lowest_degree: float, highest_degree: float, *, step_degree: float = BIN_DEGREE,
                    crop_negative: bool = True) -> np.ndarray:
    """Bin edges (degrees) as SumOverlappingTubes builds them from the extreme tube angles."""
    start = lowest_degree - step_degree / 2
    end = highest_degree + step_degree / 2
    if crop_negative:
        if end < 0:
            raise ValueError("no positive scattering angle to keep after cropping negative angles")
        if start < 0:
            start += np.floor(-start / step_degree) * step_degree
    n_bins = int(np.floor((end - start) / step_degree))
    if n_bins < 1:
        raise ValueError(f"empty angle range {start:.4f} .. {end:.4f} degree")
    return start + step_degree * np.arange(n_bins + 1)


def height_axis_metre(output: str, tube_heights_metre: np.ndarray, height_range: Sequence[float] | None,
                      height_axis: Sequence[float] | None = None) -> tuple[np.ndarray, float, float]:
    """Row centres (m) and the accepted height window (min, max) of a SumOverlappingTubes output.

    ``height_range`` (min, max): PowderILLDetectorScan's HeightRange, within +-0.15 m; 2D rows are the
    tube 1 heights inside it. ``height_axis`` (start, step, end): SumOverlappingTubes' three-value
    HeightAxis; 2D rows start, start + step, ... while below end (summed as Mantid sums them). Without
    either, the rows are the tube 1 heights. 1D has one row at the centre of the window."""
    if height_range is not None and height_axis is not None:
        raise ValueError("give a height range or a height axis, not both")
    if height_axis is not None:
        start, step, end = map(float, height_axis)
        if not (step > 0 and start < end):
            raise ValueError(f"height axis needs start < end and a positive step, got {start}, {step}, {end}")
        centres = [start, end] if output == "1D" else _accumulated(start, step, end)
    elif height_range is not None:
        low, high = map(float, height_range)
        if not (-HEIGHT_LIMIT_METRE <= low < high <= HEIGHT_LIMIT_METRE):
            raise ValueError(f"height range must satisfy -0.15 <= min < max <= 0.15 m, got {low}, {high}")
        centres = [low, high] if output == "1D" else \
            tube_heights_metre[(tube_heights_metre >= low) & (tube_heights_metre <= high)]
        if len(centres) == 0:
            raise ValueError(f"no pixel row inside the height range {low} .. {high} m")
    else:
        centres = tube_heights_metre
    centres = np.asarray(centres, float)
    window = (float(centres.min()), float(centres.max()))
    if output == "1D":
        centres = np.array([(centres[0] + centres[-1]) / 2])
    return centres, window[0], window[1]


def _accumulated(start: float, step: float, end: float) -> list[float]:
    values, height = [], start
    while height < end:
        values.append(height)
        height += step
    return values


def height_rows(heights_metre: np.ndarray, centres: np.ndarray, low: float, high: float) -> np.ndarray:
    """Row of every pixel height (-1 = outside the window): nearest centre, a midpoint going up."""
    heights = np.asarray(heights_metre, float)
    inside = (heights >= low - HEIGHT_TOLERANCE_METRE) & (heights <= high + HEIGHT_TOLERANCE_METRE)
    if centres.size == 1:
        rows = np.where(np.abs(heights - centres[0]) <= 0.5, 0, -1)
    else:
        rows = np.searchsorted((centres[1:] + centres[:-1]) / 2, heights, side="right")
    return np.where(inside, rows, -1)


def reduce_workflow(numors: Sequence[pa.Table | Numor], *, outputs: Sequence[str] = ("1D",),
                    height_ranges: Sequence[Sequence[float]] = (), workflow: str | MantidWorkflow = DEFAULT_WORKFLOW,
                    height_axis: Sequence[float] | None = None, **options) -> list[pa.Table]:
    """PowderILLDetectorScan: every requested output for the full height (``height_axis`` applies there) and
    for each ``height_ranges`` pair, as the workflow does it (``current``: the full height beside every
    pair; ``2018``: one pair at most, then no full-height output). ``options`` go to ``reduce_measurement``."""
    flow = mantid_workflow(workflow)
    ranges = [tuple(map(float, pair)) for pair in height_ranges]
    if any(len(pair) != 2 for pair in ranges):
        raise ValueError("each height range is a (min, max) pair")
    if flow.max_height_ranges is not None and len(ranges) > flow.max_height_ranges:
        raise ValueError(f"the {flow.name} workflow takes at most {flow.max_height_ranges} height range "
                         f"(its HeightRange held one pair), got {len(ranges)}")
    windows = ([None] if flow.full_height_beside_ranges or not ranges else []) + ranges
    if height_axis is not None and None not in windows:
        raise ValueError(f"a height axis shapes the full-height output, which the {flow.name} workflow does not "
                         f"make beside a height range")
    return [reduce_measurement(numors, output=output, height_range=window, workflow=flow,
                               height_axis=height_axis if window is None else None, **options)
            for output in outputs for window in windows]


def reduce_measurement(numors: Sequence[pa.Table | Numor], *, output: str = "1D",
                       height_range: Sequence[float] | None = None, height_axis: Sequence[float] | None = None,
                       crop_negative: bool = True, calibration: EfficiencyMap | np.ndarray | None = None,
                       masked_tubes: Sequence[int] = (), masked_pixels: Sequence[Sequence[int]] = (),
                       masked_angles_degree: Sequence[Sequence[float]] = (), normalise_to_monitor: bool = True,
                       step_degree: float = BIN_DEGREE, workflow: str | MantidWorkflow = DEFAULT_WORKFLOW,
                       align_tubes: bool | None = None) -> pa.Table:
    """Merge the numors of one measurement into one diffractogram (SumOverlappingTubes inside a workflow).

    ``output``: ``1D`` (one row, true 2theta), ``2D`` (height x true 2theta) or ``2DTubes``
    (height x tube angle). ``height_range`` (min, max) in metres, within +-0.15, or ``height_axis``
    (start, step, end) in metres (see ``height_axis_metre``); without them the ``2018`` workflow uses
    -MaxHeight, PixelHeight, MaxHeight where the run's era has tube alignment. ``calibration``: an
    ``EfficiencyMap`` or K[pixel, tube] (128 x 128). Masks: ``masked_tubes`` (tube numbers 1..128),
    ``masked_pixels`` ((tube, first pixel, last pixel), 1-based, pixel 1 at the bottom, inclusive),
    ``masked_angles_degree`` ((min, max) of the output's angle: entries inside are left out; the angle
    grid does not change). ``workflow``: ``current`` or ``2018`` (``d2b_workflows``); ``align_tubes``
    overrides its AlignTubes. Each numor once: a repeated run number is refused (Mantid would count it
    twice). Order does not matter.
    Returns columns ``output_type, height_metre, two_theta_degree`` (bin centre), ``intensity``,
    ``intensity_error`` (counts per 1e6 monitor, or counts without monitor normalisation), ``pixel_count``
    and ``height_range_min_metre``/``height_range_max_metre`` (null for the full height); the bin edges,
    run numbers, times and options are in the schema metadata under ``b"d2b"``.
    """
    if output not in OUTPUT_TYPES:
        raise ValueError(f"output must be one of {OUTPUT_TYPES}, not {output!r}")
    flow = mantid_workflow(workflow)
    align = flow.align_tubes if align_tubes is None else align_tubes
    scans = _in_run_order(numors, flow, align)
    efficiency = efficiency_map(calibration)
    usable = _usable_pixels(efficiency, masked_tubes, masked_pixels, flow.initial_mask_pixels)
    tube_angles = [scan.tube_angles_degree() for scan in scans]
    used_tubes = usable.any(axis=1)
    if not used_tubes.any():
        raise ValueError("every pixel is masked")
    edges = angle_bin_edges(min(a[:, used_tubes].min() for a in tube_angles),
                            max(a[:, used_tubes].max() for a in tube_angles),
                            step_degree=step_degree, crop_negative=crop_negative)
    n_bins = edges.size - 1
    max_height = scans[0].max_height_metre()
    if height_range is None and height_axis is None and flow.max_height_axis and max_height is not None:
        height_axis = (-max_height, scans[0].pixel_pitch_metre, max_height)
    centres, low, high = height_axis_metre(output, scans[0].heights_metre()[0], height_range, height_axis)
    angle_masks = [tuple(map(float, pair)) for pair in masked_angles_degree]
    sums = np.zeros(centres.size * n_bins)
    variances = np.zeros_like(sums)
    entries = np.zeros_like(sums)
    for scan, angles in zip(scans, tube_angles):
        heights = scan.heights_metre()
        rows = height_rows(heights, centres, low, high)
        values, errors_squared = _normalised(scan, normalise_to_monitor)
        if efficiency is not None:
            values, errors_squared = apply_efficiency(values, errors_squared, efficiency)
        entry_angles = angles[..., None] if output == "2DTubes" else two_theta_degree(angles, heights)
        bins = np.floor((entry_angles - edges[0]) / step_degree)
        keep = (bins >= 0) & (bins < n_bins) & usable[None] & (rows >= 0)[None]
        for low_angle, high_angle in angle_masks:
            keep &= ~((entry_angles >= low_angle) & (entry_angles <= high_angle))
        cells = (rows[None] * n_bins + bins)
        cells = np.broadcast_to(cells, keep.shape)[keep].astype(np.int64)
        sums += np.bincount(cells, np.broadcast_to(values, keep.shape)[keep], minlength=sums.size)
        variances += np.bincount(cells, np.broadcast_to(errors_squared, keep.shape)[keep], minlength=sums.size)
        entries += np.bincount(cells, minlength=sums.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = np.where(entries > 0, sums / entries, 0.0)
        error = np.where(entries > 0, np.sqrt(variances) / entries, 0.0)
    final_mask = flow.final_mask_rows if output != "1D" else 0
    for cells in (intensity, error, entries):
        _zero_edge_rows(cells.reshape(centres.size, n_bins), final_mask)
    bin_centres = (edges[:-1] + edges[1:]) / 2
    window = (None, None) if height_range is None else tuple(map(float, height_range))
    table = pa.table({
        "output_type": pa.array([output] * sums.size),
        "height_metre": np.repeat(centres, n_bins),
        "two_theta_degree": np.tile(bin_centres, centres.size),
        "intensity": intensity, "intensity_error": error, "pixel_count": entries.astype(np.int64),
        "height_range_min_metre": pa.array([window[0]] * sums.size, pa.float64()),
        "height_range_max_metre": pa.array([window[1]] * sums.size, pa.float64()),
    })
    facts = {"first_edge_degree": float(edges[0]), "bin_degree": step_degree, "bins": n_bins, "rows": int(centres.size),
             "run_numbers": [s.run_number for s in scans], "crop_negative": crop_negative,
             "mantid_workflow": flow.name, "height_range_metre": list(window) if height_range is not None else None,
             "height_axis_metre": [float(v) for v in height_axis] if height_axis is not None else None,
             "calibrated": efficiency is not None, "aligned_tubes": align, "normalised_to_monitor": normalise_to_monitor,
             "initial_mask_pixels": flow.initial_mask_pixels, "final_mask_rows": final_mask,
             "masked_tubes": sorted(masked_tubes), "masked_pixels": [list(m) for m in masked_pixels],
             "masked_angles_degree": [list(m) for m in angle_masks],
             "start_utc_time": _iso(scans[0].start_utc_time), "end_utc_time": _iso(scans[-1].end_utc_time),
             "source_files": [s.source_file for s in scans], "source_sha256": [s.source_sha256 for s in scans]}
    return table.replace_schema_metadata({b"d2b": json.dumps(facts).encode()})


def _zero_edge_rows(cells: np.ndarray, rows: int) -> None:
    """FinalMask: rows 0..rows and n-rows..n-1 cleared (Mantid's MaskDetectors index list ``0-F, n-F-(n-1)``)."""
    if rows:
        cells[:rows + 1] = 0
        cells[max(cells.shape[0] - rows, 0):] = 0


def reduction_facts(reduced: pa.Table) -> dict:
    """The bin edges, run numbers, times, files and options ``reduce_measurement`` recorded."""
    return json.loads((reduced.schema.metadata or {})[b"d2b"])


def _iso(time: dt.datetime | None) -> str | None:
    return time.isoformat() if time else None


def _in_run_order(numors: Sequence[pa.Table | Numor], flow: MantidWorkflow, align_tubes: bool) -> list[Numor]:
    scans: dict[int, Numor] = {}
    for numor in numors:
        scan = numor if isinstance(numor, Numor) else numor_from_table(numor, workflow=flow, align_tubes=align_tubes)
        if scan.run_number in scans:
            files = ", ".join(f for f in (scans[scan.run_number].source_file, scan.source_file) if f)
            raise ValueError(f"run {scan.run_number} given twice{f' ({files})' if files else ''}: Mantid would "
                             f"count it twice; give each numor once")
        scans[scan.run_number] = scan
    if not scans:
        raise ValueError("no numor to reduce")
    return [scans[run] for run in sorted(scans)]


def _usable_pixels(efficiency: EfficiencyMap | None, masked_tubes: Sequence[int],
                   masked_pixels: Sequence[Sequence[int]], initial_mask_pixels: int) -> np.ndarray:
    """[tube, pixel] True where the pixel takes part."""
    usable = np.ones((TUBES, PIXELS_PER_TUBE), bool)
    for tube in masked_tubes:
        _check_number("tube", tube, TUBES)
        usable[tube - 1] = False
    for mask in masked_pixels:
        tube, first, last = mask
        _check_number("tube", tube, TUBES)
        for pixel in (first, last):
            _check_number("pixel", pixel, PIXELS_PER_TUBE)
        if first > last:
            raise ValueError(f"pixel range {first}-{last} of tube {tube} runs backwards")
        usable[tube - 1, first - 1:last] = False
    if initial_mask_pixels:
        usable[:, :initial_mask_pixels] = False
        usable[:, PIXELS_PER_TUBE - initial_mask_pixels:] = False
    if efficiency is not None:
        usable &= efficiency.usable()
    return usable


def _check_number(what: str, number: int, count: int) -> None:
    if not 1 <= number <= count:
        raise ValueError(f"{what} numbers run from 1 to {count}, not {number}")


def _normalised(scan: Numor, normalise_to_monitor: bool) -> tuple[np.ndarray, np.ndarray]:
    counts = scan.counts.astype(float)
    if not normalise_to_monitor:
        return counts, counts
    monitor = scan.monitor_counts.astype(float)[:, None, None]
    if np.any(monitor <= 0):
        raise ValueError(f"numor {scan.run_number}: a scan step has no monitor counts")
    values = MONITOR_SCALE * counts / monitor
    errors_squared = MONITOR_SCALE**2 * (counts + counts**2 / monitor) / monitor**2
    return values, errors_squared


# --- numors of a sample and their grouping into measurements -------------------------------------

def numor_rows(numors: Sequence[pa.Table], sample_id: str) -> pa.Table:
    """One ``d2b_numors`` row per reader table (measurement columns still empty), in run order."""
    rows = []
    for table in numors:
        meta = metadata_of(table)
        angles = table.column("detector_angle_degree").to_numpy()
        counts = table.column("counts").combine_chunks().values.to_numpy()
        rows.append({
            "sample_id": sample_id, "run_number": int(meta["run_number"]), "title": meta.get("title"),
            "sample_name": meta.get("sample_name"), "wavelength_angstrom": meta.get("wavelength_angstrom"),
            "start_utc_time": _time(meta.get("start_utc_time")), "end_utc_time": _time(meta.get("end_utc_time")),
            "timezone": meta.get("timezone"), "scan_steps": table.num_rows,
            "first_detector_angle_degree": float(angles[0]) if angles.size else None,
            "detector_step_degree": float(np.median(np.diff(angles))) if angles.size > 1 else None,
            "monitor_counts": float(table.column("monitor_counts").to_numpy().sum()),
            "detector_counts": float(counts.sum(dtype=np.int64)), "counts_block": meta.get("counts_block"),
            "instrument_definition": meta.get("instrument_definition"),
            "pixel_pitch_metre": meta.get("pixel_pitch_metre"),
            "source_file": _first(table, "source_file", meta), "source_sha256": _first(table, "source_sha256", meta),
            "code_version": _first(table, "code_version", meta),
        })
    rows.sort(key=lambda row: (row["run_number"], row["source_file"] or ""))
    return pa.Table.from_pylist(rows)


def _first(table: pa.Table, name: str, meta: dict):
    if name in table.column_names and table.num_rows:
        return table.column(name)[0].as_py()
    return meta.get(name)


def group_numors(numors: pa.Table, *, max_gap_second: float = 3600.0,
                 angle_tolerance_degree: float = 1e-3) -> pa.Table:
    """Add ``measurement_index`` and ``measurement_id`` to ``d2b_numors`` rows ("measured together").

    Sorted by run number, a numor joins the current measurement unless its title, sample name or
    wavelength differs, its run number is not the previous one + 1, it starts more than
    ``max_gap_second`` after the previous one ended, or its first detector angle (within
    ``angle_tolerance_degree``) already opened a numor of the measurement (the scan set repeats).
    The same run number read twice stays in one measurement.
    """
    rows = sorted(numors.to_pylist(), key=lambda row: row["run_number"])
    index, members = -1, []
    previous = None
    for row in rows:
        if previous is not None and row["run_number"] == previous["run_number"]:
            row["measurement_index"] = index
            continue
        if previous is None or _starts_measurement(row, previous, members, max_gap_second, angle_tolerance_degree):
            index, members = index + 1, []
        members.append(row)
        row["measurement_index"] = index
        previous = row
    first_last = {}
    for row in rows:
        low, high = first_last.get(row["measurement_index"], (row["run_number"], row["run_number"]))
        first_last[row["measurement_index"]] = (min(low, row["run_number"]), max(high, row["run_number"]))
    for row in rows:
        low, high = first_last[row["measurement_index"]]
        row["measurement_id"] = f"{low}-{high}"
    return pa.Table.from_pylist(rows)


def _starts_measurement(row: dict, previous: dict, members: list[dict], max_gap_second: float,
                        angle_tolerance_degree: float) -> bool:
    if any(row[key] != previous[key] for key in ("title", "sample_name")):
        return True
    if not np.isclose(row["wavelength_angstrom"] or 0.0, previous["wavelength_angstrom"] or 0.0, atol=1e-4):
        return True
    if row["run_number"] != previous["run_number"] + 1:
        return True
    end, start = previous.get("end_utc_time"), row.get("start_utc_time")
    if end is not None and start is not None and (start - end).total_seconds() > max_gap_second:
        return True
    angle = row.get("first_detector_angle_degree")
    return angle is not None and any(
        m.get("first_detector_angle_degree") is not None
        and abs(m["first_detector_angle_degree"] - angle) <= angle_tolerance_degree for m in members)


def reduce_sample(numors: Sequence[pa.Table], sample_id: str, *, max_gap_second: float = 3600.0,
                  angle_tolerance_degree: float = 1e-3, **reduce_options) -> tuple[pa.Table, pa.Table]:
    """Group a sample's numors and reduce each measurement: returns (``d2b_numors`` rows,
    ``d2b_diffractograms`` rows). ``reduce_options`` go to ``reduce_workflow``. A run number read from two
    files is reduced once, from the first (the caller reports the other: ``duplicate_runs``)."""
    if not numors:
        return TABLES["d2b_numors"].arrow_schema().empty_table(), TABLES["d2b_diffractograms"].arrow_schema().empty_table()
    grouped = group_numors(numor_rows(numors, sample_id), max_gap_second=max_gap_second,
                           angle_tolerance_degree=angle_tolerance_degree)
    by_run = {}
    for table in numors:
        by_run.setdefault(int(metadata_of(table)["run_number"]), table)
    pieces = []
    for index in sorted(set(grouped.column("measurement_index").to_pylist())):
        members = sorted({r["run_number"]: r for r in grouped.to_pylist() if r["measurement_index"] == index}.values(),
                         key=lambda r: r["run_number"])
        for reduced in reduce_workflow([by_run[r["run_number"]] for r in members], **reduce_options):
            pieces.append(diffractogram_rows(reduced, sample_id=sample_id, measurement_index=index,
                                             measurement_id=members[0]["measurement_id"]))
    diffractograms = TABLES["d2b_diffractograms"]
    return (TABLES["d2b_numors"].conform(grouped),
            diffractograms.conform(pa.concat_tables(pieces)) if pieces else diffractograms.arrow_schema().empty_table())


def duplicate_runs(numors: Sequence[pa.Table]) -> list[tuple[pa.Table, pa.Table]]:
    """(later, first) pairs of reader tables with the same run number, in the given order."""
    first, pairs = {}, []
    for table in numors:
        run = int(metadata_of(table)["run_number"])
        if run in first:
            pairs.append((table, first[run]))
        else:
            first[run] = table
    return pairs


def diffractogram_rows(reduced: pa.Table, *, sample_id: str, measurement_index: int,
                       measurement_id: str) -> pa.Table:
    """``reduce_measurement`` output with the sample, measurement, workflow, times and provenance columns."""
    facts = reduction_facts(reduced)
    n = reduced.num_rows

    def constant(value, type_):
        return pa.array([value] * n, type_)

    columns = {
        "sample_id": constant(sample_id, pa.string()), "measurement_index": constant(measurement_index, pa.int64()),
        "measurement_id": constant(measurement_id, pa.string()),
        **{name: reduced.column(name) for name in reduced.column_names},
        "mantid_workflow": constant(facts["mantid_workflow"], pa.string()),
        "aligned_tubes": constant(facts["aligned_tubes"], pa.bool_()),
        "start_utc_time": constant(_time(facts["start_utc_time"]), pa.timestamp("us", tz="UTC")),
        "end_utc_time": constant(_time(facts["end_utc_time"]), pa.timestamp("us", tz="UTC")),
        "source_file": constant(";".join(facts["source_files"]), pa.string()),
        "source_sha256": constant(";".join(facts["source_sha256"]), pa.string()),
        "code_version": constant(code_version(), pa.string()),
    }
    return pa.table(columns)


def main_1d(diffractograms: pa.Table) -> pa.Table:
    """The 1D rows that stand for each measurement: the full height, or the one height range the ``2018``
    workflow reduced instead."""
    one_d = diffractograms.filter(pc.equal(diffractograms.column("output_type"), "1D"))
    if "height_range_min_metre" not in one_d.column_names:
        return one_d
    full = one_d.filter(pc.is_null(one_d.column("height_range_min_metre")))
    return full if full.num_rows else one_d


# --- comparison of consecutive diffractograms -----------------------------------------------------

def compare_diffractograms(later: pa.Table, earlier: pa.Table) -> dict:
    """Ratio statistics and chi-square of two 1D diffractograms on their common 2theta bins.

    Bins match when their centres agree within 0.001 of a bin; only bins where both intensities are
    finite and nonzero count. ``r = I_later / I_earlier``; ``chi2 = sum (I1 - I2)^2 / (s1^2 + s2^2)``;
    reduced chi2 = chi2 / number of bins.
    """
    x1, y1, e1 = measured_points(later)
    x2, y2, e2 = measured_points(earlier)
    step = float(np.median(np.diff(x1))) if x1.size > 1 else BIN_DEGREE
    position = np.clip(np.searchsorted(x2, x1), 1, max(x2.size - 1, 1)) if x2.size else np.zeros(0, int)
    nearest = np.where(np.abs(x2[position - 1] - x1) < np.abs(x2[np.minimum(position, x2.size - 1)] - x1),
                       position - 1, np.minimum(position, x2.size - 1)) if x2.size else position
    matched = (np.abs(x2[nearest] - x1) <= 1e-3 * step) if x2.size else np.zeros(x1.size, bool)
    a, b, sa, sb = y1[matched], y2[nearest[matched]], e1[matched], e2[nearest[matched]]
    usable = np.isfinite(a) & np.isfinite(b) & (a != 0) & (b != 0) & ((sa**2 + sb**2) > 0)
    a, b, sa, sb = a[usable], b[usable], sa[usable], sb[usable]
    if a.size == 0:
        return {"bins_compared": 0, "ratio_mean": None, "ratio_std": None, "ratio_min": None, "ratio_max": None,
                "chi_square": None, "reduced_chi_square": None}
    ratio = a / b
    chi_square = float(np.sum((a - b) ** 2 / (sa**2 + sb**2)))
    return {"bins_compared": int(a.size), "ratio_mean": float(ratio.mean()), "ratio_std": float(ratio.std()),
            "ratio_min": float(ratio.min()), "ratio_max": float(ratio.max()), "chi_square": chi_square,
            "reduced_chi_square": chi_square / a.size}


def measured_points(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(2theta in degrees, intensity, intensity error) of the bins that saw a pixel, by 2theta."""
    if "pixel_count" in table.column_names:
        table = table.filter(pc.greater(table.column("pixel_count"), 0))
    table = table.sort_by("two_theta_degree")
    return tuple(table.column(name).to_numpy(zero_copy_only=False).astype(float)
                 for name in ("two_theta_degree", "intensity", "intensity_error"))


def compare_consecutive(diffractograms: pa.Table, *, threshold: float = DEFAULT_THRESHOLD) -> pa.Table:
    """``d2b_comparisons`` rows: each main 1D diffractogram (``main_1d``) of a sample against the one before it.

    ``significant`` is true when the reduced chi-square exceeds ``threshold`` (about 1 means the
    two differ by counting noise only)."""
    one_d = main_1d(diffractograms)
    rows = []
    for sample_id in sorted(set(one_d.column("sample_id").to_pylist())):
        sample = one_d.filter(pc.equal(one_d.column("sample_id"), sample_id))
        indices = sorted(set(sample.column("measurement_index").to_pylist()))
        parts = {i: sample.filter(pc.equal(sample.column("measurement_index"), i)) for i in indices}
        for earlier, later in zip(indices, indices[1:]):
            stats = compare_diffractograms(parts[later], parts[earlier])
            reduced = stats["reduced_chi_square"]
            rows.append({
                "sample_id": sample_id, "measurement_index": later, "previous_measurement_index": earlier,
                "measurement_id": parts[later].column("measurement_id")[0].as_py(),
                "previous_measurement_id": parts[earlier].column("measurement_id")[0].as_py(), **stats,
                "threshold": threshold, "significant": None if reduced is None else reduced > threshold,
                "source_file": _joined(parts[earlier], parts[later], "source_file"),
                "source_sha256": _joined(parts[earlier], parts[later], "source_sha256"),
                "code_version": code_version(),
            })
    schema = TABLES["d2b_comparisons"]
    return schema.conform(pa.Table.from_pylist(rows)) if rows else schema.arrow_schema().empty_table()


def _joined(first: pa.Table, second: pa.Table, name: str) -> str | None:
    if name not in first.column_names:
        return None
    return ";".join(str(t.column(name)[0].as_py()) for t in (first, second))
