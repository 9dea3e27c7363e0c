"""The cycling time series built batch by batch, in bounded memory; ``build_timeseries`` runs it on whole files.

A cycler file too big to hold, or still being written, arrives as ``READER_COLUMNS`` record
batches, file after file in time order. ``TimeseriesBuilder`` stitches and derives them with
the rules of ``science.cycling.build_timeseries`` and returns the rows whose values can no
longer change. It holds back the rows of the last run of equal (step, step type, current
sign), whose type and step count may still change, and trailing rests, which take the cycle
of the next non-rest row; ``finish()`` returns them labelled as if the data ended there.

Batch by batch, it gives what it gives for whole files (``build_timeseries``), value for
value, except: (1) rows of a file without a start time that comes before the first file with
one get no Unix time (``build_timeseries`` back-dates them from the later file's anchor);
(2) for formats that record no control mode, ``infer_control_mode`` judges a step's tiny
currents (< 1e-6 x max |I|) against the largest |I| of the rows in hand, not of the whole
file; (3) a file decides between the instrument's capacity counters and Σ I·dt on its first batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from ..readers.cycler_common import block_index
from .cycling import (_CARRIED, _CC_CHG, _CV_CHG, _REST, _floats, _strings, current_signs, start_unix_second,
                      step_types, timeseries_table)


@dataclass
class _FileState:
    index: int
    name: str
    start_unix_s: float | None
    offset_s: float | None = None  # added to the file's test time; set by its first row
    from_counters: bool | None = None  # the instrument's capacities, else Σ I·dt
    last_time_s: float | None = None
    charge_ah: float = 0.0  # Σ I·dt totals since file start
    discharge_ah: float = 0.0


@dataclass
class _Labels:
    """Derived values of the last row handed out, from which the next rows continue."""

    voltage_volt: float
    charging_capacity_ah: float
    discharging_capacity_ah: float
    charging_energy_wh: float
    discharging_energy_wh: float
    step_key: float
    step_type: int
    sign: int
    step_count: int
    active_cycle_count: int  # cycle of the last non-rest row handed out
    last_active_charging: bool
    seen_charge: bool
    max_current_ampere: float


class TimeseriesBuilder:
    """Stitch and derive a cell's reader batches incrementally into ``cycling_timeseries`` rows.

    Call ``start_file(metadata)`` before each file's batches (files in time order), ``add(batch)``
    for each batch, and ``finish()`` once at the end. Concatenating every returned table gives
    the whole time series. ``rows_out`` counts the rows handed out; ``warnings`` collects notes.
    """

    def __init__(self, *, sample_id: str, timezone: str):
        self.sample_id = sample_id
        self.timezone = timezone
        self.warnings: list[str] = []
        self.rows_out = 0
        self._zone = ZoneInfo(timezone)
        self._file: _FileState | None = None
        self._files_started = 0
        self._anchor_unix_s: float | None = None
        self._previous_end_s: float | None = None  # stitched test time of the last row seen
        self._carried = dict.fromkeys(_CARRIED, 0.0)  # counters' base for the current file
        self._last_finite = dict.fromkeys(_CARRIED)  # last finite stitched values of the current file
        self._held: dict | None = None  # stitched columns of rows not handed out yet
        self._labels: _Labels | None = None

    @property
    def anchor_unix_s(self) -> float | None:
        """Unix s of stitched test time 0, from the first file with a start time (None before one)."""
        return self._anchor_unix_s

    def start_file(self, metadata: dict, *, name: str | None = None) -> None:
        """Begin the next file; ``metadata`` is its reader metadata (``start_time_local`` read here)."""
        for key, value in self._last_finite.items():
            if value is not None:
                self._carried[key] = value
        self._last_finite = dict.fromkeys(_CARRIED)
        start_unix_s = start_unix_second(metadata, self._zone)
        name = name or metadata.get("source_file") or str(self._files_started)
        if start_unix_s is None:
            self.warnings.append(f"file {name} has no start time: placed right after the file before it")
        self._file = _FileState(self._files_started, name, start_unix_s)
        self._files_started += 1

    def add(self, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        """Stitch one batch of the current file; returns the rows that became final (maybe none)."""
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        if table.num_rows == 0:
            return self._empty()
        columns = self._stitch(table)
        if self._held is not None:
            columns = {name: _concatenate(self._held[name], columns[name]) for name in columns}
        derived = self._derive(columns)
        final = _final_row_count(columns, derived)
        self._held = {name: values[final:] for name, values in columns.items()}
        return self._hand_out(columns, derived, final)

    def finish(self) -> pa.Table:
        """The rows held back, labelled as if the data ended here (trailing rests keep the last cycle)."""
        if self._held is None or len(self._held["test_time_second"]) == 0:
            return self._empty()
        columns, self._held = self._held, None
        return self._hand_out(columns, self._derive(columns), len(columns["test_time_second"]))

    # --- stitching (as build_timeseries, one batch at a time) ----------------------------------

    def _stitch(self, table: pa.Table) -> dict:
        file = self._file
        if file is None:
            raise ValueError("call start_file before add")
        time_s = _floats(table, "test_time_second")
        if file.offset_s is None:
            file.offset_s = self._time_offset(time_s[0])
            if self._anchor_unix_s is None and file.start_unix_s is not None:
                self._anchor_unix_s = file.start_unix_s - file.offset_s
        charge_ah, discharge_ah = self._capacities(table, time_s)
        columns = {
            "file_index": np.full(len(time_s), file.index, dtype=np.int32),
            "test_time_second": file.offset_s + time_s,
            "voltage_volt": _floats(table, "voltage_volt"),
            "current_ampere": _floats(table, "current_ampere"),
            "charging_capacity_ah": self._carried["charging_capacity_ah"] + charge_ah,
            "discharging_capacity_ah": self._carried["discharging_capacity_ah"] + discharge_ah,
            "temperature_celsius": _floats(table, "temperature_celsius"),
            "vendor_cycle_number": self._carried["vendor_cycle_number"] + _floats(table, "vendor_cycle_number"),
            "step_id": _floats(table, "step_id"),
            "control_mode": _strings(table, "control_mode"),
            "source_file": _strings(table, "source_file"),
            "source_sha256": _strings(table, "source_sha256"),
            "code_version": _strings(table, "code_version"),
        }
        for name in _CARRIED:
            finite = columns[name][np.isfinite(columns[name])]
            if finite.size:
                self._last_finite[name] = float(finite[-1])
        self._previous_end_s = float(columns["test_time_second"][-1])
        return columns

    def _time_offset(self, first_time_s: float) -> float:
        """As ``cycling._time_offset``: seconds that place this file after the ones before it."""
        file = self._file
        if self._previous_end_s is None:
            return 0.0
        if file.start_unix_s is None or self._anchor_unix_s is None:
            return self._previous_end_s - first_time_s
        offset_s = file.start_unix_s - self._anchor_unix_s
        if offset_s + first_time_s < self._previous_end_s:
            self.warnings.append(f"file {file.index} starts {self._previous_end_s - offset_s - first_time_s:.0f} s "
                                 "before the previous file ends: placed right after it")
            return self._previous_end_s - first_time_s
        return offset_s

    def _capacities(self, table: pa.Table, time_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative capacities in Ah since file start: the instrument's counters, else Σ I·Δt continued."""
        file = self._file
        charge, discharge = _floats(table, "charging_capacity_ah"), _floats(table, "discharging_capacity_ah")
        if file.from_counters is None:
            file.from_counters = bool(np.isfinite(charge).all() and np.isfinite(discharge).all())
        if not file.from_counters:
            current_a = np.nan_to_num(_floats(table, "current_ampere"))
            previous_s = time_s[:1] if file.last_time_s is None else [file.last_time_s]
            increments_ah = current_a * np.diff(time_s, prepend=previous_s) / 3600.0
            charge = np.cumsum(np.r_[file.charge_ah, np.clip(increments_ah, 0, None)])[1:]
            discharge = np.cumsum(np.r_[file.discharge_ah, np.clip(-increments_ah, 0, None)])[1:]
            file.charge_ah, file.discharge_ah = float(charge[-1]), float(discharge[-1])
        file.last_time_s = float(time_s[-1])
        return charge, discharge

    # --- derivation, continued from the last row handed out ------------------------------------

    def _derive(self, columns: dict) -> dict[str, np.ndarray]:
        labels = self._labels
        voltage, current = columns["voltage_volt"], columns["current_ampere"]
        prior_max = labels.max_current_ampere if labels else 0.0
        step_type = step_types(current, voltage, columns["control_mode"], columns["step_id"],
                               prior_max_current_ampere=prior_max)
        step_key = np.nan_to_num(columns["step_id"], nan=-1.0)
        derived = {"step_type": step_type, "sign": current_signs(current, prior_max), "step_key": step_key}
        for direction in ("charging", "discharging"):
            derived[f"{direction}_energy_wh"] = self._energy(columns, direction)
        if labels is None:
            derived["step_count"] = block_index(step_key, step_type)
        else:
            derived["step_count"] = labels.step_count + block_index(
                np.r_[labels.step_key, step_key], np.r_[labels.step_type, step_type])[1:]
        derived["cycle_count"] = self._cycles(step_type)
        return derived

    def _energy(self, columns: dict, direction: str) -> np.ndarray:
        """Σ V·dQ in Wh (trapezoid V), summed in the same order as over the whole series."""
        labels = self._labels
        voltage, capacity = columns["voltage_volt"], columns[f"{direction}_capacity_ah"]
        if labels is None:
            previous_v, previous_q, energy_wh = voltage[0], capacity[0], 0.0
        else:
            previous_v = labels.voltage_volt
            previous_q = getattr(labels, f"{direction}_capacity_ah")
            energy_wh = getattr(labels, f"{direction}_energy_wh")
        mid_voltage = 0.5 * (voltage + np.r_[previous_v, voltage[:-1]])
        if labels is None:
            mid_voltage[0] = voltage[0]
        increments = np.diff(capacity, prepend=previous_q) * mid_voltage
        return np.cumsum(np.r_[energy_wh, increments])[1:]

    def _cycles(self, step_type: np.ndarray) -> np.ndarray:
        """As ``cycling.cycle_counts``, continued: +1 at each charge that follows a discharge."""
        labels = self._labels
        last_charging = labels.last_active_charging if labels else False
        cycle, seen_charge = (labels.active_cycle_count, labels.seen_charge) if labels else (0, False)
        n = len(step_type)
        active = np.flatnonzero(step_type != _REST)
        if active.size == 0:
            return np.full(n, cycle, dtype=np.int64)
        charging = (step_type[active] == _CC_CHG) | (step_type[active] == _CV_CHG)
        starts = charging & ~np.r_[last_charging, charging[:-1]]
        active_cycle = cycle + np.cumsum(starts)
        cycles = active_cycle[np.minimum(np.searchsorted(active, np.arange(n)), active.size - 1)].astype(np.int64)
        if not seen_charge:
            cycles[: active[np.argmax(charging)] if charging.any() else n] = 0
        return cycles

    def _hand_out(self, columns: dict, derived: dict, count: int) -> pa.Table:
        if count == 0:
            return self._empty()
        last = count - 1
        step_type = derived["step_type"][:count]
        active = step_type != _REST
        previous = self._labels
        self._labels = _Labels(
            voltage_volt=float(columns["voltage_volt"][last]),
            charging_capacity_ah=float(columns["charging_capacity_ah"][last]),
            discharging_capacity_ah=float(columns["discharging_capacity_ah"][last]),
            charging_energy_wh=float(derived["charging_energy_wh"][last]),
            discharging_energy_wh=float(derived["discharging_energy_wh"][last]),
            step_key=float(derived["step_key"][last]),
            step_type=int(step_type[last]),
            sign=int(derived["sign"][last]),
            step_count=int(derived["step_count"][last]),
            active_cycle_count=(int(derived["cycle_count"][:count][active][-1]) if active.any()
                                else previous.active_cycle_count if previous else 0),
            last_active_charging=(bool(np.isin(step_type[active][-1], (_CC_CHG, _CV_CHG))) if active.any()
                                  else bool(previous and previous.last_active_charging)),
            seen_charge=bool((previous and previous.seen_charge) or np.isin(step_type, (_CC_CHG, _CV_CHG)).any()),
            max_current_ampere=max(previous.max_current_ampere if previous else 0.0,
                                   float(np.abs(np.nan_to_num(columns["current_ampere"][:count])).max())),
        )
        self.rows_out += count
        rows = {name: values[:count] for name, values in columns.items()}
        return timeseries_table(rows, {name: values[:count] for name, values in derived.items()},
                                sample_id=self.sample_id, timezone=self.timezone, anchor_unix_s=self._anchor_unix_s)

    def _empty(self) -> pa.Table:
        return timeseries_table(_EMPTY_COLUMNS, _EMPTY_DERIVED, sample_id=self.sample_id, timezone=self.timezone,
                                anchor_unix_s=self._anchor_unix_s)


