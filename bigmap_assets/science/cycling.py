"""Cycling science: stitch a cell's files, segment steps and cycles, summarise each cycle.

Conventions (``cycling-and-xas.md`` §3): current in A, positive on charge; a cycle is a
charge followed by the next discharge (charge-first), a new one starting at each charge
that follows a discharge; rests belong to the half cycle that follows them; the leading
rest (everything before the first charge) is cycle 0. Stages follow the BIG-MAP protocol:
rest 6 h, 3 formation cycles at C/10 (CV to C/20), a C/20 check-up (CV to C/50 on charge
and on discharge), blocks of 20 ageing cycles at 1C (CV to C/20), each followed by a check-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..readers import attach_metadata, metadata_of
from ..readers.cycler_common import CONTROL_MODES, CV, REST, block_index, infer_control_mode
from ..schemas.cycling import CYCLING_CYCLES, CYCLING_TIMESERIES

# |I| at or below this share of the largest |I| counts as rest when no control mode says so
# (0.2 x C/50 when the largest current is 1C: the C/50 cut-off must stay non-rest).
REST_CURRENT_FRACTION = 0.004
COULOMBIC_EFFICIENCY_DEFINITION = "Q_discharge / Q_charge of the same charge-first cycle"

# BIG-MAP protocol (C-rates relative to 1C = active mass x 225 mAh/g).
RATE_CLASSES = {"C/20": 1 / 20, "C/10": 1 / 10, "1C": 1.0}
RATE_TOLERANCE = np.log(np.sqrt(2.0))  # accept a rate within a factor sqrt(2) of its class
STAGE_SIGNATURES = {  # (CC charge rate, CC discharge rate, CV charge cut-off, CV discharge cut-off)
    "formation": ("C/10", "C/10", "C/20", None),
    "checkup": ("C/20", "C/20", "C/50", "C/50"),
    "ageing": ("1C", "1C", "C/20", None),
}
EXPECTED_RUN_LENGTH = {"formation": 3, "checkup": 1, "ageing": 20}
ALLOWED_NEXT_STAGE = {
    "rest": {"formation"}, "formation": {"checkup"}, "checkup": {"ageing"}, "ageing": {"checkup"},
}
MIN_LEADING_REST_HOURS = 5.5
FORMATION_MASS_TOLERANCE = 0.10  # warn when 1C from the formation current and from the mass differ more


# --- stitching -------------------------------------------------------------------------------


def build_timeseries(files: list[pa.Table], *, sample_id: str, timezone: str) -> pa.Table:
    """Stitch a cell's reader tables into one ``cycling_timeseries`` table (UTC, never-resetting counters).

    Files are ordered by absolute start (``start_time_local`` localised in ``timezone``, an
    IANA name); a file without a start time goes right after the one before it in ``files``
    and a warning is recorded. Test time, vendor cycle numbers and cumulative capacities are
    offset by the previous file's last values. Capacities come from the instrument's counters,
    else from integrating I·dt; energies are Σ V·dQ (trapezoid V). Warnings are in
    ``readers.metadata_of(result)["warnings"]``.

    The rows are those of ``cycling_stream.TimeseriesBuilder`` given each file whole (the one
    implementation), Unix times taken from the first dated file for every row, also for an
    undated file before it.
    """
    from .cycling_stream import TimeseriesBuilder  # it builds on this module's functions

    builder = TimeseriesBuilder(sample_id=sample_id, timezone=timezone)
    pieces = []
    for position, (table, _) in enumerate(_order_by_start(files, ZoneInfo(timezone))):
        name = _strings(table, "source_file")[0].as_py() if table.num_rows else None
        builder.start_file(metadata_of(table), name=name or str(position))
        pieces.append(builder.add(table))
    pieces.append(builder.finish())
    stitched = pa.concat_tables(pieces)
    if builder.anchor_unix_s is not None:
        stitched = _dated(stitched, builder.anchor_unix_s)
    return attach_metadata(stitched.combine_chunks(), {"warnings": builder.warnings})


def _dated(timeseries: pa.Table, anchor_unix_s: float) -> pa.Table:
    """``unix_time_second`` and ``utc_time`` of every row from the anchor (Unix s of stitched test time 0)."""
    unix_s = anchor_unix_s + timeseries.column("test_time_second").to_numpy()
    micros = pa.array(np.round(unix_s * 1e6), from_pandas=True).cast(pa.int64())
    for name, values in (("unix_time_second", pa.array(unix_s, from_pandas=True)),
                         ("utc_time", micros.cast(pa.timestamp("us", tz="UTC")))):
        timeseries = timeseries.set_column(timeseries.column_names.index(name), timeseries.field(name), values)
    return timeseries


_CARRIED = ("charging_capacity_ah", "discharging_capacity_ah", "vendor_cycle_number")


def start_unix_second(metadata: dict, zone: ZoneInfo) -> float | None:
    """A file's start (Unix s): its ``start_time_local`` in the timezone the file states (metadata
    ``timezone``, e.g. Arbin's Unix-time dates are UTC), else in ``zone`` (the cell's); None without a start."""
    start = metadata.get("start_time_local")
    if not start:
        return None
    try:
        zone = ZoneInfo(metadata["timezone"]) if metadata.get("timezone") else zone
    except (ValueError, KeyError):  # not an IANA name: the cell's zone
        pass
    return datetime.fromisoformat(start).replace(tzinfo=zone).timestamp()


def _order_by_start(files: list[pa.Table], zone: ZoneInfo) -> list[tuple[pa.Table, float | None]]:
    """Files sorted by absolute start (Unix s); one without a start keeps its place after its predecessor."""
    keyed, previous_key = [], -np.inf
    for position, table in enumerate(files):
        start_unix_s = start_unix_second(metadata_of(table), zone)
        if start_unix_s is not None:
            previous_key = start_unix_s
        keyed.append((previous_key, position, table, start_unix_s))
    keyed.sort(key=lambda item: (item[0], item[1]))
    return [(table, start) for _, _, table, start in keyed]


def _floats(table: pa.Table, name: str) -> np.ndarray:
    """A column as float64 (nulls and a missing column as NaN)."""
    if name not in table.column_names:
        return np.full(table.num_rows, np.nan)
    return np.asarray(table.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)


def _strings(table: pa.Table, name: str) -> pa.Array:
    """A column as one Arrow string array (nulls throughout when missing)."""
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    return table.column(name).cast(pa.string()).combine_chunks()


def timeseries_table(columns: dict, derived: dict[str, np.ndarray], *, sample_id: str, timezone: str,
                     anchor_unix_s: float | None) -> pa.Table:
    """``cycling_timeseries`` rows from stitched columns (as ``build_timeseries`` makes them) and the
    derived ``step_type`` codes, ``charging/discharging_energy_wh``, ``cycle_count`` and ``step_count``.

    Unix time is ``anchor_unix_s`` (Unix s of stitched test time 0) + test time; NaN without an anchor.
    """
    n = len(columns["test_time_second"])
    charge_ah, discharge_ah = columns["charging_capacity_ah"], columns["discharging_capacity_ah"]
    unix_s = anchor_unix_s + columns["test_time_second"] if anchor_unix_s is not None else np.full(n, np.nan)
    micros = pa.array(np.round(unix_s * 1e6), from_pandas=True).cast(pa.int64())
    data = {
        "sample_id": pa.repeat(pa.scalar(sample_id, pa.string()), n),
        "test_time_second": columns["test_time_second"],
        "unix_time_second": pa.array(unix_s, from_pandas=True),
        "utc_time": micros.cast(pa.timestamp("us", tz="UTC")),
        "voltage_volt": columns["voltage_volt"],
        "current_ampere": columns["current_ampere"],
        "charging_capacity_ah": charge_ah,
        "discharging_capacity_ah": discharge_ah,
        "net_capacity_ah": charge_ah - discharge_ah,
        "charging_energy_wh": derived["charging_energy_wh"],
        "discharging_energy_wh": derived["discharging_energy_wh"],
        "temperature_celsius": pa.array(columns["temperature_celsius"], from_pandas=True),
        "cycle_count": derived["cycle_count"],
        "vendor_cycle_number": pa.array(columns["vendor_cycle_number"], from_pandas=True).cast(pa.int64()),
        "step_count": derived["step_count"],
        "step_id": pa.array(columns["step_id"], from_pandas=True).cast(pa.int64()),
        "step_type": step_type_names(derived["step_type"]),
        "file_index": columns["file_index"],
        "timezone": pa.repeat(pa.scalar(timezone, pa.string()), n),
        "source_file": columns["source_file"],
        "source_sha256": columns["source_sha256"],
        "code_version": columns["code_version"],
    }
    return CYCLING_TIMESERIES.conform(pa.table(data))


# --- segmentation ----------------------------------------------------------------------------


STEP_TYPES = ("REST", "CC_CHG", "CV_CHG", "CC_DCH", "CV_DCH")
_REST, _CC_CHG, _CV_CHG, _CC_DCH, _CV_DCH = range(len(STEP_TYPES))
_KNOWN_MODES = pa.array([mode for mode in CONTROL_MODES if mode != "OTHER"])  # codes as in cycler_common


def step_types(current_ampere: np.ndarray, voltage_volt: np.ndarray, control_mode, step_id: np.ndarray, *,
               prior_max_current_ampere: float = 0.0) -> np.ndarray:
    """Step type per row as an index into ``STEP_TYPES`` (REST, CC_CHG, CV_CHG, CC_DCH, CV_DCH).

    The vendor's control mode (CC/CV/REST, any Arrow-convertible sequence) wins where known;
    rows without one are classified per run of equal (step, sign) by
    ``readers.cycler_common.infer_control_mode``. A row is rest when its mode says so or
    |I| <= ``REST_CURRENT_FRACTION`` x the largest |I| up to and including that row (a running
    maximum, so rows already stored keep their type when more data arrive; rows before
    ``current_ampere`` count through ``prior_max_current_ampere``, in A).
    """
    current = np.nan_to_num(np.asarray(current_ampere, dtype=np.float64))
    sign = current_signs(current, prior_max_current_ampere)
    mode = control_mode if isinstance(control_mode, (pa.Array, pa.ChunkedArray)) else pa.array(control_mode, pa.string())
    code = pc.index_in(mode.cast(pa.string()), value_set=_KNOWN_MODES)  # null: OTHER or not recorded
    code = np.asarray(code.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int8)
    unknown = code < 0
    if unknown.any():
        runs = block_index(np.nan_to_num(np.asarray(step_id, dtype=np.float64), nan=-1.0), sign)
        code = np.where(unknown, infer_control_mode(current, voltage_volt, runs), code)
    constant_voltage = code == CV
    types = np.where(sign > 0, np.where(constant_voltage, _CV_CHG, _CC_CHG), np.where(constant_voltage, _CV_DCH, _CC_DCH))
    return np.where((sign == 0) | (code == REST), _REST, types).astype(np.int8)


def current_signs(current_ampere: np.ndarray, prior_max_current_ampere: float = 0.0) -> np.ndarray:
    """+1 charge, -1 discharge, 0 rest per row: |I| above ``REST_CURRENT_FRACTION`` x the running max |I| (A)."""
    current = np.nan_to_num(np.asarray(current_ampere, dtype=np.float64))
    running_max = np.maximum.accumulate(np.r_[max(prior_max_current_ampere, 1e-15), np.abs(current)])[1:]
    rest_level = REST_CURRENT_FRACTION * running_max
    return np.where(current > rest_level, 1, np.where(current < -rest_level, -1, 0)).astype(np.int8)


def step_type_names(codes: np.ndarray) -> pa.Array:
    """``STEP_TYPES`` codes as an Arrow string array."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int8()), pa.array(STEP_TYPES)).cast(pa.string())


