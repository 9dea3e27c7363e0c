"""Tube alignment (AlignTubes) against LoadILLDiffractionTest's numbers for numor 535401 (2018 era)."""

import datetime as dt

import numpy as np
import pyarrow.parquet as pq
import pytest

from bigmap_assets.cli import main

from bigmap_assets.science.d2b_alignment import (TUBE_CENTRES_2018_03, aligned_pixel_heights_metre, aligned_tube_angles_degree,
                                                 alignment_for, max_height_metre)
from bigmap_assets.science.d2b_geometry import era_for, tube_angles_degree
from bigmap_assets.science.d2b_mantid import mantid_available, reduce_with_mantid
from bigmap_assets.science.diffraction import reduce_measurement, reduction_facts

from .helpers import write_counts_numor

ERA_535401 = era_for(dt.datetime(2018, 3, 20, 10, 0))


def test_535401_pixel_height_and_max_height():
    alignment = alignment_for(ERA_535401.idf_name)
    assert ERA_535401.idf_name == "D2B_Definition_2018-03-01.xml"
    assert ERA_535401.pixel_pitch_metre == pytest.approx(0.00276, abs=1e-5)
    # (128 + 1) / 2 pixels plus the largest offset, |58 - 63.5| = 5.5 pixels
    assert max_height_metre(ERA_535401.pixel_pitch_metre, alignment) == pytest.approx(0.19386, abs=1e-5)


def test_535401_aligned_tube_centres_at_steps_0_and_1():
    angles = aligned_tube_angles_degree(np.array([147.5, 147.55]), alignment_for(ERA_535401.idf_name))
    np.testing.assert_allclose(np.abs(angles[:, [0, 22, 127]]), [[11.25, 16.238, 147.5], [11.2, 16.288, 147.55]],
                               atol=1e-9)


def test_aligned_heights_move_each_tube_by_its_centre_pixel():
    alignment = alignment_for(ERA_535401.idf_name)
    heights = aligned_pixel_heights_metre(ERA_535401.pixel_pitch_metre, ERA_535401.first_pixel_height_metre, alignment)
    pitch = ERA_535401.pixel_pitch_metre
    assert heights.shape == (128, 128)
    # tube 1 has its beam centre at pixel 69: every pixel 5.5 pixels lower than nominal, pixel 69 at y = 0
    assert heights[0, 0] == pytest.approx(ERA_535401.first_pixel_height_metre - 5.5 * pitch)
    assert heights[0, 69] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(np.diff(heights, axis=1), pitch)


def test_2023_alignment_is_the_nominal_geometry_half_a_pixel_down_and_none_before_2018():
    era = era_for(dt.datetime(2024, 5, 14, 8, 0))
    alignment = alignment_for(era.idf_name)
    detector = 147.5 + 0.05 * np.arange(3)
    np.testing.assert_allclose(aligned_tube_angles_degree(detector, alignment), tube_angles_degree(detector), atol=1e-12)
    heights = aligned_pixel_heights_metre(era.pixel_pitch_metre, era.first_pixel_height_metre, alignment)
    assert heights[5, 0] == pytest.approx(era.first_pixel_height_metre - 0.5 * era.pixel_pitch_metre)
    assert alignment_for(era_for(dt.datetime(2015, 4, 16, 16, 25, 31)).idf_name) is None


def test_reduction_places_aligned_tubes_at_their_measured_angle_and_height(tmp_path):
    counts = np.zeros((1, 128, 128), np.int32)
    counts[0, 22] = 7  # tube 23 only: measured at -131.262 degree, beam centre at pixel 68
    table = write_counts_numor(tmp_path / "535401.nxs", counts, np.array([147.5]), run_number=535401,
                               start=dt.datetime(2018, 3, 20, 10, 0))
    nominal = reduce_measurement([table], output="2DTubes", crop_negative=False)
    aligned = reduce_measurement([table], output="2DTubes", crop_negative=False, align_tubes=True)
    assert reduction_facts(aligned)["aligned_tubes"] is True
    for reduced, angle in ((nominal, 147.5 - 1.25 * 105), (aligned, 16.238)):
        hit = reduced.filter(reduced.column("intensity").to_numpy() > 0)
        assert np.all(np.abs(hit.column("two_theta_degree").to_numpy() - angle) <= 0.025)
    # rows are tube 1's heights (centre pixel 69): tube 23's pixel p sits one row up, its top pixel outside
    heights = aligned_pixel_heights_metre(ERA_535401.pixel_pitch_metre, ERA_535401.first_pixel_height_metre,
                                          alignment_for(ERA_535401.idf_name))
    hit = aligned.filter(aligned.column("intensity").to_numpy() > 0)
    np.testing.assert_allclose(hit.column("height_metre").to_numpy(), heights[0, 1:])
    assert hit.num_rows == 127


def test_cli_reduces_with_aligned_tubes(tmp_path, capsys):
    counts = np.ones((2, 128, 128), np.int32)
    write_counts_numor(tmp_path / "535401.nxs", counts, np.array([147.5, 147.55]), run_number=535401,
                       start=dt.datetime(2018, 3, 20, 10, 0))
    for flags, name in (([], "nominal.parquet"), (["--align-tubes"], "aligned.parquet")):
        assert main(["d2b", "reduce", str(tmp_path / "535401.nxs"), "--output", "2DTubes", "--no-crop", *flags,
                     "-o", str(tmp_path / name)]) == 0
    nominal, aligned = (pq.read_table(tmp_path / n) for n in ("nominal.parquet", "aligned.parquet"))
    assert nominal.column("pixel_count").to_numpy().sum() == 2 * 128 * 128
    # aligned: rows are tube 1's heights (centre pixel 69); tube t keeps 128 - |69 - centre_t| pixels in them
    kept = 2 * np.sum(128 - np.abs(69 - TUBE_CENTRES_2018_03))
    assert aligned.column("pixel_count").to_numpy().sum() == kept


@pytest.mark.skipif(not mantid_available(), reason="mantid is not importable here (it installs from conda, not PyPI)")
def test_aligned_2018_numor_agrees_with_mantid(tmp_path):
    counts = np.random.default_rng(3).poisson(40, (25, 128, 128)).astype(np.int32)
    path = tmp_path / "535401.nxs"
    table = write_counts_numor(path, counts, 147.5 + 0.05 * np.arange(25), run_number=535401,
                               start=dt.datetime(2018, 3, 20, 10, 0))
    ours = reduce_measurement([table], output="2DTubes", align_tubes=True)
    theirs = reduce_with_mantid([path], output="2DTubes", align_tubes=True)
    for name in ("height_metre", "two_theta_degree", "intensity", "intensity_error"):
        np.testing.assert_allclose(ours.column(name).to_numpy(), theirs.column(name).to_numpy(), rtol=1e-9, atol=1e-9)
