"""Example cycling data: every ageing cell run through the BIG-MAP protocol until 80 % SoH.

Protocol (``cycling-and-xas.md`` §3.3), window 2.5-4.2 V, 1C = active mass x 225 mAh/g:
rest 6 h; 3 formation cycles (CC C/10 to 4.2 V, CV to C/20; CC C/10 to 2.5 V); a check-up
(CC C/20 + CV to C/50 on charge; CC C/20 + CV at 2.5 V to C/50 on discharge); then blocks
of 20 ageing cycles (CC 1C + CV to C/20; CC 1C) each followed by a check-up, until a
check-up finds SoH <= 0.80.

Cell model: stored charge q on an LNO||graphite open-circuit curve OCV(q/Q) with the H2-H3
plateau near 4.15 V, an ohmic resistance R (IR drop, CV tails), capacity Q fading linearly
and with sqrt(cycles), R growing, extra charge lost to the SEI in formation. Each phase is
solved on a fine grid of q; points are recorded like EC-Lab (every dE or dt in CC, every
third of the current in CV) with the exact charge passed between recorded points as
``dq``, so the capacities in the files sum to the ground truth.

Files: ``raw/cycling/<id>/<id>_C01.mpt`` (one cell continued in a second file after a 3 h
stop across the spring DST change; provider B exports with decimal commas) and the ground
truth in ``ground_truth/cycling/<id>.json``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from scipy.interpolate import PchipInterpolator

from .eclab import write_mpt
from .samples import Sample, ageing_cells
from .truth import write_truth

SPECIFIC_CAPACITY_1C_MAH_PER_G = 225.0
V_MAX, V_MIN = 4.2, 2.5
EOL_SOH = 0.80
AGEING_BLOCK = 20
MAX_CYCLES = 400

# Full-cell open-circuit voltage vs fraction of the stored charge; LNO H2-H3 plateau at 4.12-4.16 V.
OCV_KNOTS = (
    (0.00, 2.00), (0.01, 2.55), (0.03, 3.20), (0.06, 3.42), (0.10, 3.52), (0.20, 3.60), (0.30, 3.66),
    (0.45, 3.74), (0.60, 3.86), (0.72, 3.97), (0.80, 4.06), (0.86, 4.12), (0.90, 4.14), (0.95, 4.16),
    (0.98, 4.20), (1.00, 4.40),
)
OCV = PchipInterpolator(*np.array(OCV_KNOTS).T)
_SOC_TABLE = np.linspace(0.0, 1.0, 4001)
_OCV_TABLE = OCV(_SOC_TABLE)

# Begin-of-life cell: charge stored over the whole OCV curve per gram of LNO, ohmic resistance x mass.
STORED_CAPACITY_AH_PER_G = 0.232
RESISTANCE_OHM_G = 0.35  # 35 ohm for 10 mg: ~80 mV IR drop at 1C
LINEAR_FADE_PER_CYCLE = 0.0011
SQRT_FADE = 0.004  # capacity loss x sqrt(cycles)
RESISTANCE_GROWTH_PER_CYCLE = 0.004
CELL_SPREAD = {"capacity": 0.01, "resistance": 0.05, "fade": 0.05}  # relative standard deviations

# Fade multipliers (the faulty cell is the one the series statistics should single out).
SERIES_FADE = {"no LiTDI": 1.0, "dried LiTDI": 0.8, "non-dried LiTDI": 1.3}
PROVIDER_FADE = {"ProviderA": 1.0, "ProviderB": 1.1}
FAULTY_CELL = "LNO-LTD-A-02"
FAULTY_FADE = 2.4
CONTINUED_CELL = "LNO-REF-A-01"
CONTINUATION_AFTER_DAYS = 20.0  # the first file stops at the first ageing cycle after this
STOP_HOURS = 3.0
FIRST_START_LOCAL = dt.datetime(2023, 3, 6, 9, 0, 0)

# EC-Lab recording settings.
RECORD_DE_VOLT = 0.25
RECORD_DT_SECOND = 3600.0
RECORD_CV_CURRENT_FACTOR = 3.0
FINE_POINTS = 240


def ocv_volt(soc: np.ndarray) -> np.ndarray:
    """Open-circuit voltage (V) at a fraction of the stored charge."""
    return OCV(np.clip(soc, 0.0, 1.0))


def soc_at_ocv(voltage_volt: float) -> float:
    """Fraction of the stored charge at an open-circuit voltage (V)."""
    return float(np.interp(voltage_volt, _OCV_TABLE, _SOC_TABLE))


@dataclass
class Cell:
    """Model parameters of one cell (capacities in Ah, resistance in ohm)."""

    sample: Sample
    one_c_a: float
    capacity_ah: float  # charge stored between OCV(0) and OCV(1) at begin of life
    resistance_ohm: float
    linear_fade_per_cycle: float
    sqrt_fade: float
    resistance_growth_per_cycle: float

    def capacity_at(self, cycle: int) -> float:
        return self.capacity_ah * (1 - self.linear_fade_per_cycle * cycle - self.sqrt_fade * np.sqrt(cycle))

    def resistance_at(self, cycle: int) -> float:
        return self.resistance_ohm * (1 + self.resistance_growth_per_cycle * cycle)


def make_cell(sample: Sample, rng: np.random.Generator) -> Cell:
    """A cell of ``sample``: nominal values scaled by its series, provider and a random cell-to-cell spread."""
    mass_g = sample.active_mass_mg / 1000
    fade = SERIES_FADE[sample.series] * PROVIDER_FADE[sample.provider] * rng.normal(1.0, CELL_SPREAD["fade"])
    if sample.sample_id == FAULTY_CELL:
        fade *= FAULTY_FADE
    return Cell(
        sample=sample,
        one_c_a=mass_g * SPECIFIC_CAPACITY_1C_MAH_PER_G / 1000,
        capacity_ah=mass_g * STORED_CAPACITY_AH_PER_G * rng.normal(1.0, CELL_SPREAD["capacity"]),
        resistance_ohm=RESISTANCE_OHM_G / mass_g * rng.normal(1.0, CELL_SPREAD["resistance"]),
        linear_fade_per_cycle=LINEAR_FADE_PER_CYCLE * fade,
        sqrt_fade=SQRT_FADE * fade,
        resistance_growth_per_cycle=RESISTANCE_GROWTH_PER_CYCLE * fade,
    )


class Recording:
    """Recorded points of the whole test (absolute test time) and the exact charge between them."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.pieces: list[dict] = []
        self.time_s = 0.0
        self.passed_mah = 0.0  # signed charge passed since the test start (model truth)
        self.recorded_mah = 0.0  # the same at the last recorded point
        self.energies_wh: list[float] = []  # exact energy of each phase (signed like the charge)

    def add(self, time_s, voltage, current_a, passed_mah, record, step_id: int, mode: str) -> None:
        """Append a phase's fine grid (times relative to the phase start; passed charge signed, cumulative)."""
        if not self.pieces:  # the very first point of the test is recorded too
            record = np.r_[True, record[1:]]
        keep = np.flatnonzero(record)
        total_mah = self.passed_mah + passed_mah[keep]
        noise_v = self.rng.normal(0.0, 3e-4, keep.size)
        noise_i = 1 + self.rng.normal(0.0, 2e-4, keep.size)
        self.pieces.append({
            "time_s": self.time_s + time_s[keep], "voltage": voltage[keep] + noise_v,
            "current_a": current_a[keep] * noise_i, "dq_mah": np.diff(total_mah, prepend=self.recorded_mah),
            "step_id": np.full(keep.size, step_id), "mode": np.full(keep.size, mode, dtype=object),
        })
        self.energies_wh.append(float(np.sum(0.5 * (voltage[1:] + voltage[:-1]) * np.diff(passed_mah))) / 1e3)
        self.time_s += time_s[-1]
        self.passed_mah += passed_mah[-1]
        self.recorded_mah = total_mah[-1] if keep.size else self.recorded_mah

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate([p[k] for p in self.pieces]) for k in self.pieces[0]}