def cycle_counts(step_type: np.ndarray) -> np.ndarray:
    """Charge-first cycle number per row from ``step_types`` codes: +1 at each charge following a discharge.

    Everything before the first charge is cycle 0; rest rows take the cycle of the next
    non-rest row (rests attach to what follows); trailing rests keep the last cycle.
    """
    step_type = np.asarray(step_type)
    n = len(step_type)
    active = np.flatnonzero(step_type != _REST)
    charging = (step_type[active] == _CC_CHG) | (step_type[active] == _CV_CHG)
    if not charging.any():
        return np.zeros(n, dtype=np.int64)
    starts = charging & ~np.r_[False, charging[:-1]]
    active_cycle = np.cumsum(starts)
    next_active = np.minimum(np.searchsorted(active, np.arange(n)), active.size - 1)
    first_charge_row = active[np.argmax(charging)]
    return np.where(np.arange(n) < first_charge_row, 0, active_cycle[next_active]).astype(np.int64)


def time_steps_backwards(pieces: Iterable[pa.ChunkedArray]) -> tuple[int, int]:
    """(rows, steps where test time decreases) over consecutive pieces of one ``test_time_second`` column.

    One piece is held at a time, so a time series bigger than memory can be checked from the lake.
    """
    rows, backwards, last_s = 0, 0, -np.inf
    for piece in pieces:
        times = np.asarray(piece.to_numpy(), dtype=np.float64)
        backwards += int((np.diff(times, prepend=last_s) < 0).sum())
        rows += times.size
        last_s = times[-1] if times.size else last_s
    return rows, backwards


