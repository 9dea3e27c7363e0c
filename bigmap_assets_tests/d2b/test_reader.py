import datetime as dt

import h5py
import numpy as np
import pytest

from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers import find_reader, metadata_of
from bigmap_assets.readers.d2b_nexus import read_numor

from .helpers import MANTID_508093_ANGLES, ramp_counts, write_counts_numor


def test_counts_come_back_in_pixel_order_from_both_blocks(tmp_path):
    counts = ramp_counts(3)
    for raw_block in (True, False):
        table = write_counts_numor(tmp_path / f"n{raw_block}.nxs", counts, MANTID_508093_ANGLES[:3], raw_block=raw_block)
        got = table.column("counts").combine_chunks().values.to_numpy().reshape(3, 128, 128)
        np.testing.assert_array_equal(got, counts)
        assert metadata_of(table)["counts_block"] == "data"
    raw, meta = read_numor(tmp_path / "nTrue.nxs", block="raw_data")
    np.testing.assert_array_equal(raw.column("counts").combine_chunks().values.to_numpy().reshape(3, 128, 128), counts)
    assert meta["counts_block"] == "raw_data"
    with h5py.File(tmp_path / "nTrue.nxs") as h5:  # the file itself holds odd tubes upside down
        assert h5["entry0/data_scan/detector_data/raw_data"][0, 1, 0] == counts[0, 1, 127]


def test_metadata_time_and_geometry_era(tmp_path):
    table = write_counts_numor(tmp_path / "508093.nxs", ramp_counts(2), MANTID_508093_ANGLES[:2])
    meta = metadata_of(table)
    assert find_reader(tmp_path / "508093.nxs").NAME == "d2b_nexus"
    assert meta["run_number"] == 508093 and meta["title"] == "test" and meta["sample_name"] == "S1"
    assert meta["wavelength_angstrom"] == pytest.approx(1.594, abs=1e-6)
    assert meta["instrument_definition"] == "D2B_Definition.xml" and meta["pixel_pitch_metre"] == 0.00234375
    # 16:25:31 at ILL (CEST, UTC+2) is 14:25:31 UTC; step 1 starts one 20 s step later
    times = table.column("start_utc_time").to_pylist()
    assert times[0] == dt.datetime(2015, 4, 16, 14, 25, 31, tzinfo=dt.timezone.utc)
    assert times[1] - times[0] == dt.timedelta(seconds=20)
    assert any("Europe/Paris" in w for w in meta["warnings"])
    np.testing.assert_allclose(table.column("detector_angle_degree").to_numpy(), [147.496, 147.546])
    assert table.column("monitor_counts").to_pylist() == [1e5, 1e5]


def test_2018_numor_gets_the_taller_pixels(tmp_path):
    table = write_counts_numor(tmp_path / "535401.nxs", ramp_counts(1), MANTID_508093_ANGLES[:1],
                               start=dt.datetime(2018, 3, 20, 10, 0))
    assert metadata_of(table)["pixel_pitch_metre"] == pytest.approx(0.00276953125)


def test_foreign_nexus_is_refused_naming_what_is_missing(realdata):
    path = realdata / "d2b" / "non_ill" / "diamond_i11-1-116513_processed_250929_135434.nxs"
    with pytest.raises(UnreadableFile, match=r"not an ILL numor: no /entry0 group \(top level holds: processed\)"):
        read_numor(path)
    with pytest.raises(UnreadableFile, match="no reader recognises"):
        find_reader(path)


def test_broken_numors_get_reasons(tmp_path):
    write_counts_numor(tmp_path / "n.nxs", ramp_counts(2), MANTID_508093_ANGLES[:2])
    with h5py.File(tmp_path / "n.nxs", "a") as h5:
        names = h5["entry0/data_scan/scanned_variables/variables_names/name"]
        names[...] = np.array([b"2theta", b"acquisition_time", b"Detector"])
    with pytest.raises(UnreadableFile, match="no monitor among the scanned variables"):
        read_numor(tmp_path / "n.nxs")
    (tmp_path / "cut.nxs").write_bytes((tmp_path / "n.nxs").read_bytes()[:5000])
    with pytest.raises(UnreadableFile, match="not a readable HDF5"):
        read_numor(tmp_path / "cut.nxs")
    with h5py.File(tmp_path / "d20.nxs", "w") as h5:
        h5["entry0/instrument/name"] = "D20"
    with pytest.raises(UnreadableFile, match="not a D2B numor: /entry0/instrument/name is 'D20'"):
        read_numor(tmp_path / "d20.nxs")