def _sampled(values: np.ndarray, quantum: float, time_s: np.ndarray) -> np.ndarray:
    """EC-Lab-like recording mask: a point where ``values`` crosses a multiple of ``quantum`` or every
    ``RECORD_DT_SECOND``, and the phase end; never the phase start (the previous phase's end)."""
    record = np.zeros(values.size, dtype=bool)
    record[1:] = (np.diff(np.floor(values / quantum)) != 0) | (np.diff(np.floor(time_s / RECORD_DT_SECOND)) != 0)
    record[-1] = values.size > 1
    return record


class CellRun:
    """Runs one cell through the protocol, phase by phase, keeping the stored charge ``q_ah``."""

    def __init__(self, cell: Cell, rng: np.random.Generator):
        self.cell, self.rec = cell, Recording(rng)
        self.q_ah = 0.0
        self.cycle = 0
        self.sei_loss = 0.0  # extra charge per stored charge lost on charge (formation)

    @property
    def capacity(self) -> float:
        return self.cell.capacity_at(self.cycle)

    @property
    def resistance(self) -> float:
        return self.cell.resistance_at(self.cycle)

    def rest(self, hours: float, step_id: int) -> None:
        time_s = np.linspace(0.0, hours * 3600, int(hours * 2) + 1)
        v = ocv_volt(self.q_ah / self.capacity) + 0.01 * (1 - np.exp(-time_s / 3600))
        self.rec.add(time_s, v, np.zeros_like(time_s), np.zeros_like(time_s), np.r_[False, np.ones(time_s.size - 1, bool)],
                     step_id, "REST")

    def constant_current(self, current_a: float, step_id: int) -> None:
        """CC charge (current > 0) to V_MAX or discharge to V_MIN."""
        charging = current_a > 0
        q_end = self.capacity if charging else 0.0
        q = np.linspace(self.q_ah, q_end, FINE_POINTS)
        v = ocv_volt(q / self.capacity) + current_a * self.resistance
        beyond = (v >= V_MAX) if charging else (v <= V_MIN)
        if beyond[0]:
            return
        stop = int(np.argmax(beyond)) if beyond.any() else q.size - 1
        if beyond.any():  # interpolate the crossing of the voltage limit
            limit = V_MAX if charging else V_MIN
            frac = (limit - v[stop - 1]) / (v[stop] - v[stop - 1])
            q[stop] = q[stop - 1] + frac * (q[stop] - q[stop - 1])
            v[stop] = limit
        q, v = q[: stop + 1], v[: stop + 1]
        passed_ah = (q - q[0]) * (1 + self.sei_loss if charging else 1.0)
        time_s = np.abs(passed_ah) / abs(current_a) * 3600
        self.rec.add(time_s, v, np.full(q.size, current_a), passed_ah * 1e3, _sampled(v, RECORD_DE_VOLT, time_s),
                     step_id, "CC")
        self.q_ah = q[-1]

    def constant_voltage(self, voltage: float, cutoff_a: float, step_id: int) -> None:
        """Hold ``voltage`` until |I| falls to ``cutoff_a``; I = (V - OCV)/R."""
        charging = voltage >= V_MAX
        r, capacity = self.resistance, self.capacity
        target_ocv = voltage - cutoff_a * r if charging else voltage + cutoff_a * r
        q_end = soc_at_ocv(target_ocv) * capacity
        if (q_end <= self.q_ah) if charging else (q_end >= self.q_ah):
            return
        q = np.linspace(self.q_ah, q_end, FINE_POINTS)
        current_a = (voltage - ocv_volt(q / capacity)) / r
        current_a[-1] = cutoff_a if charging else -cutoff_a
        factor = 1 + self.sei_loss if charging else 1.0
        passed_ah = (q - q[0]) * factor
        seconds_per_ah = 3600 / np.abs(current_a)
        time_s = np.r_[0.0, np.cumsum(0.5 * (seconds_per_ah[1:] + seconds_per_ah[:-1]) * np.abs(np.diff(passed_ah)))]
        log_current = np.log(np.abs(current_a)) / np.log(RECORD_CV_CURRENT_FACTOR)
        self.rec.add(time_s, np.full(q.size, voltage), current_a, passed_ah * 1e3,
                     _sampled(-log_current, 1.0, time_s), step_id, "CV")
        self.q_ah = q[-1]

    def discharged(self, since_piece: int) -> tuple[float, float]:
        """Charge (Ah) and exact energy (Wh) delivered on discharge in the phases from ``since_piece`` on."""
        charge_mah = -sum(p["dq_mah"][p["dq_mah"] < 0].sum() for p in self.rec.pieces[since_piece:])
        energy_wh = -sum(e for e in self.rec.energies_wh[since_piece:] if e < 0)
        return charge_mah / 1e3, energy_wh

    def full_cycle(self, rate: float, charge_cutoff: float, discharge_cutoff: float | None,
                   steps: tuple[int, int]) -> tuple[float, float]:
        """One charge-first cycle; returns its discharge capacity (Ah) and energy (Wh), CV tail included."""
        one_c = self.cell.one_c_a
        first_piece = len(self.rec.pieces)
        self.constant_current(rate * one_c, steps[0])
        self.constant_voltage(V_MAX, charge_cutoff * one_c, steps[0])
        self.constant_current(-rate * one_c, steps[1])
        if discharge_cutoff:
            self.constant_voltage(V_MIN, discharge_cutoff * one_c, steps[1])
        self.cycle += 1
        self.sei_loss = 0.002
        self.q_ah = min(self.q_ah, self.capacity)
        return self.discharged(first_piece)