# --- per-cycle summary -----------------------------------------------------------------------


# The cycling_timeseries columns summarise_cycles reads (read only these from the lake).
SUMMARY_COLUMNS = ("sample_id", "cycle_count", "test_time_second", "utc_time", "voltage_volt", "current_ampere",
                   "charging_capacity_ah", "discharging_capacity_ah", "charging_energy_wh", "discharging_energy_wh",
                   "step_type")


def summarise_cycles(timeseries: pa.Table, *, active_mass_g: float | None,
                     specific_capacity_mah_per_g: float = 225.0) -> pa.Table:
    """One ``cycling_cycles`` row per cycle: capacities, energies, efficiencies, CV tails, C-rates, stage.

    1C [A] = ``active_mass_g`` x ``specific_capacity_mah_per_g`` / 1000. Without a mass, 1C is
    estimated as 10 x the CC charge current of the first cycle (the first formation cycle at
    C/10); every cycle is flagged then, and also when the two estimates differ by more than
    ``FORMATION_MASS_TOLERANCE``. Stages come from the CC currents relative to 1C, confirmed
    by the CV cut-off currents; deviations from the expected sequence are flagged, never relabelled.
    """
    return summarise_cycles_in_pieces([timeseries], active_mass_g=active_mass_g,
                                      specific_capacity_mah_per_g=specific_capacity_mah_per_g)


