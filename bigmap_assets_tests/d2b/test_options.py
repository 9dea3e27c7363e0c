"""Options Mantid has: efficiency errors and masked bins, a three-value height axis, sub-tube masks, no monitor
normalisation; and how the Mantid comparison picks its workspace."""

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest

from bigmap_assets.cli import main
from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers.d2b_nexus import read_calibration
from bigmap_assets.science.d2b_geometry import pixel_heights_metre
from bigmap_assets.science.d2b_mantid import output_workspace_name
from bigmap_assets.science.diffraction import Numor, reduce_measurement, reduction_facts

from .helpers import MANTID_508093_ANGLES, write_counts_numor

HEIGHTS = pixel_heights_metre(0.00234375, -0.148828125)


def _numor(counts, monitor=1e4):
    steps = counts.shape[0]
    return Numor(508093, counts, MANTID_508093_ANGLES[:steps], np.full(steps, monitor), HEIGHTS)


def _cell(reduced, tube_angle, height):
    """The 2DTubes cell of ``height`` whose bin holds ``tube_angle``."""
    rows = reduced.filter(np.isclose(reduced.column("height_metre").to_numpy(), height)
                          & (np.abs(reduced.column("two_theta_degree").to_numpy() - tube_angle) < 0.025))
    return rows.to_pylist()[0]


def _write_efficiency(path, values, errors, masked):
    """A PowderILLEfficiency output as SaveNexusProcessed stores it: values, errors and the bin masks."""
    with h5py.File(path, "w") as h5:
        workspace = h5.create_group("mantid_workspace_1/workspace")
        workspace["values"], workspace["errors"] = values, errors
        if not masked:
            return
        spectra = sorted({p for p, _ in masked})
        bins = [t for p in spectra for pp, t in sorted(masked) if pp == p]
        offsets = np.cumsum([0] + [sum(pp == p for pp, _ in masked) for p in spectra[:-1]])
        workspace["masked_spectra"] = np.column_stack([spectra, offsets]).astype(np.int32)
        workspace["masked_bins"] = np.array(bins, np.int32)
        workspace["mask_weights"] = np.ones(len(bins))


def test_efficiency_error_combines_sigma_k_and_masked_bins_drop_pixels(tmp_path):
    values, errors = np.full((128, 128), 2.0), np.full((128, 128), 0.1)  # [pixel, tube]
    masked = [(10, 127), (11, 127), (40, 3)]  # (pixel, tube), 0-based: bins of spectrum = pixel
    _write_efficiency(tmp_path / "eff.nxs", values, errors, masked)
    efficiency = read_calibration(tmp_path / "eff.nxs")
    assert sorted(zip(*np.nonzero(efficiency.masked))) == masked
    counts = np.zeros((1, 128, 128), np.int32)
    counts[0, 127, 12] = 100  # tube 128, pixel 12 (0-based), alone in its cell
    reduced = reduce_measurement([_numor(counts)], output="2DTubes", crop_negative=False, calibration=efficiency)
    cell = _cell(reduced, 147.496, HEIGHTS[12])
    y, e = 1e6 * 100 / 1e4, 1e6 * np.sqrt(100 + 100**2 / 1e4) / 1e4
    assert cell["intensity"] == pytest.approx(2 * y)
    assert cell["intensity_error"] == pytest.approx(np.sqrt((2 * e) ** 2 + (0.1 * y) ** 2))  # Mantid's Multiply
    for pixel in (10, 11):  # flagged in the map: left out
        assert _cell(reduced, 147.496, HEIGHTS[pixel])["pixel_count"] == 0
    assert _cell(reduced, 147.496, HEIGHTS[13])["pixel_count"] == 1
    # without mask flags only K = 0 was masked: the flagged pixels kept their constant 2
    values[10, 127] = 0.0
    _write_efficiency(tmp_path / "zero.nxs", values, errors, [])
    plain = reduce_measurement([_numor(counts)], output="2DTubes", crop_negative=False,
                               calibration=read_calibration(tmp_path / "zero.nxs"))
    assert _cell(plain, 147.496, HEIGHTS[10])["pixel_count"] == 0 and _cell(plain, 147.496, HEIGHTS[11])["pixel_count"] == 1


def test_efficiency_mask_outside_the_map_is_refused(tmp_path):
    _write_efficiency(tmp_path / "bad.nxs", np.ones((128, 128)), np.zeros((128, 128)), [(3, 128)])
    with pytest.raises(UnreadableFile, match="masked bin outside the 128 x 128 map"):
        read_calibration(tmp_path / "bad.nxs")


