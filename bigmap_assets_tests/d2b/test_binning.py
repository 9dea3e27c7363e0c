"""Geometry and binning against Mantid's published numbers for numor 508093 (spec section 9)."""

import numpy as np
import pyarrow.compute as pc
import pytest

from bigmap_assets.science.d2b_geometry import pixel_heights_metre, tube_angles_degree, two_theta_degree
from bigmap_assets.science.diffraction import Numor, angle_bin_edges, reduce_measurement, reduction_facts

from .helpers import MANTID_508093_ANGLES

HEIGHTS = pixel_heights_metre(0.00234375, -0.148828125)


@pytest.fixture(scope="module")
def numor_508093():
    counts = np.random.default_rng(1).poisson(50, (25, 128, 128)).astype(np.int32)
    return Numor(508093, counts, MANTID_508093_ANGLES, np.full(25, 2e5), HEIGHTS)


def test_tube_centres_match_the_loader_test():
    # LoadILLDiffractionTest: tube t at step j is |0.05 j + 147.496 - 158.75 + 1.25 t| from the beam
    angles = tube_angles_degree(MANTID_508093_ANGLES)
    j, t = np.meshgrid(np.arange(25), np.arange(128), indexing="ij")
    np.testing.assert_allclose(np.abs(angles), np.abs(0.05 * j + 147.496 - 158.75 + 1.25 * t), atol=1e-9)


def test_cone_correction_widens_low_angles_and_narrows_high_ones():
    two_theta = two_theta_degree(np.array([[20.0, 150.0]]), HEIGHTS[[0, 64]])[0]
    # top pixel (y = -0.1488 m) of a tube at 20 degree: arccos(cos 20 * R / sqrt(R^2 + y^2))
    assert two_theta[0, 0] == pytest.approx(np.degrees(np.arccos(np.cos(np.radians(20)) * 1.296 / np.hypot(1.296, HEIGHTS[0]))))
    assert two_theta[0, 0] > 20.0 and two_theta[1, 0] < 150.0
    assert two_theta[0, 1] == pytest.approx(20.0, abs=0.01)


def test_mirrored_2dtubes_has_3200_bins(numor_508093):
    facts = reduction_facts(reduce_measurement([numor_508093], output="2DTubes", crop_negative=False))
    assert (facts["bins"], facts["rows"]) == (3200, 128)
    assert facts["first_edge_degree"] == pytest.approx(-11.279)


def test_cropped_1d_in_the_height_window_has_2975_bins(numor_508093):
    reduced = reduce_measurement([numor_508093], output="1D", height_range=(-0.05, 0.05))
    facts = reduction_facts(reduced)
    assert (facts["bins"], facts["rows"]) == (2975, 1)
    assert facts["first_edge_degree"] == pytest.approx(-0.029)  # the bin straddling 0 stays
    assert reduced.column("height_metre")[0].as_py() == pytest.approx(0.0)


def test_2d_height_range_equals_rows_43_to_84_of_the_full_2d(numor_508093):
    full = reduce_measurement([numor_508093], output="2D")
    window = reduce_measurement([numor_508093], output="2D", height_range=(-0.05, 0.05))
    assert reduction_facts(window)["rows"] == 42
    rows = full.filter(pc.and_(pc.greater_equal(full.column("height_metre"), HEIGHTS[43] - 1e-9),
                               pc.less_equal(full.column("height_metre"), HEIGHTS[84] + 1e-9)))
    for name in ("height_metre", "two_theta_degree", "intensity", "intensity_error", "pixel_count"):
        np.testing.assert_array_equal(window.column(name).to_numpy(), rows.column(name).to_numpy())


def test_tube_128_alone_equals_the_all_tubes_output_above_147_471(numor_508093):
    alone = reduce_measurement([numor_508093], output="2DTubes", crop_negative=False, masked_tubes=range(1, 128))
    assert reduction_facts(alone)["first_edge_degree"] == pytest.approx(147.471)
    full = reduce_measurement([numor_508093], output="2DTubes", crop_negative=False)
    tail = full.filter(pc.greater_equal(full.column("two_theta_degree"), 147.471))
    assert alone.num_rows == tail.num_rows == 128 * 25
    for name in ("two_theta_degree", "intensity", "intensity_error", "pixel_count"):
        np.testing.assert_allclose(alone.column(name).to_numpy(), tail.column(name).to_numpy(), rtol=0, atol=1e-9)


def test_bin_edges_follow_floor_of_the_span():
    edges = angle_bin_edges(-11.254, 148.696, crop_negative=False)
    assert edges.size == 3201 and edges[0] == pytest.approx(-11.279)
    with pytest.raises(ValueError, match="no positive scattering angle"):
        angle_bin_edges(-20.0, -10.0)
