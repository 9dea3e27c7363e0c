"""Example operando D2B series: LiNiO2 numors in the ILL NeXus layout, with the cell's cycling file.

Sample ``LNO-OPD2B-01`` (LiNiO2 || graphite, ILL clock Europe/Paris): a C/5 charge and discharge
logged by EC-Lab, and every ``MEASUREMENT_EVERY_SECOND`` a measurement of 10 numors. Numor k of a
measurement starts its detector scan ``0.12 k`` degree higher than numor 0 (interleaved start angles),
then moves in 0.05 degree steps. Counts are Poisson draws of the LiNiO2 pattern (R-3m reflections,
Gaussian peaks with a Caglioti width, flat background) at every pixel's true scattering angle,
scaled by the step's monitor. The lattice parameters follow the state of charge linearly
(a shrinks, c grows: a simplification of the H1-M-H2 sequence). Each file carries the ILL-calibrated
``data`` block (efficiency 1) and the U-shaped ``raw_data`` block.

The committed example set uses ``EXAMPLE_STEPS`` scan steps per numor (a real numor has 25) to stay
small; ``generate(..., steps_per_numor=25)`` writes full numors. Ground truth (state of charge,
lattice parameters, peak positions, widths and areas per measurement) goes to
``ground_truth/d2b/LNO-OPD2B-01.json``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import h5py
import numpy as np

from ..science.d2b_geometry import era_for, pixel_heights_metre, tube_angles_degree, two_theta_degree
from .eclab import write_mpt
from .samples import operando_cells
from .truth import write_truth
from .xas import cycling_profile

SAMPLE_ID = "LNO-OPD2B-01"
START_LOCAL = dt.datetime(2024, 5, 14, 8, 0, 0)
WAVELENGTH_ANGSTROM = 1.594
FIRST_RUN_NUMBER = 612001
NUMORS_PER_MEASUREMENT = 10
EXAMPLE_STEPS = 5
EXAMPLE_MEASUREMENTS = 4
DETECTOR_STEP_DEGREE = 0.05
NUMOR_OFFSET_DEGREE = 0.12
FIRST_DETECTOR_ANGLE_DEGREE = 147.5025
STEP_SECOND = 20.0
DEAD_TIME_SECOND = 8.0
MEASUREMENT_EVERY_SECOND = 7200.0
FIRST_MEASUREMENT_SECOND = 600.0
MONITOR_PER_SECOND = 5000.0
BACKGROUND_PER_MONITOR = 40.0  # counts per 1e6 monitor counts, every pixel
CAGLIOTI_UVW = (0.12, -0.25, 0.22)  # FWHM^2 = U tan^2(theta) + V tan(theta) + W, degree^2
LATTICE_A_ANGSTROM = (2.878, -0.060)  # a = a0 + slope * state of charge
LATTICE_C_ANGSTROM = (14.190, 0.250)
# LiNiO2 (R-3m, hexagonal axes) reflections and their peak areas (counts per 1e6 monitor x degree)
REFLECTIONS = {
    (0, 0, 3): 900.0, (1, 0, 1): 260.0, (0, 0, 6): 60.0, (0, 1, 2): 120.0, (1, 0, 4): 640.0,
    (0, 1, 5): 110.0, (1, 0, 7): 90.0, (0, 1, 8): 160.0, (1, 1, 0): 140.0, (1, 1, 3): 150.0,
    (0, 2, 1): 40.0, (2, 0, 2): 35.0, (0, 2, 4): 60.0, (1, 1, 9): 45.0,
}


def peaks_for(state_of_charge: float, wavelength_angstrom: float = WAVELENGTH_ANGSTROM) -> list[dict]:
    """Peak position (2theta, degree), FWHM (degree) and area of every reflection at a state of charge."""
    a = LATTICE_A_ANGSTROM[0] + LATTICE_A_ANGSTROM[1] * state_of_charge
    c = LATTICE_C_ANGSTROM[0] + LATTICE_C_ANGSTROM[1] * state_of_charge
    u, v, w = CAGLIOTI_UVW
    peaks = []
    for (h, k, l), area in REFLECTIONS.items():
        d = 1.0 / np.sqrt(4.0 / 3.0 * (h * h + h * k + k * k) / a**2 + l * l / c**2)
        theta = np.arcsin(wavelength_angstrom / (2 * d))
        fwhm = np.sqrt(u * np.tan(theta) ** 2 + v * np.tan(theta) + w)
        peaks.append({"hkl": [h, k, l], "d_angstrom": float(d), "two_theta_degree": float(np.degrees(2 * theta)),
                      "fwhm_degree": float(fwhm), "area": area})
    return peaks


def pattern(two_theta: np.ndarray, peaks: list[dict], background: float = BACKGROUND_PER_MONITOR) -> np.ndarray:
    """Expected counts per 1e6 monitor at scattering angles ``two_theta`` (degree): background + Gaussians."""
    result = np.full(np.shape(two_theta), background, float)
    for peak in peaks:
        sigma = peak["fwhm_degree"] / (2 * np.sqrt(2 * np.log(2)))
        result += peak["area"] / (sigma * np.sqrt(2 * np.pi)) * np.exp(-0.5 * ((two_theta - peak["two_theta_degree"])
                                                                               / sigma) ** 2)
    return result


def detector_angles(numor_in_measurement: int, steps: int) -> np.ndarray:
    """Detector angles (degree) of the scan steps of numor k of a measurement."""
    return (FIRST_DETECTOR_ANGLE_DEGREE + NUMOR_OFFSET_DEGREE * numor_in_measurement
            + DETECTOR_STEP_DEGREE * np.arange(steps))


def simulate_counts(rng: np.random.Generator, detector_angle_degree: np.ndarray, monitor_counts: np.ndarray,
                    peaks: list[dict], heights_metre: np.ndarray) -> np.ndarray:
    """Poisson counts [step, tube, pixel] of the pattern at every pixel's true 2theta."""
    angles = two_theta_degree(tube_angles_degree(detector_angle_degree), heights_metre)
    expected = pattern(np.abs(angles), peaks) * (monitor_counts / 1e6)[:, None, None]
    return rng.poisson(expected).astype(np.int32)