def test_three_value_height_axis():
    numor = _numor(np.ones((2, 128, 128), np.int32))
    # rows -0.0625, -0.046875, ... 0.046875 (8, exact in binary); pixels with y in [-0.0625, 0.046875]: 37..83
    reduced = reduce_measurement([numor], output="2DTubes", crop_negative=False, height_axis=(-0.0625, 0.015625, 0.0625))
    np.testing.assert_array_equal(np.unique(reduced.column("height_metre").to_numpy()),
                                  -0.0625 + 0.015625 * np.arange(8))
    assert reduced.column("pixel_count").to_numpy().sum() == 2 * 128 * (83 - 37 + 1)
    # 1D: the window is start..end (pixels 37..90), its row at the centre
    one_d = reduce_measurement([numor], output="2DTubes", crop_negative=False, height_range=None,
                               height_axis=(-0.0625, 0.015625, 0.0625))
    assert reduction_facts(one_d)["height_axis_metre"] == [-0.0625, 0.015625, 0.0625]
    one_d = reduce_measurement([numor], output="1D", crop_negative=False, height_axis=(-0.0625, 0.015625, 0.0625))
    assert one_d.column("height_metre")[0].as_py() == 0.0
    with pytest.raises(ValueError, match="height range or a height axis, not both"):
        reduce_measurement([numor], height_range=(-0.05, 0.05), height_axis=(-0.05, 0.01, 0.05))


def test_pixel_and_angle_masks_smaller_than_a_tube():
    numor = _numor(np.ones((1, 128, 128), np.int32))
    full = reduce_measurement([numor], output="2DTubes", crop_negative=False)
    masked = reduce_measurement([numor], output="2DTubes", crop_negative=False, masked_pixels=[(128, 1, 20), (1, 128, 128)],
                                masked_angles_degree=[(100.0, 110.0)])
    facts = reduction_facts(masked)
    assert facts["first_edge_degree"] == reduction_facts(full)["first_edge_degree"]  # tubes still there: same grid
    assert _cell(masked, 147.496, HEIGHTS[19])["pixel_count"] == 0 and _cell(masked, 147.496, HEIGHTS[20])["pixel_count"] == 1
    x = masked.column("two_theta_degree").to_numpy()
    counts = masked.column("pixel_count").to_numpy()
    assert np.all(counts[(x > 100.03) & (x < 109.97)] == 0) and counts[(x > 110.03) & (x < 112)].sum() > 0
    # tubes 1..127 at 1.25 degree spacing: 8 of them in 100..110 degree, each 128 pixels; 20 + 1 pixels of the mask
    assert full.column("pixel_count").to_numpy().sum() - counts.sum() == 8 * 128 + 21
    with pytest.raises(ValueError, match="pixel numbers run from 1 to 128, not 0"):
        reduce_measurement([numor], masked_pixels=[(1, 0, 5)])


def test_cli_masks_height_axis_and_no_monitor(tmp_path, capsys):
    counts = np.full((2, 128, 128), 30, np.int32)
    path = tmp_path / "508093.nxs"
    write_counts_numor(path, counts, MANTID_508093_ANGLES[:2], monitor=2e4)
    out = tmp_path / "raw.parquet"
    assert main(["d2b", "reduce", str(path), "--no-monitor", "--output", "2DTubes", "--no-crop",
                 "--mask-tubes", "1-3,128", "--mask-pixels", "4-127:1-20", "--mask-angles", "100", "110",
                 "--height-axis", "-0.0625", "0.015625", "0.0625", "-o", str(out)]) == 0
    table = pq.read_table(out)
    filled = table.filter(table.column("pixel_count").to_numpy() > 0)
    assert set(filled.column("intensity").to_pylist()) == {30.0}  # counts, not counts per monitor
    assert np.unique(table.column("height_metre").to_numpy()).size == 8
    # tubes 4..127 (124), pixels 37..83 of the axis, minus 8 tubes in 100..110 degree, two steps
    assert table.column("pixel_count").to_numpy().sum() == 2 * (124 - 8) * 47
    assert main(["d2b", "reduce", str(path), "--no-monitor", "-o", str(tmp_path / "raw.xye")]) == 0
    assert "intensity in counts (no monitor normalisation)" in (tmp_path / "raw.xye").read_text()
    assert main(["d2b", "reduce", str(path), "--mask-pixels", "4", "-o", str(tmp_path / "x.parquet")]) == 2
    assert "--mask-pixels expects TUBES:PIXELS like 1-128:1-20, not '4'" in capsys.readouterr().err
    assert main(["d2b", "reduce", str(path), "--mask-pixels", "4:0-3", "-o", str(tmp_path / "x.parquet")]) == 2
    assert "pixel numbers run from 1 to 128, not 0" in capsys.readouterr().err


def test_mantid_comparison_picks_the_windowed_workspace_by_name():
    # today's PowderILLDetectorScan puts the full height first, then one workspace per HeightRange pair
    today = ["bigmap_d2b_1D", "bigmap_d2b_1D_-0.05, 0.05"]
    assert output_workspace_name(today, "1D", (-0.05, 0.05)) == "bigmap_d2b_1D_-0.05, 0.05"
    assert output_workspace_name(today, "1D", None) == "bigmap_d2b_1D"
    # Mantid of 2018-2022 made one windowed workspace without a suffix
    assert output_workspace_name(["bigmap_d2b_2DTubes"], "2DTubes", (-0.05, 0.05)) == "bigmap_d2b_2DTubes"
    with pytest.raises(LookupError, match="made no 'bigmap_d2b_1D_0.0, 0.1'"):
        output_workspace_name(today, "1D", (0.0, 0.1))
