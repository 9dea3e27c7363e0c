"""The two Mantid workflow presets against numbers from Mantid's tests and docs (d2b-reduction.md sections 5, 9).

Hand-derived expectations: 2018-03 era (numor 535401 of LoadILLDiffractionTest): pitch p = 0.00276953125 m,
MaxHeight = (128 + 1) p / 2 + 5.5 p = 70 p = 0.19387 m (the test's 0.19386 +- 1e-5); aligned pixel k of tube t
sits at (k - c_t) p, so the -MaxHeight, PixelHeight, MaxHeight axis has the 140 rows -70 p .. 69 p and every pixel
lands on a row centre. InitialMask 20 keeps pixels 20..107 (88 of 128); FinalMask 30 zeroes rows 0..30 and 110..139.
"""

import datetime as dt

import numpy as np
import pyarrow.parquet as pq
import pytest

from bigmap_assets.cli import main
from bigmap_assets.exports.xye import export_diffractograms
from bigmap_assets.readers import read
from bigmap_assets.science.d2b_alignment import TUBE_CENTRES_2018_03
from bigmap_assets.science.d2b_workflows import WORKFLOWS, mantid_workflow
from bigmap_assets.science.diffraction import compare_consecutive, main_1d, numor_from_table, reduce_measurement, \
    reduce_sample, reduce_workflow, reduction_facts
from bigmap_assets.simulate import d2b as sim

from .helpers import MANTID_508093_ANGLES, ramp_counts, write_counts_numor

PITCH_2018 = 0.00276953125
START_535401 = dt.datetime(2018, 3, 20, 10, 0)


@pytest.fixture(scope="module")
def numor_535401(tmp_path_factory):
    path = tmp_path_factory.mktemp("n") / "535401.nxs"
    return write_counts_numor(path, np.ones((2, 128, 128), np.int32), np.array([147.5, 147.55]), run_number=535401,
                              start=START_535401)


@pytest.fixture(scope="module")
def numor_508093(tmp_path_factory):
    path = tmp_path_factory.mktemp("n") / "508093.nxs"
    return write_counts_numor(path, np.ones((25, 128, 128), np.int32), MANTID_508093_ANGLES)


def test_presets_hold_the_documented_options():
    old, new = WORKFLOWS["2018"], WORKFLOWS["current"]
    assert (old.align_tubes, old.initial_mask_pixels, old.final_mask_rows, old.unflip_raw_only, old.max_height_axis) \
        == (True, 20, 30, True, True)
    assert (new.align_tubes, new.initial_mask_pixels, new.final_mask_rows, new.unflip_raw_only, new.max_height_axis) \
        == (False, 0, 0, False, False)
    with pytest.raises(ValueError, match="unknown Mantid workflow '2019': choose one of current, 2018"):
        mantid_workflow("2019")


def test_2018_height_axis_is_plus_minus_max_height_with_the_pixel_pitch(numor_535401):
    reduced = reduce_measurement([numor_535401], output="2DTubes", crop_negative=False, workflow="2018")
    facts = reduction_facts(reduced)
    start, step, end = facts["height_axis_metre"]
    assert end == pytest.approx(0.19386, abs=1e-5) and start == -end and step == PITCH_2018
    heights = np.unique(reduced.column("height_metre").to_numpy())
    assert heights.size == facts["rows"] == 140
    np.testing.assert_allclose(heights, PITCH_2018 * np.arange(-70, 70), atol=1e-12)