def summarise_cycles_in_pieces(pieces: Iterable[pa.Table], *, active_mass_g: float | None,
                               specific_capacity_mah_per_g: float = 225.0) -> pa.Table:
    """``summarise_cycles`` of the pieces' concatenation (consecutive rows of one time series, in order):
    the tables of ``iter_cycles`` in one."""
    tables = list(iter_cycles(pieces, active_mass_g=active_mass_g, specific_capacity_mah_per_g=specific_capacity_mah_per_g))
    if not tables:
        return CYCLING_CYCLES.arrow_schema().empty_table()
    return attach_metadata(CYCLING_CYCLES.conform(pa.concat_tables(tables)),
                           {"coulombic_efficiency": COULOMBIC_EFFICIENCY_DEFINITION})


def iter_cycles(pieces: Iterable[pa.Table], *, active_mass_g: float | None,
                specific_capacity_mah_per_g: float = 225.0) -> Iterator[pa.Table]:
    """The ``cycling_cycles`` rows of the pieces' concatenation, as tables of consecutive cycles.

    Memory holds one piece, the rows of one unfinished cycle and the summary rows of one
    unfinished stage run at a time; finished rows are handed out as they come, so neither a
    time series nor a cycle table bigger than memory is ever held (``SUMMARY_COLUMNS`` suffice).
    """
    cycles, pending, previous = None, None, None
    for piece in pieces:
        if piece.num_rows == 0:
            continue
        pending = piece if pending is None else pa.concat_tables([pending, piece])
        cycles = cycles or _CycleTable(_arrays(pending.slice(0, 1))["sample_id"], active_mass_g,
                                       specific_capacity_mah_per_g)
        last_start = _last_cycle_start(pending.column("cycle_count"))
        if last_start:
            done, previous = _cycle_rows(pending.slice(0, last_start), previous)
            yield from cycles.add(done)
            pending = pending.slice(last_start)
    if pending is not None:
        yield from cycles.add(_cycle_rows(pending, previous)[0])
        yield from cycles.finish()


