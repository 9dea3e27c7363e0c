"""Example operando XAS: a ROCK-style Ni K-edge series in time with the cell's EC-Lab file.

Sample ``LNO-OPXAS-01`` (LiNiO2 || Li, Europe/Paris): one C/5 charge and discharge logged by
EC-Lab every 30 s, and every 20 minutes a 65 s averaged Ni K-edge spectrum written as
SOLEIL's extranormal does (normalised mu, Ni-foil reference, I0) on ROCK's energy grid.
The edge shifts rigidly with the state of charge, +2 eV from LiNiO2 to NiO2 (Ni3+ -> Ni4+).
Ground truth (state of charge, edge shift and edge position of every scan) goes to
``ground_truth/xas/LNO-OPXAS-01.json``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from ..science.alignment import PRACTICAL_CAPACITY_AH_PER_G
from .eclab import write_mpt
from .samples import operando_cells
from .truth import write_truth

SAMPLE_ID = "LNO-OPXAS-01"
START_LOCAL = dt.datetime(2024, 3, 12, 9, 0, 0)
LOG_STEP_SECOND = 30.0
C_RATE = 0.2
REST_HOURS = 0.5
SOC_WINDOW = (0.0, 0.95)
SCAN_EVERY_SECOND = 1200.0
SCAN_DURATION_SECOND = 65.0
EDGE_SHIFT_EV_PER_SOC = 2.0
EDGE_AT_HALF_EV = 8344.6  # edge position at J = 0.5 of the pristine (discharged) cathode
FOIL_E0_EV = 8332.88
PIVOT_E0_EV = 8349.6
NOISE = 0.002  # normalised-mu noise (1 sigma)
RESISTANCE_OHM = 25.0


def rock_energy_grid() -> np.ndarray:
    """ROCK's Ni K grid: 5 eV to 8300, 0.2 eV to 8400, 1 eV to 9500 (1649 points)."""
    return np.round(np.concatenate([np.arange(8060.0, 8300.0, 5.0), np.arange(8300.0, 8400.0, 0.2),
                                    np.arange(8400.0, 9500.5, 1.0)]), 1)


def pristine_norm_mu(energy_ev: np.ndarray) -> np.ndarray:
    """Normalised Ni K edge of LiNiO2: arctan step, white line, damped EXAFS wiggle; 0.5 at EDGE_AT_HALF_EV."""
    x = energy_ev - EDGE_AT_HALF_EV
    step = 0.5 + np.arctan(x / 2.0) / np.pi
    white_line = 0.55 * np.exp(-((x - 8.0) / 4.5) ** 2)
    above = np.clip(x - 15.0, 0.0, None)
    exafs = 0.08 * np.sin(above / 12.0) * np.exp(-above / 250.0) * (x > 15.0)
    return step + white_line * (x > -20) * (1 - np.exp(-np.clip(x + 20, 0, None) / 3.0)) + exafs


def edge_energy_at_half(shift_ev: float) -> float:
    """Exact J = 0.5 crossing of the shifted model edge, found on a 1 meV grid."""
    fine = np.arange(EDGE_AT_HALF_EV - 5.0, EDGE_AT_HALF_EV + 5.0, 0.001)
    values = pristine_norm_mu(fine)
    return float(np.interp(0.5, values, fine)) + shift_ev


def nickel_foil_mu(energy_ev: np.ndarray) -> np.ndarray:
    """Raw absorbance of the Ni reference foil (edge at FOIL_E0_EV)."""
    return 1.05 - 2e-4 * (energy_ev - 8060.0) + 1.0 * (0.5 + np.arctan((energy_ev - FOIL_E0_EV) / 1.2) / np.pi)


def ocv_volt(soc: np.ndarray) -> np.ndarray:
    """Open-circuit voltage of LiNiO2 vs Li (V) from 3.55 V discharged to ~4.25 V at 95 % SoC."""
    return 3.55 + 0.55 * soc + 0.2 * soc ** 6


def cycling_profile(active_mass_g: float) -> dict[str, np.ndarray]:
    """Rest, C/5 charge over SOC_WINDOW, rest, C/5 discharge; sampled every LOG_STEP_SECOND."""
    capacity_ah = active_mass_g * PRACTICAL_CAPACITY_AH_PER_G
    current_a = C_RATE * capacity_ah
    span = SOC_WINDOW[1] - SOC_WINDOW[0]
    phase_s = [REST_HOURS * 3600.0, span / C_RATE * 3600.0, REST_HOURS * 3600.0 / 3, span / C_RATE * 3600.0]
    edges = np.cumsum([0.0, *phase_s])
    time_s = np.arange(0.0, edges[-1] + LOG_STEP_SECOND / 2, LOG_STEP_SECOND)
    phase = np.clip(np.searchsorted(edges, time_s, side="right") - 1, 0, 3)
    current = np.select([phase == 1, phase == 3], [current_a, -current_a], 0.0)
    soc = SOC_WINDOW[0] + np.concatenate([[0.0], np.cumsum(current[1:] * np.diff(time_s))]) / 3600.0 / capacity_ah
    return {"time_second": time_s, "soc": soc, "current_ampere": current,
            "voltage_volt": ocv_volt(soc) + RESISTANCE_OHM * current, "step_id": phase,
            "control_mode": np.where(current == 0.0, "REST", "CC")}


