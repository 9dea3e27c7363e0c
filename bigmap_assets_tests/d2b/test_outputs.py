"""CLI, .xye export, comparison statistics."""

import datetime as dt
import re

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bigmap_assets.cli import main
from bigmap_assets.exports.xye import read_xye, write_xye
from bigmap_assets.plots.d2b import comparison, series_heatmap
from bigmap_assets.readers import read
from bigmap_assets.science.diffraction import compare_consecutive, compare_diffractograms, diffractogram_rows, \
    reduce_measurement

from .helpers import MANTID_508093_ANGLES, write_counts_numor


@pytest.fixture(scope="module")
def numor_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("numors")
    rng = np.random.default_rng(5)
    paths = []
    for k in range(3):
        path = folder / f"{508093 + k}.nxs"
        write_counts_numor(path, rng.poisson(30, (4, 128, 128)).astype(np.int32), MANTID_508093_ANGLES[:4] + 0.12 * k,
                           run_number=508093 + k)
        paths.append(path)
    return paths


def test_reduce_to_each_format_and_compare(numor_files, tmp_path, capsys):
    names = [str(p) for p in numor_files]
    assert main(["d2b", "reduce", *names, "-o", str(tmp_path / "a.xye")]) == 0
    assert main(["d2b", "reduce", *reversed(names), "-o", str(tmp_path / "a.parquet")]) == 0
    assert main(["d2b", "reduce", *names, "--output", "2DTubes", "--no-crop", "--height-range", "-0.05", "0.05",
                 "-o", str(tmp_path / "tubes.csv")]) == 0
    xye = read_xye(tmp_path / "a.xye")
    parquet = pq.read_table(tmp_path / "a.parquet")
    # every bin is written, empty ones as 0 0 (SaveFocusedXYE writes the whole workspace)
    assert xye.num_rows == parquet.num_rows
    np.testing.assert_allclose(xye.column("intensity").to_numpy(), parquet.column("intensity").to_numpy(), rtol=1e-5)
    empty = parquet.column("pixel_count").to_numpy() == 0
    assert empty.any() and np.all(xye.column("intensity").to_numpy()[empty] == 0)
    assert np.all(xye.column("intensity_error").to_numpy()[empty] == 0)
    tubes = (tmp_path / "tubes.csv").read_text().splitlines()
    # the full height (128 rows) and the +-0.05 m window (42 rows) beside it, as today's PowderILLDetectorScan;
    # tube angles -11.254 .. 147.886: floor((147.911 + 11.279) / 0.05) = 3183 bins
    assert len(tubes) - 1 == (128 + 42) * 3183
    capsys.readouterr()
    assert main(["d2b", "compare", str(tmp_path / "a.xye"), str(tmp_path / "a.xye")]) == 0
    out = capsys.readouterr().out
    assert "mean 1.0000  std 0.0000" in out and "reduced 0.000" in out and "significant change no" in out