def test_2018_masks_20_pixels_per_tube_end_and_30_rows_per_output_end(numor_535401):
    reduced = reduce_measurement([numor_535401], output="2DTubes", crop_negative=False, workflow="2018")
    rows = reduced.column("pixel_count").to_numpy().reshape(140, -1).sum(axis=1)
    assert np.all(rows[:31] == 0) and np.all(rows[110:] == 0)
    # row r holds pixel k of tube t where k - c_t = r - 70; only pixels 20..107 count
    k = np.arange(128)[None, :]
    offset = k - TUBE_CENTRES_2018_03[:, None]
    expected = [2 * np.sum((offset == r - 70) & (k >= 20) & (k <= 107)) for r in range(31, 110)]
    np.testing.assert_array_equal(rows[31:110], expected)
    assert reduction_facts(reduced)["final_mask_rows"] == 30
    one_d = reduce_measurement([numor_535401], output="1D", crop_negative=False, workflow="2018")
    # 1D: one row at the centre of -MaxHeight..MaxHeight, no FinalMask
    assert reduction_facts(one_d)["final_mask_rows"] == 0
    assert one_d.column("height_metre").to_pylist() == [0.0] * one_d.num_rows


def test_2018_aligns_tubes_current_does_not(numor_535401, tmp_path):
    counts = np.zeros((1, 128, 128), np.int32)
    counts[0, 22, 60:70] = 7  # tube 23: measured at 16.238 degree at A = 147.5 (LoadILLDiffractionTest)
    table = write_counts_numor(tmp_path / "535401.nxs", counts, np.array([147.5]), run_number=535401, start=START_535401)
    for workflow, angle in (("2018", 16.238), ("current", 147.5 - 1.25 * 105)):
        reduced = reduce_measurement([table], output="2DTubes", crop_negative=False, workflow=workflow)
        hit = reduced.filter(reduced.column("intensity").to_numpy() > 0)
        assert np.all(np.abs(hit.column("two_theta_degree").to_numpy() - angle) <= 0.025), workflow
    overridden = reduce_measurement([table], output="2DTubes", crop_negative=False, workflow="current", align_tubes=True)
    assert reduction_facts(overridden)["aligned_tubes"] is True


def test_raw_only_numor_odd_tubes_flipped_by_2018_and_left_u_shaped_by_current(tmp_path):
    counts = ramp_counts(2)
    raw_only = write_counts_numor(tmp_path / "raw.nxs", counts, MANTID_508093_ANGLES[:2], raw_block=False)
    both = write_counts_numor(tmp_path / "both.nxs", counts, MANTID_508093_ANGLES[:2], raw_block=True)
    np.testing.assert_array_equal(numor_from_table(raw_only, workflow="2018").counts, counts)
    current = numor_from_table(raw_only, workflow="current").counts
    np.testing.assert_array_equal(current[:, 0::2], counts[:, 0::2])
    np.testing.assert_array_equal(current[:, 1::2], counts[:, 1::2, ::-1])  # as the DAQ wrote it
    for workflow in WORKFLOWS:  # the calibrated data block is in pixel order in both
        np.testing.assert_array_equal(numor_from_table(both, workflow=workflow).counts, counts)


def test_pre_2018_numor_under_2018_keeps_the_grid_and_tube_1_heights(numor_508093):
    # no MaxHeight before March 2018: heights of tube 1; pixel masks do not move the 2975-bin grid of the docs
    window = reduce_measurement([numor_508093], output="1D", height_range=(-0.05, 0.05), workflow="2018")
    facts = reduction_facts(window)
    assert facts["height_axis_metre"] is None and facts["aligned_tubes"] is True
    assert facts["bins"] == 2975  # SumOverlappingTubes-v1.rst: 508093, 1D, cropped, HeightAxis -0.05, 0.05
    full_2d = reduce_measurement([numor_508093], output="2D", workflow="2018")
    rows = full_2d.column("pixel_count").to_numpy().reshape(128, -1).sum(axis=1)
    # InitialMask empties rows 0..19 and 108..127, FinalMask rows 0..30 and 98..127: rows 31..97 remain
    assert np.flatnonzero(rows).tolist() == list(range(31, 98))


