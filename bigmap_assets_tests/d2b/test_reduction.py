"""Reduction of generated full-size numors (10 x 25 x 128 x 128): peaks, intensities, errors, determinism."""

import json

import numpy as np
import pytest
from scipy.optimize import curve_fit

from bigmap_assets.readers import read
from bigmap_assets.science.diffraction import Numor, reduce_measurement, reduce_sample
from bigmap_assets.simulate import d2b as sim
from bigmap_assets.science.d2b_geometry import pixel_heights_metre

from .helpers import MANTID_508093_ANGLES

HEIGHTS = pixel_heights_metre(0.00234375, -0.148828125)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("d2b")
    truth = sim.generate(data_dir, steps_per_numor=25, measurements=2)
    paths = sorted((data_dir / "raw" / "d2b" / sim.SAMPLE_ID).glob("*.nxs"))
    return truth, [read(p) for p in paths]


def _gaussian(x, centre, sigma, area, background):
    return background + area / (sigma * np.sqrt(2 * np.pi)) * np.exp(-0.5 * ((x - centre) / sigma) ** 2)


def _isolated(peaks, clearance_degree=1.5):
    centres = np.array([p["two_theta_degree"] for p in peaks])
    return [p for p in peaks if np.sort(np.abs(centres - p["two_theta_degree"]))[1] > clearance_degree]


def test_generated_peaks_are_recovered_within_0_01_degree(generated):
    truth, tables = generated
    _, diffractograms = reduce_sample(tables, sim.SAMPLE_ID)
    for measurement in truth["measurements"]:
        rows = diffractograms.filter(diffractograms.column("measurement_index").to_numpy() == measurement["measurement_index"])
        x = rows.column("two_theta_degree").to_numpy()
        y = rows.column("intensity").to_numpy()
        e = rows.column("intensity_error").to_numpy()
        fitted = 0
        for peak in _isolated(measurement["peaks"]):
            window = (np.abs(x - peak["two_theta_degree"]) < 1.2) & (e > 0)
            sigma = peak["fwhm_degree"] / 2.3548
            params, _ = curve_fit(_gaussian, x[window], y[window], sigma=e[window],
                                  p0=[peak["two_theta_degree"] + 0.02, sigma, peak["area"], 40.0])
            assert params[0] == pytest.approx(peak["two_theta_degree"], abs=0.01), peak["hkl"]
            fitted += 1
        assert fitted >= 5


def test_integrated_intensity_is_conserved_within_the_error(generated):
    truth, tables = generated
    measurement = truth["measurements"][0]
    reduced = reduce_measurement(tables[:10])
    x = reduced.column("two_theta_degree").to_numpy()
    y = reduced.column("intensity").to_numpy()
    e = reduced.column("intensity_error").to_numpy()
    step = 0.05
    for peak in _isolated(measurement["peaks"]):
        half = 4 * peak["fwhm_degree"]
        window = np.abs(x - peak["two_theta_degree"]) < half
        area = np.sum(y[window] - truth["background_per_monitor"]) * step
        expected = np.sum(sim.pattern(x[window], [peak], background=0.0)) * step  # same bins, noise-free
        error = np.sqrt(np.sum(e[window] ** 2)) * step
        assert abs(area - expected) < 4 * error, peak["hkl"]
        assert expected == pytest.approx(peak["area"], rel=0.01)


def test_errors_follow_the_stated_propagation():
    # two numors with identical angles put pixel (tube 128, pixel 10) in the same 2DTubes cell
    counts = [np.zeros((1, 128, 128), np.int32) for _ in range(2)]
    counts[0][0, 127, 10], counts[1][0, 127, 10] = 100, 400
    monitors = (1e4, 2e4)
    numors = [Numor(run, c, MANTID_508093_ANGLES[:1], np.array([m]), HEIGHTS)
              for run, c, m in zip((1, 2), counts, monitors)]
    reduced = reduce_measurement(numors, output="2DTubes")
    cell = reduced.filter(np.isclose(reduced.column("height_metre").to_numpy(), HEIGHTS[10])
                          & np.isclose(reduced.column("two_theta_degree").to_numpy(), 147.496, atol=0.025)).to_pylist()[0]
    y = [1e6 * 100 / 1e4, 1e6 * 400 / 2e4]
    e = [1e6 * np.sqrt(100 + 100**2 / 1e4) / 1e4, 1e6 * np.sqrt(400 + 400**2 / 2e4) / 2e4]
    assert cell["pixel_count"] == 2
    assert cell["intensity"] == pytest.approx((y[0] + y[1]) / 2)
    assert cell["intensity_error"] == pytest.approx(np.hypot(e[0], e[1]) / 2)


def test_calibration_scales_and_masks():
    counts = np.full((2, 128, 128), 10, np.int32)
    numor = Numor(1, counts, MANTID_508093_ANGLES[:2], np.full(2, 1e6), HEIGHTS)
    calibration = np.full((128, 128), 2.0)  # [pixel, tube]
    calibration[:, 127] = 0.0  # tube 128 masked
    reduced = reduce_measurement([numor], output="2DTubes", calibration=calibration)
    hit = reduced.filter(reduced.column("pixel_count").to_numpy() > 0)
    assert set(hit.column("intensity").to_pylist()) == {20.0}
    assert max(hit.column("two_theta_degree").to_pylist()) < 147.0  # tube 128 left out of the grid too


def test_same_numors_twice_or_shuffled_give_identical_output_and_a_repeated_run_is_refused(generated):
    _, tables = generated
    first = reduce_measurement(tables[:10])
    assert first.equals(reduce_measurement(tables[:10]))
    shuffled = [tables[i] for i in (7, 2, 9, 0, 4, 1, 8, 3, 6, 5)]
    assert first.equals(reduce_measurement(shuffled))
    # Mantid would count a numor given twice twice (halving nothing, shrinking the errors by sqrt 2): refused
    with pytest.raises(ValueError, match=r"run 612005 given twice \(.*612005.nxs, .*612005.nxs\): Mantid would count"):
        reduce_measurement(tables[:10] + [tables[4]])


def test_generated_series_groups_into_its_measurements(generated):
    truth, tables = generated
    numors, _ = reduce_sample(tables, sim.SAMPLE_ID)
    groups = {}
    for row in numors.to_pylist():
        groups.setdefault(row["measurement_index"], []).append(row["run_number"])
    assert [groups[m["measurement_index"]] for m in truth["measurements"]] == [m["run_numbers"] for m in truth["measurements"]]
    assert json.dumps(truth)  # ground truth stays JSON