def _last_cycle_start(cycle_count: pa.ChunkedArray) -> int:
    """Row index where the last run of equal ``cycle_count`` starts."""
    values = cycle_count.to_numpy()
    changes = np.flatnonzero(values[1:] != values[:-1])
    return int(changes[-1]) + 1 if changes.size else 0


def _cycle_rows(timeseries: pa.Table, previous: dict | None) -> tuple[list[dict], dict]:
    """Per-cycle rows of whole cycles (``previous``: the counters of the row before, if any), and this last row's."""
    ts = _arrays(timeseries)
    starts = np.flatnonzero(np.r_[True, ts["cycle_count"][1:] != ts["cycle_count"][:-1]])
    ends = np.r_[starts[1:], len(ts["cycle_count"])]
    start_times = timeseries.column("utc_time").take(pa.array(starts)).to_pylist()
    sums = _cycle_sums(ts, starts, previous)
    rows = [_cycle_row(ts, sums, index, start, end) | {"start_utc_time": utc}
            for index, (start, end, utc) in enumerate(zip(starts, ends, start_times))]
    return rows, {name: ts[name][-1:] for name in _COUNTERS}


_COUNTERS = ("charge_ah", "discharge_ah", "charge_wh", "discharge_wh")


class _CycleTable:
    """Per-cycle sums (``_cycle_rows``, in cycle order) finished into ``cycling_cycles`` rows as they arrive.

    C-rates and stages need 1C (known from the first CC charge on), the sequence check needs
    a whole run of equal stages, and only the last cycle can turn out cut short: so only the
    rows before the first CC charge, the current stage run and the newest cycle are held;
    ``add`` and ``finish`` hand out finished rows as tables of ``FINISHED_BATCH_ROWS`` rows or more.
    """

    FINISHED_BATCH_ROWS = 10_000

    def __init__(self, sample_id: str | None, active_mass_g: float | None, specific_capacity_mah_per_g: float):
        self.sample_id, self.active_mass_g, self.specific = sample_id, active_mass_g, specific_capacity_mah_per_g
        self.one_c_a: float | None = None
        self.mass_flag: str | None = None
        self.waiting: list[dict] = []  # summed, not classified yet: 1C unknown
        self.newest: dict | None = None  # the latest cycle: it may still be marked incomplete
        self.discharge_minima: list[float] = []  # min voltage of every earlier cycle with a discharge
        self.run: list[dict] = []  # classified rows of the current stage run
        self.block, self.stage_before = 0, None
        self.finished: list[dict] = []

    def add(self, rows: list[dict]) -> Iterator[pa.Table]:
        """Take the next cycles' sums; hand out the rows finished meanwhile (when there are enough)."""
        for row in rows:
            if self.newest is not None:
                if self.newest["has_discharge"]:
                    self.discharge_minima.append(self.newest["min_voltage_volt"])
                self._wait(self.newest, last=False)
            self.newest = row
        if len(self.finished) >= self.FINISHED_BATCH_ROWS:
            yield self._convert()

    def finish(self) -> Iterator[pa.Table]:
        """The remaining rows, the newest cycle judged as the last."""
        if self.newest is None:
            return
        _mark_last_incomplete(self.newest, self.discharge_minima)
        self._wait(self.newest, last=True)
        self._end_run(last_run=True)
        yield self._convert()

    def _wait(self, row: dict, *, last: bool) -> None:
        self.waiting.append(row)
        if self.one_c_a is None and (row["cc_charge_current_ampere"] or last):
            self.one_c_a, self.mass_flag = _one_c_current(self.waiting, self.active_mass_g, self.specific)
        if self.one_c_a is not None:
            for waiting in self.waiting:
                self._classify(waiting)
            self.waiting = []

    def _classify(self, row: dict) -> None:
        row["c_rate_charge"] = _ratio(row["cc_charge_current_ampere"], self.one_c_a)
        row["c_rate_discharge"] = _ratio(row["cc_discharge_current_ampere"], self.one_c_a)
        row["stage"] = classify_cycle(row, self.one_c_a)
        if self.active_mass_g:
            row["specific_charge_capacity_mah_per_g"] = row["charge_capacity_ah"] * 1000 / self.active_mass_g
            row["specific_discharge_capacity_mah_per_g"] = row["discharge_capacity_ah"] * 1000 / self.active_mass_g
        if self.mass_flag:
            row["flags"].append(self.mass_flag)
        if self.run and row["stage"] != self.run[0]["stage"]:
            self._end_run(last_run=False)
        self.run.append(row)

    def _end_run(self, *, last_run: bool) -> None:
        problems = sequence_problems(self.run, self.block, self.stage_before, last_run=last_run)
        for position, row in enumerate(self.run, start=1):
            row["stage_block"], row["cycle_in_block"] = self.block, position
            row["flags"].extend(problems)
        self.finished += self.run
        self.block, self.stage_before, self.run = self.block + 1, self.run[0]["stage"], []

    def _convert(self) -> pa.Table:
        table = CYCLING_CYCLES.conform(pa.Table.from_pylist([
            {**{k: v for k, v in row.items() if k != "flags"}, "sample_id": self.sample_id,
             "flags": ";".join(row["flags"]) or None}
            for row in self.finished
        ]))
        self.finished = []
        return table


