"""EC-Lab .mpr reader on the real raw files, checked against their .mpt exports."""

from __future__ import annotations

import numpy as np
import pytest

from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers import find_reader, metadata_of, read
from bigmap_assets.schemas.cycling import READER_COLUMNS

# file -> (points, data-module version, header style, LOG module present); from SOURCES.md
MPR_FILES = {
    "navani/00_test_04_MB_C01.mpr": (1501, 11, "EC-Lab >= 11.50", True),
    "navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr": (46102, 3, "EC-Lab < 11.50", True),
    "yadg/bcd.issue_241.mpr": (2550, 3, "EC-Lab < 11.50", True),
    "yadg/cv.mpr": (5103, 2, "EC-Lab < 11.50", True),
    "yadg/gcpl.issue_149.mpr": (132, 11, "EC-Lab >= 11.50", True),
    "yadg/gcpl.issue_211.mpr": (2767, 11, "EC-Lab >= 11.50", True),
    "yadg/gcpl.pr_182.1.mpr": (2533, 3, "EC-Lab < 11.50", False),
    "yadg/mb.issue_223.mpr": (108, 11, "EC-Lab >= 11.50", True),
    "yadg/mb.issue_95.mpr": (33, 3, "EC-Lab < 11.50", True),
    "yadg/mb.mpr": (1588, 3, "EC-Lab < 11.50", True),
    "yadg/ocv.issue_149.mpr": (43, 11, "EC-Lab >= 11.50", True),
    "yadg/peis.issue_149.mpr": (84, 11, "EC-Lab >= 11.50", True),
}
TWINS = ["bcd.issue_241", "cv", "gcpl.issue_149", "gcpl.issue_211", "gcpl.pr_182.1", "mb.issue_223",
         "mb.issue_95", "mb", "ocv.issue_149", "peis.issue_149"]


@pytest.fixture(scope="module")
def eclab(realdata):
    return realdata / "cycling" / "eclab"


@pytest.mark.parametrize("name", sorted(MPR_FILES))
def test_every_real_mpr_reads(eclab, name):
    points, version, style, has_log = MPR_FILES[name]
    table = read(eclab / name)
    meta = metadata_of(table)
    assert meta["format"] == "eclab_mpr"
    assert table.num_rows == points
    assert (meta["data_module_version"], meta["header_style"]) == (version, style)
    assert ("VMP LOG" in meta["modules"]) == has_log
    assert (meta["start_time_local"] is not None) == has_log
    assert table.column_names[: len(READER_COLUMNS)] == [c.name for c in READER_COLUMNS]
    for column in READER_COLUMNS:
        assert table.schema.field(column.name).type == column.type
        if not column.nullable:
            assert table.column(column.name).null_count == 0
    assert not [c for c in table.column_names if c.startswith("raw_")]


@pytest.mark.parametrize("stem", TWINS)
def test_mpr_agrees_with_its_mpt_export(eclab, stem):
    raw = read(eclab / "yadg" / f"{stem}.mpr")
    text = read(eclab / "yadg" / f"{stem}.mpt")
    # the export prints time with 16 digits, voltage and current with 8, charges with 16
    tolerances = {
        "test_time_second": (1e-14, 0.0),
        "voltage_volt": (1e-7, 1e-12),
        "current_ampere": (1e-7, 1e-12),
        "charging_capacity_ah": (1e-7, 1e-8),
        "discharging_capacity_ah": (1e-7, 1e-8),
    }
    for column, (rtol, atol) in tolerances.items():
        np.testing.assert_allclose(raw.column(column).to_numpy(), text.column(column).to_numpy(),
                                   rtol=rtol, atol=atol, err_msg=column)
    for column in ("step_id", "control_mode", "vendor_cycle_number"):
        assert raw.column(column).to_pylist() == text.column(column).to_pylist(), column
    raw_meta, text_meta = metadata_of(raw), metadata_of(text)
    for key in ("start_time_local", "software_version", "techniques", "measurement_kind", "device", "instrument"):
        if text_meta[key]:  # exports without settings know neither start nor technique nor device
            assert raw_meta[key] == text_meta[key], key


# .mpr -> the "Device :" line of its .mpt twin; navani's files have no twin (their codes 16 and 22 pinned here)
DEVICES = {
    "yadg/bcd.issue_241.mpr": "BCS-805 (SN 0168)",
    "yadg/cv.mpr": "VMP3 (SN 10831083)",
    "yadg/gcpl.issue_149.mpr": "SP-300 (SN 1854)",
    "yadg/gcpl.issue_211.mpr": "VMP3 (SN 0858)",
    "yadg/mb.issue_223.mpr": "MPG-2 (SN 0355)",
    "yadg/mb.issue_95.mpr": "VSP (SN 1705)",
    "yadg/mb.mpr": "VMP3 (SN 1083)",
    "yadg/ocv.issue_149.mpr": "SP-300 (SN 1854)",
    "yadg/peis.issue_149.mpr": "SP-300 (SN 1854)",
    "navani/00_test_04_MB_C01.mpr": "SP-300 (SN 1850)",
    "navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr": "MPG-2 (SN 0168)",
    "yadg/gcpl.pr_182.1.mpr": "VMP3",  # no LOG module: no serial number
}


def test_device_from_the_settings_module_equals_the_mpt_header(eclab):
    checked = 0
    for name, device in DEVICES.items():
        meta = metadata_of(read(eclab / name))
        assert meta["device"] == device, name
        assert meta["instrument"] == device.split(" (SN")[0], name
        twin = eclab / name.replace(".mpr", ".mpt")
        if twin.exists() and metadata_of(read(twin))["device"]:
            assert metadata_of(read(twin))["device"] == device, name
            checked += 1
    assert checked == 9  # every twin whose export has a header


