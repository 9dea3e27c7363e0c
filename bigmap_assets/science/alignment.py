"""Joining scans (XAS, diffraction...) to a cell's cycling time series by absolute time.

Each scan's time (start, mid or stop of its acquisition) is placed on the cycling clock:
continuous quantities (voltage, current, capacities, test time) are interpolated linearly
between the two surrounding points; labels (cycle, step, step type) come from the last
point at or before the scan. The offset to the nearest point is recorded, and a scan
before the first point, after the last one, or inside a longer-than-``max_gap_second``
hole of the electrochemistry is flagged.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# LiNiO2: practical capacity used as 1C in the project, and theoretical capacity of one Li per Ni
# (F / (3.6 * 97.63 g/mol)).
PRACTICAL_CAPACITY_AH_PER_G = 0.225
THEORETICAL_CAPACITY_AH_PER_G = 0.2745

CONTINUOUS = ("test_time_second", "voltage_volt", "current_ampere", "net_capacity_ah",
              "charging_capacity_ah", "discharging_capacity_ah")
LABELS = ("cycle_count", "step_count", "step_type")
TIME_REFERENCES = ("start", "mid", "stop")


def _seconds(column: pa.ChunkedArray) -> np.ndarray:
    """UTC timestamps as float seconds since 1970 (NaN for nulls)."""
    micros = pc.cast(column, pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return micros.to_numpy(zero_copy_only=False).astype(float) / 1e6


def _floats(table: pa.Table, name: str) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return pc.cast(table.column(name), pa.float64()).to_numpy(zero_copy_only=False)


def align_scans(scans: pa.Table, timeseries: pa.Table, *, at: str = "mid", active_mass_g: float | None = None,
                max_gap_second: float = 600.0) -> pa.Table:
    """One row per scan, in time order: the scan's columns plus the electrochemistry at its time.

    ``scans`` needs ``<at>_utc_time`` (``at`` = start, mid or stop); ``timeseries`` has the
    ``cycling_timeseries`` columns (``utc_time`` at least). Added: ``scan_utc_time``,
    ``time_reference``, ``time_offset_second`` (scan minus nearest point, s), ``alignment``
    (ok, gap, outside, no_time), the interpolated ``CONTINUOUS`` columns, the ``LABELS`` of the
    preceding point, ``state_of_charge`` = net capacity / (mass x 225 mAh/g) and ``x_li`` =
    1 - net capacity / (mass x 274.5 mAh/g) when ``active_mass_g`` is given. Outside or without a
    time, the electrochemistry columns are null; in a gap they are interpolated across it, and flagged.
    """
    if at not in TIME_REFERENCES:
        raise ValueError(f"at must be one of {TIME_REFERENCES}, not {at!r}")
    time_column = f"{at}_utc_time"
    if time_column not in scans.column_names:
        raise ValueError(f"scans have no {time_column} column")
    scan_time = _seconds(scans.column(time_column))
    order = np.argsort(np.where(np.isnan(scan_time), np.inf, scan_time), kind="stable")
    scans = scans.take(pa.array(order))
    scan_time = scan_time[order]

    if timeseries.column("utc_time").null_count:
        timeseries = timeseries.filter(pc.is_valid(timeseries.column("utc_time")))
    ec_time = _seconds(timeseries.column("utc_time")) if timeseries.num_rows else np.empty(0)
    if ec_time.size and np.any(ec_time[1:] < ec_time[:-1]):
        ec_order = np.argsort(ec_time, kind="stable")
        timeseries, ec_time = timeseries.take(pa.array(ec_order)), ec_time[ec_order]

    n = scans.num_rows
    has_time = ~np.isnan(scan_time)
    if ec_time.size == 0:
        inside = np.zeros(n, dtype=bool)
        status = np.where(has_time, "outside", "no_time")
        offset = np.full(n, np.nan)
        before = np.zeros(n, dtype=int)
    else:
        inside = has_time & (scan_time >= ec_time[0]) & (scan_time <= ec_time[-1])
        before = np.clip(np.searchsorted(ec_time, np.nan_to_num(scan_time), side="right") - 1, 0, ec_time.size - 1)
        after = np.minimum(before + 1, ec_time.size - 1)
        nearest = np.where(np.abs(ec_time[after] - scan_time) < np.abs(scan_time - ec_time[before]), after, before)
        offset = np.where(has_time, scan_time - ec_time[nearest], np.nan)
        gap = (ec_time[after] - ec_time[before]) > max_gap_second
        status = np.where(~has_time, "no_time", np.where(~inside, "outside", np.where(gap, "gap", "ok")))

    out = scans
    for name in ("scan_utc_time", "time_reference", "time_offset_second", "alignment"):
        if name in out.column_names:
            out = out.drop_columns([name])
    out = out.append_column("scan_utc_time", scans.column(time_column).cast(pa.timestamp("us", tz="UTC")))
    out = out.append_column("time_reference", pa.array([at] * n, pa.string()))
    out = out.append_column("time_offset_second", pa.array(offset, pa.float64(), from_pandas=True))
    out = out.append_column("alignment", pa.array(status.astype(object), pa.string()))

    values: dict[str, np.ndarray] = {}
    for name in CONTINUOUS:
        series = _floats(timeseries, name)
        if name == "net_capacity_ah" and np.all(np.isnan(series)):
            series = _floats(timeseries, "charging_capacity_ah") - _floats(timeseries, "discharging_capacity_ah")
        values[name] = np.where(inside, np.interp(scan_time, ec_time, series) if ec_time.size else np.nan, np.nan)
    if active_mass_g:
        values["state_of_charge"] = values["net_capacity_ah"] / (active_mass_g * PRACTICAL_CAPACITY_AH_PER_G)
        values["x_li"] = 1.0 - values["net_capacity_ah"] / (active_mass_g * THEORETICAL_CAPACITY_AH_PER_G)
    else:
        values["state_of_charge"] = values["x_li"] = np.full(n, np.nan)
    for name, array in values.items():
        if name in out.column_names:
            out = out.drop_columns([name])
        out = out.append_column(name, pa.array(array, pa.float64(), from_pandas=True))

    mask = pa.array(~inside)
    for name in LABELS:
        if name in out.column_names:
            out = out.drop_columns([name])
        if name in timeseries.column_names and ec_time.size:
            labels = timeseries.column(name).take(pa.array(before))
            labels = pc.if_else(mask, pa.nulls(n, labels.type), labels)
        else:
            labels = pa.nulls(n, pa.string() if name == "step_type" else pa.int64())
        out = out.append_column(name, labels)
    return out