# Ns of the EC-Lab program.
NS_REST, NS_FORMATION, NS_CHECKUP, NS_AGEING = 0, (1, 2), (3, 4), (5, 6)
FORMATION_SEI_LOSS = (0.15, 0.03, 0.01)


def run_protocol(cell: Cell, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict, list[float]]:
    """The whole test of one cell: recorded arrays, the ground truth and the start times (s) of the ageing cycles."""
    run = CellRun(cell, rng)
    stages = ["rest"]
    run.rest(6.0, NS_REST)
    for loss in FORMATION_SEI_LOSS:
        run.sei_loss = loss
        run.full_cycle(0.1, 1 / 20, None, NS_FORMATION)
        stages.append("formation")
    checkups, ageing_starts_s = [], []
    while run.cycle < MAX_CYCLES:
        capacity_ah, energy_wh = run.full_cycle(1 / 20, 1 / 50, 1 / 50, NS_CHECKUP)
        stages.append("checkup")
        soh = capacity_ah / checkups[0]["discharge_capacity_ah"] if checkups else 1.0
        checkups.append({"checkup_index": len(checkups), "cycle_count": run.cycle,
                         "discharge_capacity_ah": capacity_ah, "soh": soh,
                         "mean_discharge_voltage_volt": energy_wh / capacity_ah})
        if soh <= EOL_SOH:
            break
        for _ in range(AGEING_BLOCK):
            ageing_starts_s.append(run.rec.time_s)
            run.full_cycle(1.0, 1 / 20, None, NS_AGEING)
            stages.append("ageing")
    eol = next((c["cycle_count"] for c in checkups if c["soh"] <= EOL_SOH), None)
    truth = {
        "sample_id": cell.sample.sample_id,
        "active_mass_mg": cell.sample.active_mass_mg,
        "one_c_ampere": cell.one_c_a,
        "faulty": cell.sample.sample_id == FAULTY_CELL,
        "stages": stages,
        "checkups": checkups,
        "eol_reached": eol is not None,
        "eol_cycle_count": eol,
        "model": {"capacity_ah": cell.capacity_ah, "resistance_ohm": cell.resistance_ohm,
                  "linear_fade_per_cycle": cell.linear_fade_per_cycle, "sqrt_fade": cell.sqrt_fade},
    }
    return run.rec.arrays(), truth, ageing_starts_s