def write_numor(path: Path, *, run_number: int, counts: np.ndarray, detector_angle_degree: np.ndarray,
                monitor_counts: np.ndarray, start_local: dt.datetime, step_second: float = STEP_SECOND,
                title: str = "operando LNO", sample_name: str = SAMPLE_ID,
                wavelength_angstrom: float = WAVELENGTH_ANGSTROM, raw_block: bool = True,
                compression: str | None = "gzip") -> None:
    """Write one D2B numor in the ILL NeXus layout. ``counts`` [step, tube, pixel], pixel 0 at the bottom.

    With ``raw_block`` the file has the calibrated ``data`` (here equal to the counts) and the
    U-shaped ``raw_data``, as numors since 2018; without it ``data`` holds the U-shaped raw counts."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    u_shaped = counts.copy()
    u_shaped[:, 1::2, :] = u_shaped[:, 1::2, ::-1]
    steps = counts.shape[0]
    options = {"compression": compression, "shuffle": True} if compression else {}
    with h5py.File(path, "w") as h5:
        entry = h5.create_group("entry0")
        entry.attrs["NX_class"] = "NXentry"
        entry["run_number"] = np.int32(run_number)
        entry["title"] = title
        entry["experiment_identifier"] = "BIGMAP-D53"
        entry["start_time"] = start_local.strftime("%d-%b-%y %H:%M:%S")
        end = start_local + dt.timedelta(seconds=step_second * steps)
        entry["end_time"] = end.strftime("%d-%b-%y %H:%M:%S")
        entry["wavelength"] = np.float32(wavelength_angstrom)
        entry["sample/name"] = sample_name
        instrument = entry.create_group("instrument")
        instrument["name"] = "D2B"
        instrument["2theta/value"] = np.float32(detector_angle_degree[0])
        detector = entry.create_group("data_scan/detector_data")
        if raw_block:
            detector.create_dataset("data", data=counts.astype(np.int32), **options)
            detector.create_dataset("raw_data", data=u_shaped.astype(np.int32), **options)
        else:
            detector.create_dataset("data", data=u_shaped.astype(np.int32), **options)
        scanned = entry.create_group("data_scan/scanned_variables")
        scanned.attrs["NX_class"] = "NXill_data_scan_vars"
        scanned["data"] = np.vstack([detector_angle_degree, np.full(steps, step_second), monitor_counts]).astype(float)
        names = scanned.create_group("variables_names")
        names["name"] = np.array([b"2theta", b"acquisition_time", b"Monitor1"])
        names["property"] = np.array([b"Position", b"Time", b"Monitor"])
        names["unit"] = np.array([b"degree", b"s", b"counts"])
        names["scanned"] = np.array([1, 0, 0], np.int32)
        names["axis"] = np.array([1, 0, 0], np.int32)


def monitor_for(rng: np.random.Generator, steps: int, step_second: float = STEP_SECOND) -> np.ndarray:
    """Monitor counts per step: the beam flux with 1 % fluctuation, Poisson-drawn."""
    return rng.poisson(MONITOR_PER_SECOND * step_second * rng.normal(1.0, 0.01, steps)).astype(float)


def generate(data_dir: Path, *, seed: int = 0, steps_per_numor: int = EXAMPLE_STEPS,
             measurements: int = EXAMPLE_MEASUREMENTS) -> dict:
    """Write the cycling file, the numors and the ground truth; returns the ground truth."""
    data_dir = Path(data_dir)
    rng = np.random.default_rng([seed, 3])
    sample = next(s for s in operando_cells() if s.sample_id == SAMPLE_ID)
    profile = cycling_profile(sample.active_mass_mg / 1000.0)
    write_mpt(data_dir / "raw" / "cycling" / SAMPLE_ID / f"{SAMPLE_ID}_operando_d2b_C01.mpt",
              start_local=START_LOCAL, time_second=profile["time_second"], voltage_volt=profile["voltage_volt"],
              current_ampere=profile["current_ampere"], step_id=profile["step_id"],
              control_mode=profile["control_mode"], decimal_comma=True, active_mass_mg=sample.active_mass_mg)
    era = era_for(START_LOCAL)
    heights = pixel_heights_metre(era.pixel_pitch_metre, era.first_pixel_height_metre)
    folder = data_dir / "raw" / "d2b" / SAMPLE_ID
    numor_second = steps_per_numor * STEP_SECOND + DEAD_TIME_SECOND
    run_number = FIRST_RUN_NUMBER
    truth = []
    for index in range(measurements):
        start_second = FIRST_MEASUREMENT_SECOND + index * MEASUREMENT_EVERY_SECOND
        mid_second = start_second + NUMORS_PER_MEASUREMENT * numor_second / 2
        soc = float(np.interp(mid_second, profile["time_second"], profile["soc"]))
        peaks = peaks_for(soc)
        runs = []
        for k in range(NUMORS_PER_MEASUREMENT):
            angles = detector_angles(k, steps_per_numor)
            monitor = monitor_for(rng, steps_per_numor)
            counts = simulate_counts(rng, angles, monitor, peaks, heights)
            start = START_LOCAL + dt.timedelta(seconds=start_second + k * numor_second)
            write_numor(folder / f"{run_number}.nxs", run_number=run_number, counts=counts,
                        detector_angle_degree=angles, monitor_counts=monitor, start_local=start)
            runs.append(run_number)
            run_number += 1
        truth.append({"measurement_index": index, "run_numbers": runs, "state_of_charge": soc,
                      "voltage_volt": float(np.interp(mid_second, profile["time_second"], profile["voltage_volt"])),
                      "lattice_a_angstrom": LATTICE_A_ANGSTROM[0] + LATTICE_A_ANGSTROM[1] * soc,
                      "lattice_c_angstrom": LATTICE_C_ANGSTROM[0] + LATTICE_C_ANGSTROM[1] * soc, "peaks": peaks})
    ground_truth = {"sample_id": SAMPLE_ID, "wavelength_angstrom": WAVELENGTH_ANGSTROM,
                    "background_per_monitor": BACKGROUND_PER_MONITOR, "steps_per_numor": steps_per_numor,
                    "numors_per_measurement": NUMORS_PER_MEASUREMENT, "timezone": sample.timezone,
                    "instrument_definition": era.idf_name, "measurements": truth}
    write_truth(data_dir / "ground_truth" / "d2b" / f"{SAMPLE_ID}.json", ground_truth)
    return ground_truth