def _arrays(timeseries: pa.Table) -> dict:
    def floats(name):
        return timeseries.column(name).to_numpy(zero_copy_only=False).astype(np.float64)

    sample = timeseries.column("sample_id")[0].as_py() if "sample_id" in timeseries.column_names else None
    return {
        "sample_id": sample,
        "cycle_count": timeseries.column("cycle_count").to_numpy(zero_copy_only=False).astype(np.int64),
        "time_s": floats("test_time_second"),
        "voltage": floats("voltage_volt"),
        "current": floats("current_ampere"),
        "charge_ah": floats("charging_capacity_ah"),
        "discharge_ah": floats("discharging_capacity_ah"),
        "charge_wh": floats("charging_energy_wh"),
        "discharge_wh": floats("discharging_energy_wh"),
        "step_type": np.asarray(pc.index_in(timeseries.column("step_type"), value_set=pa.array(STEP_TYPES))
                                .fill_null(_REST).to_numpy(zero_copy_only=False), dtype=np.int8),
    }


def _cycle_sums(ts: dict, starts: np.ndarray, previous: dict | None = None) -> dict[str, np.ndarray]:
    """Per-cycle sums of the counters' per-row increments (a row's increment is since the previous row;
    ``previous`` holds the counters of the row before ``ts``, else the first row's increment is 0)."""
    kind = ts["step_type"]
    before = previous or {name: ts[name][:1] for name in _COUNTERS}

    def increments(name: str) -> np.ndarray:
        return np.diff(ts[name], prepend=before[name])

    def per_cycle(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, starts)

    d_charge, d_discharge = increments("charge_ah"), increments("discharge_ah")
    return {
        "charge_capacity_ah": per_cycle(d_charge),
        "discharge_capacity_ah": per_cycle(d_discharge),
        "charge_energy_wh": per_cycle(increments("charge_wh")),
        "discharge_energy_wh": per_cycle(increments("discharge_wh")),
        "cv_charge_capacity_ah": per_cycle(np.where(kind == _CV_CHG, d_charge, 0.0)),
        "cv_discharge_capacity_ah": per_cycle(np.where(kind == _CV_DCH, d_discharge, 0.0)),
        "charge_rows": per_cycle(((kind == _CC_CHG) | (kind == _CV_CHG)).astype(np.int64)),
        "discharge_rows": per_cycle(((kind == _CC_DCH) | (kind == _CV_DCH)).astype(np.int64)),
    }