def test_height_ranges_beside_the_full_height_today_and_alone_in_2018(numor_508093):
    ranges = [(-0.05, 0.05), (0.0, 0.1)]
    current = reduce_workflow([numor_508093], outputs=["2D"], height_ranges=ranges)
    assert [reduction_facts(t)["height_range_metre"] for t in current] == [None, [-0.05, 0.05], [0.0, 0.1]]
    # +-0.05 m: pixels 43..84 (ILLPowderDetectorScanTest); 0..0.1 m: y_p = -0.148828125 + 0.00234375 p, p = 64..106
    assert [reduction_facts(t)["rows"] for t in current] == [128, 42, 43]
    old = reduce_workflow([numor_508093], outputs=["1D"], height_ranges=ranges[:1], workflow="2018")
    assert [reduction_facts(t)["height_range_metre"] for t in old] == [[-0.05, 0.05]]
    assert old[0].column("height_range_min_metre")[0].as_py() == -0.05
    with pytest.raises(ValueError, match="the 2018 workflow takes at most 1 height range"):
        reduce_workflow([numor_508093], height_ranges=ranges, workflow="2018")
    with pytest.raises(ValueError, match="which the 2018 workflow does not make beside a height range"):
        reduce_workflow([numor_508093], height_ranges=ranges[:1], height_axis=(-0.1, 0.01, 0.1), workflow="2018")


def test_cli_workflow_flag_and_table_record(numor_535401, tmp_path, capsys):
    path = tmp_path / "535401.nxs"
    write_counts_numor(path, np.ones((2, 128, 128), np.int32), np.array([147.5, 147.55]), run_number=535401,
                       start=START_535401)
    out = tmp_path / "old.parquet"
    assert main(["d2b", "reduce", str(path), "--mantid-workflow", "2018", "--output", "2DTubes", "--no-crop",
                 "-o", str(out)]) == 0
    assert "Mantid workflow 2018" in capsys.readouterr().out
    assert np.unique(pq.read_table(out).column("height_metre").to_numpy()).size == 140
    assert main(["d2b", "reduce", str(path), "--mantid-workflow", "2018", "--no-align-tubes", "-o",
                 str(tmp_path / "x.parquet")]) == 0
    assert main(["d2b", "reduce", str(path), "--mantid-workflow", "2018", "--height-range", "-0.05", "0.05",
                 "--height-range", "0", "0.1", "-o", str(tmp_path / "y.parquet")]) == 2
    assert "the 2018 workflow takes at most 1 height range" in capsys.readouterr().err


def test_sample_tables_record_the_workflow_and_exports_name_each_height_range(tmp_path):
    sim.generate(tmp_path, steps_per_numor=2, measurements=2)
    tables = [read(p) for p in sorted((tmp_path / "raw" / "d2b" / sim.SAMPLE_ID).glob("*.nxs"))]
    _, current = reduce_sample(tables, sim.SAMPLE_ID, height_ranges=[(-0.05, 0.05)])
    assert set(zip(current.column("mantid_workflow").to_pylist(), current.column("height_range_min_metre").to_pylist())) \
        == {("current", None), ("current", -0.05)}
    names = sorted(p.name for p in export_diffractograms(current, tmp_path / "xye"))
    assert names == ["LNO-OPD2B-01_612001-612010.xye", "LNO-OPD2B-01_612001-612010_h-0.05_0.05.xye",
                     "LNO-OPD2B-01_612011-612020.xye", "LNO-OPD2B-01_612011-612020_h-0.05_0.05.xye"]
    assert "# height_range_metre: -0.05 0.05" in (tmp_path / "xye" / names[1]).read_text()
    # comparisons take the full height; the 2018 workflow's single window stands in for it
    assert compare_consecutive(current).num_rows == 1
    assert main_1d(current).column("height_range_min_metre").null_count == main_1d(current).num_rows
    _, old = reduce_sample(tables, sim.SAMPLE_ID, height_ranges=[(-0.05, 0.05)], workflow="2018")
    assert set(old.column("mantid_workflow").to_pylist()) == {"2018"} and set(old.column("aligned_tubes").to_pylist()) == {True}
    assert set(main_1d(old).column("height_range_min_metre").to_pylist()) == {-0.05}
    assert compare_consecutive(old).column("bins_compared")[0].as_py() > 0