def test_ec_lab_11_61_high_column_ids_that_galvani_rejects(eclab):
    table = read(eclab / "yadg/mb.issue_223.mpr")
    meta = metadata_of(table)
    assert 368 in meta["column_ids"] and 981 in meta["column_ids"]
    assert "Energy we/W.h" in meta["source_columns"] and "z cycle" in meta["source_columns"]
    text = read(eclab / "yadg/mb.issue_223.mpt")
    np.testing.assert_allclose(table.column("energy_we_watt_hour").to_numpy(),
                               text.column("energy_we_watt_hour").to_numpy(), rtol=1e-12, atol=1e-15)


def test_gcpl_current_derived_from_dq_matches_the_set_current(eclab):
    table = read(eclab / "navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr")
    meta = metadata_of(table)
    assert meta["current_source"] == "dq·3.6/Δt"
    assert meta["start_time_local"] == "2020-10-26T12:49:58.000"
    assert meta["software_version"] == "EC-Lab 11.32"
    current = table.column("current_ampere").to_numpy()
    galvanostatic = table.column("control_mode").to_numpy(zero_copy_only=False) == "CC"
    # C/24 steps at +-88.8 uA (the .mps settings file), 13 half cycles
    assert np.median(current[galvanostatic & (current > 0)]) == pytest.approx(88.8e-6, rel=1e-3)
    assert np.median(current[galvanostatic & (current < 0)]) == pytest.approx(-88.8e-6, rel=1e-3)
    assert len(np.unique(table.column("ec_half_cycle").to_numpy())) == 13
    assert table.column("vendor_cycle_number").to_numpy().max() == 6


def test_file_without_log_module_has_its_start_date_only(eclab):
    """galvani's ``MPRfile.startdate`` of this file is 2024-05-07 (settings module header 05/07/24)."""
    meta = metadata_of(read(eclab / "yadg/gcpl.pr_182.1.mpr"))
    assert meta["start_time_local"] is None
    assert meta["start_date_local"] == "2024-05-07"
    assert any("no VMP LOG module" in w and "2024-05-07" in w for w in meta["warnings"])
    dated = metadata_of(read(eclab / "yadg/cv.mpr"))  # module dates "01.10.18": month first
    assert "start_date_local" not in dated and dated["start_time_local"].startswith("2018-01-10")


def _with_column_ids_replaced(data: bytes, replacements: dict[int, int]) -> bytes:
    """Old-layout file with some little-endian column IDs swapped for others."""
    start = data.index(b"VMP data") + 51  # payload follows the 51-byte old module header
    n_columns = data[start + 4]
    ids = np.frombuffer(data, "<u2", count=n_columns, offset=start + 5).copy()
    for old, new in replacements.items():
        ids[ids == old] = new
    return data[: start + 5] + ids.tobytes() + data[start + 5 + 2 * n_columns :]


def test_unknown_column_id_is_kept_raw_with_a_warning(eclab, tmp_path):
    original = eclab / "yadg/mb.issue_95.mpr"
    patched = tmp_path / "unknown_id.mpr"
    patched.write_bytes(_with_column_ids_replaced(original.read_bytes(), {74: 254}))  # |Energy| (f8) -> unknown
    table, reference = read(patched), read(original)
    assert "abs_energy_watt_hour" not in table.column_names
    assert table.column("raw_col_254").equals(reference.column("abs_energy_watt_hour"))
    assert table.column("voltage_volt").equals(reference.column("voltage_volt"))
    assert "unknown column ID 254 kept as raw_col_254, decoded as <f8" in metadata_of(table)["warnings"]


def test_unknown_ids_of_undecidable_size_are_unreadable(eclab, tmp_path):
    patched = tmp_path / "two_unknown_ids.mpr"
    # |Energy| (8 bytes) and Ewe (4 bytes) -> two unknown IDs sharing 12 bytes
    patched.write_bytes(_with_column_ids_replaced((eclab / "yadg/mb.issue_95.mpr").read_bytes(), {74: 254, 6: 255}))
    with pytest.raises(UnreadableFile, match=r"unknown column IDs \[255, 254\]"):
        read(patched)


def test_mpr_cut_in_the_data_module_is_unreadable(eclab, tmp_path):
    data = (eclab / "navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr").read_bytes()
    cut = tmp_path / "cut.mpr"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableFile, match="truncated: module 'VMP data' declares 2443812 bytes"):
        read(cut)


def test_garbage_bytes_named_mpr_are_unreadable(tmp_path):
    garbage = tmp_path / "garbage.mpr"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(UnreadableFile, match="no reader recognises"):
        read(garbage)
    after_magic = tmp_path / "after_magic.mpr"
    after_magic.write_bytes(b"BIO-LOGIC MODULAR FILE\x1a" + b" " * 25 + b"\0" * 4 + b"garbage" * 20)
    with pytest.raises(UnreadableFile, match="expected a 'MODULE' marker at byte 52"):
        read(after_magic)


def test_renamed_mpr_is_sniffed_by_content(eclab, tmp_path):
    renamed = tmp_path / "cell_7.dat"
    renamed.write_bytes((eclab / "yadg/cv.mpr").read_bytes())
    assert find_reader(renamed).NAME == "eclab_mpr"
    assert read(renamed).num_rows == 5103


def test_mpr_without_points_yet_is_unreadable_with_a_reason(eclab, tmp_path):
    data = bytearray((eclab / "yadg/mb.issue_95.mpr").read_bytes())
    start = data.index(b"VMP data") + 51  # payload follows the 51-byte old module header
    data[start : start + 4] = (0).to_bytes(4, "little")
    empty = tmp_path / "just_started.mpr"
    empty.write_bytes(bytes(data))
    with pytest.raises(UnreadableFile, match="no data points yet"):
        read(empty)