def _final_row_count(columns: dict, derived: dict) -> int:
    """Rows before the last run of equal (step, type, sign) and before trailing rests: these are final."""
    step_type = derived["step_type"]
    runs = block_index(derived["step_key"], step_type, derived["sign"])
    last_run_start = int(np.searchsorted(runs, runs[-1]))
    rest_tail = np.flatnonzero(step_type != _REST)
    trailing_rest_start = int(rest_tail[-1]) + 1 if rest_tail.size else 0
    return min(last_run_start, trailing_rest_start)


def _concatenate(first, second):
    return pa.concat_arrays([first, second]) if isinstance(first, pa.Array) else np.concatenate([first, second])


_EMPTY_COLUMNS = {
    **{name: np.zeros(0) for name in ("test_time_second", "voltage_volt", "current_ampere", "charging_capacity_ah",
                                      "discharging_capacity_ah", "temperature_celsius", "vendor_cycle_number",
                                      "step_id")},
    "file_index": np.zeros(0, dtype=np.int32),
    **{name: pa.array([], pa.string()) for name in ("control_mode", "source_file", "source_sha256", "code_version")},
}
_EMPTY_DERIVED = {"step_type": np.zeros(0, dtype=np.int8), "charging_energy_wh": np.zeros(0),
                  "discharging_energy_wh": np.zeros(0), "cycle_count": np.zeros(0, dtype=np.int64),
                  "step_count": np.zeros(0, dtype=np.int64)}