def _header(start_local: dt.datetime, energy_shift_ev: float, edge_step: float, number: int) -> list[str]:
    return [
        "# This file has been produced by extranormal (v 1.0.1 - February 23, 2017)",
        "# O. Roudenko - Synchrotron SOLEIL. Covered by GPL licence.",
        f"#Data from HDF File: /simulated/opxas01_pos1_{number:04d}_00001.nxs to opxas01_pos1_{number:04d}_00024.nxs",
        f"#Time at start={start_local.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]}",
        f"#Time from start (seconds)={SCAN_DURATION_SECOND}",
        "#Sample temperature (C)=nan",
        "# Normalization -------------",
        "# pivot spectrum: LNO_pristine_av1100_00001.txt",
        f"# E0={FOIL_E0_EV}   Eshift={energy_shift_ev:.10g}",
        f"# E0_pivot = {PIVOT_E0_EV}",
        "# pre-edge params: from E0_pivot-240.0 to E0_pivot-50.0",
        f"# pre-edge range: [{PIVOT_E0_EV - 240.0:.1f}, {PIVOT_E0_EV - 50.0:.1f}]",
        "# post-edge params: from E0_pivot+70.0 to E0_pivot+1155.0",
        f"# post-edge range: [{PIVOT_E0_EV + 70.0:.1f}, 9500.0]",
        f"# I jump at E0_pivot = {edge_step:.11g}",
        "# shifted energy\tnormalized\treference\tref.derivative\tI0",
    ]


def generate(data_dir: Path, *, seed: int = 0) -> dict:
    """Write the EC-Lab file, the ROCK-style spectra and the ground truth; returns the ground truth."""
    data_dir = Path(data_dir)
    rng = np.random.default_rng([seed, 4])
    sample = next(s for s in operando_cells() if s.sample_id == SAMPLE_ID)
    zone = ZoneInfo(sample.timezone)
    profile = cycling_profile(sample.active_mass_mg / 1000.0)
    cycling_path = data_dir / "raw" / "cycling" / SAMPLE_ID / f"{SAMPLE_ID}_operando_xas_C01.mpt"
    write_mpt(cycling_path, start_local=START_LOCAL, time_second=profile["time_second"],
              voltage_volt=profile["voltage_volt"], current_ampere=profile["current_ampere"],
              step_id=profile["step_id"], control_mode=profile["control_mode"], decimal_comma=True,
              active_mass_mg=sample.active_mass_mg)

    energy = rock_energy_grid()
    foil = nickel_foil_mu(energy)
    foil_derivative = np.gradient(foil) / np.gradient(energy)
    start_utc = START_LOCAL.replace(tzinfo=zone).astimezone(dt.timezone.utc)
    scan_starts_s = np.arange(SCAN_EVERY_SECOND, profile["time_second"][-1] - SCAN_DURATION_SECOND, SCAN_EVERY_SECOND)
    folder = data_dir / "raw" / "xas" / SAMPLE_ID
    folder.mkdir(parents=True, exist_ok=True)
    scans = []
    for number, scan_start_s in enumerate(scan_starts_s, start=1):
        mid_s = scan_start_s + SCAN_DURATION_SECOND / 2
        soc = float(np.interp(mid_s, profile["time_second"], profile["soc"]))
        shift_ev = EDGE_SHIFT_EV_PER_SOC * soc
        norm = pristine_norm_mu(energy - shift_ev) + rng.normal(0.0, NOISE, energy.size)
        i0 = 15000.0 + 3.0 * (energy - 8060.0) + rng.normal(0.0, 20.0, energy.size)
        local = START_LOCAL + dt.timedelta(seconds=float(scan_start_s))
        edge_step = 0.8 + rng.normal(0.0, 0.002)
        calibration_ev = rng.normal(0.0, 0.03)
        path = folder / f"norm_opxas01_pos1_dq1_{number:04d}_av240_00001.txt"
        rows = "\n".join(f"{e:.1f} {n:.6f} {r:.6f} {d:.7f} {i:.1f}"
                         for e, n, r, d, i in zip(energy, norm, foil, foil_derivative, i0))
        path.write_text("\n".join(_header(local, calibration_ev, edge_step, number)) + "\n" + rows + "\n")
        scans.append({
            "file": str(path.relative_to(data_dir)), "scan_name": f"opxas01_pos1_dq1_{number:04d}",
            "start_local": local.isoformat(), "mid_utc": (start_utc + dt.timedelta(seconds=float(mid_s))).isoformat(),
            "state_of_charge": soc, "edge_shift_ev": shift_ev, "edge_energy_at_half_ev": edge_energy_at_half(shift_ev),
            "voltage_volt": float(np.interp(mid_s, profile["time_second"], profile["voltage_volt"])),
        })
    truth = {
        "sample_id": SAMPLE_ID, "timezone": sample.timezone, "active_mass_mg": sample.active_mass_mg,
        "cycling_file": str(cycling_path.relative_to(data_dir)), "edge_shift_ev_per_soc": EDGE_SHIFT_EV_PER_SOC,
        "state_of_charge": "net capacity / (active mass x 225 mAh/g)", "scan_duration_second": SCAN_DURATION_SECOND,
        "scans": scans,
    }
    out = data_dir / "ground_truth" / "xas" / f"{SAMPLE_ID}.json"
    write_truth(out, truth)
    return truth