def _split_point(ageing_starts_s: list[float]) -> float | None:
    later = [t for t in ageing_starts_s if t > CONTINUATION_AFTER_DAYS * 86400]
    return later[0] if later else None


def write_cell(data_dir: Path, cell: Cell, arrays: dict[str, np.ndarray], split_s: float | None,
               start_local: dt.datetime) -> list[dict]:
    """Write the cell's .mpt file, or two when ``split_s`` (test time) starts a continuation; returns the files written.

    The continuation starts ``STOP_HOURS`` after the split (the cell rested unrecorded) with
    its own acquisition start and time/s from about 0, as EC-Lab writes a new file.
    """
    sample = cell.sample
    zone = ZoneInfo(sample.timezone)
    start_utc = start_local.replace(tzinfo=zone).astimezone(dt.timezone.utc)
    after_split = arrays["time_s"] >= (split_s if split_s is not None else np.inf)
    absolute_s = arrays["time_s"] + np.where(after_split, STOP_HOURS * 3600, 0.0)
    segments = [("C01", ~after_split, 0.0)]
    if split_s is not None:
        segments.append(("C01_continuation", after_split, split_s + STOP_HOURS * 3600))
    files = []
    for suffix, rows, file_start_s in segments:
        file_start_utc = start_utc + dt.timedelta(seconds=file_start_s)
        file_start_local = file_start_utc.astimezone(zone).replace(tzinfo=None)
        path = data_dir / "raw" / "cycling" / sample.sample_id / f"{sample.sample_id}_{suffix}.mpt"
        write_mpt(path, start_local=file_start_local, time_second=absolute_s[rows] - file_start_s,
                  voltage_volt=arrays["voltage"][rows], current_ampere=arrays["current_a"][rows],
                  step_id=arrays["step_id"][rows], control_mode=arrays["mode"][rows],
                  charge_increment_mah=arrays["dq_mah"][rows], decimal_comma=sample.provider == "ProviderB",
                  active_mass_mg=sample.active_mass_mg)
        files.append({"path": str(path.relative_to(data_dir)), "start_local": file_start_local.isoformat(),
                      "start_utc": file_start_utc.isoformat(), "rows": int(rows.sum())})
    return files


def generate(data_dir: Path, *, seed: int = 0) -> dict:
    """Simulate every ageing cell and write its files and ground truth; returns {sample_id: ground truth}."""
    data_dir = Path(data_dir)
    truths = {}
    for index, sample in enumerate(ageing_cells()):
        rng = np.random.default_rng([seed, index])
        cell = make_cell(sample, rng)
        arrays, truth, ageing_starts_s = run_protocol(cell, rng)
        split_s = _split_point(ageing_starts_s) if sample.sample_id == CONTINUED_CELL else None
        files = write_cell(data_dir, cell, arrays, split_s, FIRST_START_LOCAL + dt.timedelta(hours=2 * index))
        truth |= {"timezone": sample.timezone, "files": files,
                  "continuation_stop_hours": STOP_HOURS if split_s is not None else 0.0}
        out = data_dir / "ground_truth" / "cycling" / f"{sample.sample_id}.json"
        write_truth(out, truth)
        truths[sample.sample_id] = truth
    return truths