def _cycle_row(ts: dict, sums: dict, index: int, start: int, end: int) -> dict:
    kind = ts["step_type"][start:end]
    current = ts["current"][start:end]
    voltage = ts["voltage"][start:end]
    q_ch, q_dis = float(sums["charge_capacity_ah"][index]), float(sums["discharge_capacity_ah"][index])
    e_ch, e_dis = float(sums["charge_energy_wh"][index]), float(sums["discharge_energy_wh"][index])
    has_charge, has_discharge = bool(sums["charge_rows"][index]), bool(sums["discharge_rows"][index])
    active_voltage = voltage[kind != _REST] if has_charge or has_discharge else voltage
    row = {
        "cycle_count": int(ts["cycle_count"][start]),
        "duration_second": float(ts["time_s"][end - 1] - ts["time_s"][start]),
        "charge_capacity_ah": q_ch,
        "discharge_capacity_ah": q_dis,
        "charge_energy_wh": e_ch,
        "discharge_energy_wh": e_dis,
        "coulombic_efficiency": _ratio(q_dis, q_ch) if has_charge and has_discharge else None,
        "energy_efficiency": _ratio(e_dis, e_ch) if has_charge and has_discharge else None,
        "mean_charge_voltage_volt": _ratio(e_ch, q_ch),
        "mean_discharge_voltage_volt": _ratio(e_dis, q_dis),
        "voltage_hysteresis_volt": None,
        "max_voltage_volt": float(active_voltage.max()),
        "min_voltage_volt": float(active_voltage.min()),
        "cc_charge_current_ampere": _median(current[kind == _CC_CHG]),
        "cc_discharge_current_ampere": _median(-current[kind == _CC_DCH]),
        "cv_charge_capacity_ah": float(sums["cv_charge_capacity_ah"][index]),
        "cv_charge_end_current_ampere": _last_magnitude(current[kind == _CV_CHG]),
        "cv_discharge_capacity_ah": float(sums["cv_discharge_capacity_ah"][index]),
        "cv_discharge_end_current_ampere": _last_magnitude(current[kind == _CV_DCH]),
        "has_charge": has_charge,
        "has_discharge": has_discharge,
        "complete": has_charge == has_discharge,  # a pure rest is complete too
        "flags": [],
    }
    if row["mean_charge_voltage_volt"] is not None and row["mean_discharge_voltage_volt"] is not None:
        row["voltage_hysteresis_volt"] = row["mean_charge_voltage_volt"] - row["mean_discharge_voltage_volt"]
    return row