def test_printed_summary_describes_the_written_file(numor_files, tmp_path, capsys):
    # the summary once said "2976 bins from -0.023 deg" for a file of 2975 bins from 0.0525: it now reads the file back
    out = tmp_path / "s.xye"
    assert main(["d2b", "reduce", *map(str, numor_files), "-o", str(out)]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    match = re.fullmatch(rf"{re.escape(str(out))}: 1 x (\d+) bins \(full height\), 2theta bin centres "
                         r"(-?[\d.]+) to (-?[\d.]+) deg every 0.0500", line)
    assert match, line
    x = read_xye(out).column("two_theta_degree").to_numpy()
    assert int(match[1]) == x.size
    assert (float(match[2]), float(match[3])) == (x[0], x[-1])
    assert main(["d2b", "reduce", *map(str, numor_files), "--height-range", "-0.05", "0.05",
                 "--height-range", "0", "0.1", "-o", str(tmp_path / "w.xye")]) == 0
    printed = capsys.readouterr().out.splitlines()[1:]
    written = [tmp_path / "w.xye", tmp_path / "w_h-0.05_0.05.xye", tmp_path / "w_h0_0.1.xye"]
    assert [line.split(":")[0] for line in printed] == [str(p) for p in written]
    assert "heights 0..0.1 m" in printed[2] and "# mantid_workflow: current" in written[2].read_text()


def test_foreign_file_and_bad_output_name_exit_with_a_reason(realdata, numor_files, tmp_path, capsys):
    foreign = realdata / "d2b" / "non_ill" / "diamond_i11-1-116513_processed_250929_135434.nxs"
    assert main(["d2b", "reduce", str(foreign), "-o", str(tmp_path / "x.xye")]) == 2
    assert "not an ILL numor: no /entry0 group" in capsys.readouterr().err
    assert main(["d2b", "reduce", str(numor_files[0]), "-o", str(tmp_path / "x.txt")]) == 2
    assert "must end in one of .parquet, .xye, .csv" in capsys.readouterr().err


def test_cli_refuses_a_numor_given_twice(numor_files, tmp_path, capsys):
    assert main(["d2b", "reduce", str(numor_files[0]), str(numor_files[1]), str(numor_files[0]),
                 "-o", str(tmp_path / "d.xye")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"run 508093 given twice ({numor_files[0]}, {numor_files[0]})" in err
    assert not (tmp_path / "d.xye").exists()


def test_comparison_statistics_by_hand():
    x = np.array([10.025, 10.075, 10.125, 10.175])
    earlier = pa.table({"two_theta_degree": x, "intensity": [10.0, 20.0, 0.0, 40.0], "intensity_error": [1.0, 2.0, 1.0, 2.0]})
    later = pa.table({"two_theta_degree": x, "intensity": [12.0, 20.0, 5.0, 36.0], "intensity_error": [1.0, 1.0, 1.0, 1.0]})
    stats = compare_diffractograms(later, earlier)
    ratios = np.array([1.2, 1.0, 0.9])  # the bin with a zero intensity is left out
    chi_square = 4 / 2 + 0 / 5 + 16 / 5
    assert stats["bins_compared"] == 3
    assert stats["ratio_mean"] == pytest.approx(ratios.mean()) and stats["ratio_std"] == pytest.approx(ratios.std())
    assert (stats["ratio_min"], stats["ratio_max"]) == pytest.approx((0.9, 1.2))
    assert stats["chi_square"] == pytest.approx(chi_square)
    assert stats["reduced_chi_square"] == pytest.approx(chi_square / 3)


def test_consecutive_comparisons_flag_by_threshold():
    x = np.arange(100) * 0.05 + 10.025
    rng = np.random.default_rng(0)
    pieces = []
    for index, scale in enumerate((1.0, 1.0, 1.3)):
        y = 1000 * scale + rng.normal(0, 10, x.size)
        pieces.append(pa.table({"sample_id": ["S"] * x.size, "measurement_index": [index] * x.size,
                                "measurement_id": [f"m{index}"] * x.size, "output_type": ["1D"] * x.size,
                                "two_theta_degree": x, "intensity": y, "intensity_error": np.full(x.size, 10.0),
                                "pixel_count": np.full(x.size, 5)}))
    table = compare_consecutive(pa.concat_tables(pieces), threshold=3.0)
    rows = table.to_pylist()
    assert [(r["previous_measurement_index"], r["measurement_index"]) for r in rows] == [(0, 1), (1, 2)]
    assert rows[0]["reduced_chi_square"] == pytest.approx(1.0, abs=0.35) and rows[0]["significant"] is False
    assert rows[1]["ratio_mean"] == pytest.approx(1.3, abs=0.01) and rows[1]["significant"] is True
    assert "reduced chi2 = chi2 / N_bins" in table.schema.metadata[b"bigmap_table"].decode()


def test_xye_round_trip(tmp_path):
    table = pa.table({"two_theta_degree": [1.025, 1.075], "intensity": [3.5, 4.25], "intensity_error": [0.5, 0.25],
                      "pixel_count": [3, 0]})
    write_xye(tmp_path / "p.xye", table, {"sample_id": "S"})
    text = (tmp_path / "p.xye").read_text()
    assert "# sample_id: S" in text and text.strip().splitlines()[-2:] == ["1.0250 3.5 0.5", "1.0750 4.25 0.25"]
    assert read_xye(tmp_path / "p.xye").to_pylist() == [
        {"two_theta_degree": 1.025, "intensity": 3.5, "intensity_error": 0.5},
        {"two_theta_degree": 1.075, "intensity": 4.25, "intensity_error": 0.25}]


def test_plots_are_png(numor_files):
    tables = [read(p) for p in numor_files]
    pieces = [diffractogram_rows(reduce_measurement([t]), sample_id="S", measurement_index=i, measurement_id=str(i))
              for i, t in enumerate(tables)]
    stats = compare_diffractograms(pieces[1], pieces[0])
    start = pieces[0].column("start_utc_time")[0].as_py()
    timeseries = pa.table({"utc_time": pa.array([start + dt.timedelta(minutes=m) for m in range(0, 20)],
                                                pa.timestamp("us", tz="UTC")), "voltage_volt": np.linspace(3.5, 4.2, 20)})
    for png in (comparison(pieces[1], pieces[0], stats, threshold=2.0), series_heatmap(pa.concat_tables(pieces)),
                series_heatmap(pa.concat_tables(pieces), timeseries)):
        assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_cli_applies_a_calibration_file(numor_files, tmp_path):
    constants = np.full((128, 128), 2.0)  # [pixel, tube], as PowderILLEfficiency saves them
    with h5py.File(tmp_path / "vanadium.nxs", "w") as h5:
        h5["mantid_workspace_1/workspace/values"] = constants
    plain, scaled = tmp_path / "plain.parquet", tmp_path / "scaled.parquet"
    assert main(["d2b", "reduce", str(numor_files[0]), "-o", str(plain)]) == 0
    assert main(["d2b", "reduce", str(numor_files[0]), "--calibration", str(tmp_path / "vanadium.nxs"), "-o", str(scaled)]) == 0
    np.testing.assert_allclose(pq.read_table(scaled).column("intensity").to_numpy(),
                               2 * pq.read_table(plain).column("intensity").to_numpy())
    with h5py.File(tmp_path / "other.nxs", "w") as h5:
        h5["entry/data"] = constants
    assert main(["d2b", "reduce", str(numor_files[0]), "--calibration", str(tmp_path / "other.nxs"), "-o", str(scaled)]) == 2
