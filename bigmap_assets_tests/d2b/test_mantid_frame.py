"""Cross-check of the reduction's binning against pixel positions built the way Mantid builds them.

Independent of ``science.d2b_geometry``: tube k (1..128) of the IDF sits at in-plane angle
-(5 + 1.25 k) degree on a 1.296 m circle, pixel p at height -0.148828125 + p * 0.00234375 m; scan
step j rotates the whole detector about +y by 165 - A_j degree (spec section 4.1). The mirrored tube
angle is -atan2(x, z) and the mirrored signed 2theta is s * acos(z / |r|) with s = -1 for x >= 0
(spec section 4.4). Every (pixel, step) entry goes to bin floor((angle - start) / 0.05)
(spec section 7); the number of entries per cell must equal the reduction's ``pixel_count``.
"""

import numpy as np
import pytest

from bigmap_assets.science.d2b_geometry import pixel_heights_metre
from bigmap_assets.science.diffraction import Numor, reduce_measurement, reduction_facts

from .helpers import MANTID_508093_ANGLES

RADIUS_METRE = 1.296
PITCH_METRE = 0.00234375
BOTTOM_PIXEL_METRE = -0.148828125
STEP_DEGREE = 0.05


def _mantid_positions(detector_angles_degree: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, z (m) of every [step, tube, pixel]: IDF positions rotated about +y by 165 - A_j degree."""
    tube_idf = np.radians(-(5 + 1.25 * np.arange(1, 129)))
    heights = BOTTOM_PIXEL_METRE + PITCH_METRE * np.arange(128)
    x0 = np.broadcast_to((RADIUS_METRE * np.sin(tube_idf))[:, None], (128, 128))
    z0 = np.broadcast_to((RADIUS_METRE * np.cos(tube_idf))[:, None], (128, 128))
    y0 = np.broadcast_to(heights[None, :], (128, 128))
    alpha = np.radians(165.0 - np.asarray(detector_angles_degree))[:, None, None]
    x = x0 * np.cos(alpha) + z0 * np.sin(alpha)
    z = -x0 * np.sin(alpha) + z0 * np.cos(alpha)
    return x, np.broadcast_to(y0, x.shape), z


def _entries_per_cell(angle: np.ndarray, rows: np.ndarray, n_rows: int, start: float, n_bins: int) -> np.ndarray:
    bins = np.floor((angle - start) / STEP_DEGREE)
    keep = (bins >= 0) & (bins < n_bins) & (rows >= 0)
    cells = (rows * n_bins + bins)[keep].astype(np.int64)
    return np.bincount(cells, minlength=n_rows * n_bins)


@pytest.fixture(scope="module")
def mantid_frame():
    x, y, z = _mantid_positions(MANTID_508093_ANGLES)
    tube_angle = -np.degrees(np.arctan2(x, z))
    cosine = z / np.sqrt(x**2 + y**2 + z**2)
    two_theta = np.where(x >= 0, -1.0, 1.0) * np.degrees(np.arccos(cosine))
    return tube_angle, two_theta


@pytest.fixture(scope="module")
def numor():
    counts = np.ones((25, 128, 128), np.int32)
    return Numor(508093, counts, MANTID_508093_ANGLES, np.full(25, 1e6), pixel_heights_metre(PITCH_METRE, BOTTOM_PIXEL_METRE))


def test_grid_starts_half_a_bin_below_the_lowest_tube_angle(mantid_frame, numor):
    tube_angle, _ = mantid_frame
    facts = reduction_facts(reduce_measurement([numor], output="2DTubes", crop_negative=False))
    start, end = tube_angle.min() - STEP_DEGREE / 2, tube_angle.max() + STEP_DEGREE / 2
    assert facts["first_edge_degree"] == pytest.approx(start, abs=1e-9)
    # the span is a whole number of bins (160 degree): floor() then sits on a knife edge, where the
    # rotation's last-digit rounding decides between 3199 and 3200 (Mantid's documented figure is 3200)
    assert facts["bins"] == 3200
    assert (end - start) / STEP_DEGREE == pytest.approx(3200, abs=1e-9)


@pytest.mark.parametrize("output, crop", [("2DTubes", False), ("2D", True), ("1D", True), ("1D", False)])
def test_every_pixel_lands_in_the_same_cell_as_in_the_mantid_frame(mantid_frame, numor, output, crop):
    tube_angle, two_theta = mantid_frame
    reduced = reduce_measurement([numor], output=output, crop_negative=crop)
    facts = reduction_facts(reduced)
    n_rows = facts["rows"]
    rows = np.broadcast_to(np.arange(128) if n_rows == 128 else np.zeros(128, int), tube_angle.shape)
    angle = tube_angle if output == "2DTubes" else two_theta
    expected = _entries_per_cell(angle, rows, n_rows, facts["first_edge_degree"], facts["bins"])
    np.testing.assert_array_equal(reduced.column("pixel_count").to_numpy(), expected)
    # all counts are 1 at monitor 1e6: every filled cell averages to exactly 1
    intensity = reduced.column("intensity").to_numpy()
    np.testing.assert_allclose(intensity[expected > 0], 1.0, rtol=1e-12)
    assert np.all(intensity[expected == 0] == 0)


def test_cone_correction_in_the_mantid_frame(mantid_frame):
    tube_angle, two_theta = mantid_frame
    # away from 0 and 180 degree, equator pixels (y = -0.00117 m) stay within 1e-3 degree of the tube
    # angle; the bottom pixel sits on a wider cone below 90 degree and a narrower one above
    away = (np.abs(tube_angle[:, :, 63]) > 5) & (np.abs(tube_angle[:, :, 63]) < 175)
    np.testing.assert_allclose(two_theta[:, :, 63][away], tube_angle[:, :, 63][away], atol=1e-3)
    low = (tube_angle[:, :, 0] > 5) & (tube_angle[:, :, 0] < 85)
    high = tube_angle[:, :, 0] > 95
    assert np.all(two_theta[:, :, 0][low] > tube_angle[:, :, 0][low])
    assert np.all(two_theta[:, :, 0][high] < tube_angle[:, :, 0][high])