def _ratio(numerator: float | None, denominator: float) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is not positive."""
    if numerator is None or not denominator > 0:
        return None
    return float(numerator / denominator)


def _median(values: np.ndarray) -> float | None:
    return float(np.median(values)) if values.size else None


def _last_magnitude(values: np.ndarray) -> float | None:
    """|value| of the last point (the CV ends when the current reaches its cut-off), None when empty."""
    return float(abs(values[-1])) if values.size else None


def _one_c_current(rows: list[dict], active_mass_g: float | None, specific_mah_per_g: float) -> tuple[float, str | None]:
    """1C in A from the mass, cross-checked against 10 x the first CC charge current (formation at C/10)."""
    first_charge = next((r["cc_charge_current_ampere"] for r in rows if r["cc_charge_current_ampere"]), None)
    from_formation = 10.0 * first_charge if first_charge else None
    if active_mass_g:
        one_c_a = active_mass_g * specific_mah_per_g / 1000.0
        if from_formation and abs(from_formation / one_c_a - 1) > FORMATION_MASS_TOLERANCE:
            return one_c_a, (f"1C from active mass ({one_c_a * 1e3:.4g} mA) differs from 10 x first CC charge "
                             f"current ({from_formation * 1e3:.4g} mA): check the mass")
        return one_c_a, None
    if from_formation:
        return from_formation, "active mass unknown: 1C taken as 10 x the first CC charge current"
    return float("nan"), "active mass unknown and no CC charge: C-rates unknown"


def _mark_last_incomplete(last: dict, earlier_discharge_minima: list[float]) -> None:
    """A last cycle whose discharge stops > 50 mV above the typical lowest voltage of the others was cut short."""
    if last["complete"] and earlier_discharge_minima and \
            last["min_voltage_volt"] > np.median(earlier_discharge_minima) + 0.05:
        last["complete"] = False
    if not last["complete"] and last["has_charge"]:
        last["flags"].append("incomplete: the data end inside this cycle")


def rate_class(current_a: float | None, one_c_a: float) -> str | None:
    """The protocol C-rate class (C/20, C/10, 1C) within a factor sqrt(2), ``"other"``, or None without current."""
    if current_a is None or not np.isfinite(one_c_a) or current_a <= 0:
        return None
    ratio = current_a / one_c_a
    name, nominal = min(RATE_CLASSES.items(), key=lambda item: abs(np.log(ratio / item[1])))
    return name if abs(np.log(ratio / nominal)) < RATE_TOLERANCE else "other"


def cutoff_class(end_current_a: float | None, one_c_a: float) -> str | None:
    """CV cut-off class: C/50 below 0.0316 C, C/20 up to 0.1 C, ``"above C/10"``, or None without CV."""
    if end_current_a is None or not np.isfinite(one_c_a):
        return None
    ratio = end_current_a / one_c_a
    if ratio < 10 ** -1.5:
        return "C/50"
    return "C/20" if ratio < 0.1 else "above C/10"


def classify_cycle(row: dict, one_c_a: float) -> str:
    """rest, formation, checkup, ageing or unknown; explains an unknown cycle in ``row["flags"]``.

    A complete cycle must match a stage on all four of CC charge rate, CC discharge rate and
    the two CV cut-offs; an incomplete one is judged on its charge half (rate and CV cut-off).
    """
    if not row["has_charge"] and not row["has_discharge"]:
        return "rest"
    observed = (
        rate_class(row["cc_charge_current_ampere"], one_c_a),
        rate_class(row["cc_discharge_current_ampere"], one_c_a),
        cutoff_class(row["cv_charge_end_current_ampere"], one_c_a),
        cutoff_class(row["cv_discharge_end_current_ampere"], one_c_a),
    )
    compared = (0, 1, 2, 3) if row["complete"] else (0, 2)
    for stage, signature in STAGE_SIGNATURES.items():
        if all(observed[i] == signature[i] for i in compared):
            return stage
    row["flags"].append("unclassified: CC charge {}, CC discharge {}, CV charge cut-off {}, CV discharge cut-off {}"
                        .format(*(o or "none" for o in observed)))
    return "unknown"


def check_sequence(rows: list[dict]) -> None:
    """Flag deviations from rest >= 5.5 h, 3 formation, check-up, (20 ageing, check-up)...

    Sets ``stage_block`` (index of the run of equal stages) and ``cycle_in_block`` on every row.
    """
    stages = [r["stage"] for r in rows]
    run_starts = [0] + [i for i in range(1, len(stages)) if stages[i] != stages[i - 1]]
    run_ends = run_starts[1:] + [len(stages)]
    for block, (start, end) in enumerate(zip(run_starts, run_ends)):
        run = rows[start:end]
        problems = sequence_problems(run, block, stages[start - 1] if block else None, last_run=end == len(stages))
        for position, row in enumerate(run, start=1):
            row["stage_block"], row["cycle_in_block"] = block, position
            row["flags"].extend(problems)


def sequence_problems(run: list[dict], block: int, stage_before: str | None, *, last_run: bool) -> list[str]:
    """What is wrong with one run of equal stages (the ``block``-th, after a run of ``stage_before``)."""
    stage, length = run[0]["stage"], len(run)
    problems = []
    if stage == "rest" and block == 0 and run[0]["duration_second"] < MIN_LEADING_REST_HOURS * 3600:
        hours = run[0]["duration_second"] / 3600
        problems.append(f"leading rest of {hours:.2f} h, expected >= {MIN_LEADING_REST_HOURS} h")
    expected = EXPECTED_RUN_LENGTH.get(stage)
    if expected and length != expected and not (stage == "ageing" and last_run and length < expected):
        problems.append(f"{stage} run of {length} cycles, expected {expected}")
    if block == 0 and stage not in ("rest", "formation"):
        problems.append(f"test starts with {stage}, expected rest then formation")
    if block > 0 and stage_before in ALLOWED_NEXT_STAGE and stage not in ALLOWED_NEXT_STAGE[stage_before] \
            and stage != "unknown":
        problems.append(f"{stage} after {stage_before}, expected {' or '.join(sorted(ALLOWED_NEXT_STAGE[stage_before]))}")
    return problems
