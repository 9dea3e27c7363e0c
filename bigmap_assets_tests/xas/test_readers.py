"""XAS readers on the real files in shared/realdata/xas, and refusals with a reason."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers import find_reader, metadata_of, read, xas_nxxas
from bigmap_assets.schemas.xas import READER_COLUMNS

ROCK_FIRST = "rock_operando_perex/op2_cell4_pos1/norm_op2_cell4_pos1_dq1_0001_av240_00001.txt"

# file -> (reader, scans, rows, mu source) from SOURCES.md and the files' headers
REAL_FILES = {
    "other/ESRF_BM08_LISA_2021.dat": ("xas_columns", 1, 198, "file column mu"),
    "other/Fe_XDIFiles.h5": ("xas_nxxas", 3, 348 + 348 + 412, "transmission ln(i0/itrans)"),
    "other/V_XANES_ap1.001": ("xas_xdi", 1, 367, "fluorescence (V_Ka_mca1+V_Ka_mca2+V_Ka_mca3+V_Ka_mca4)/I0"),
    "other/ni_metal_rt.xdi": ("xas_xdi", 1, 418, "file column mutrans"),
    ROCK_FIRST: ("xas_rock", 1, 1649, "normalised in file (extranormal)"),
}


@pytest.fixture(scope="module")
def xas_dir(realdata):
    return realdata / "xas"


@pytest.mark.parametrize("name, expected", sorted(REAL_FILES.items()))
def test_every_real_xas_file_reads(xas_dir, name, expected):
    reader, scans, rows, source = expected
    table = read(xas_dir / name)
    meta = metadata_of(table)
    assert meta["format"] == reader and meta["technique"] == "xas"
    assert table.column_names[:len(READER_COLUMNS)] == [c.name for c in READER_COLUMNS]
    assert all(name.startswith("channel_") for name in table.column_names[len(READER_COLUMNS):])
    assert table.num_rows == rows
    assert len(meta["scans"]) == scans == len(set(table.column("scan_index").to_pylist()))
    assert {s["mu_source"] for s in meta["scans"]} == {source}
    energy = table.column("energy_ev").to_numpy()
    for index in range(scans):
        assert np.all(np.diff(energy[table.column("scan_index").to_numpy() == index]) > 0)


def test_all_58_rock_scans_read_with_their_header(xas_dir):
    files = sorted((xas_dir / "rock_operando_perex" / "op2_cell4_pos1").glob("*.txt"))
    assert len(files) == 58
    scans = [metadata_of(read(f))["scans"][0] for f in files]
    first = scans[0]
    assert first["scan_name"] == "op2_cell4_pos1_dq1_0001"
    assert first["start_utc_time"] == "2022-07-26T21:01:58.055000+00:00"  # 23:01:58.055 in Paris (CEST)
    assert first["timezone"] == "Europe/Paris"
    assert first["duration_second"] == pytest.approx(65.003889607)
    assert first["reference_e0_ev"] == 8332.88 and first["energy_shift_ev"] == pytest.approx(0.0362246628606)
    assert first["e0_ev"] == 8349.6 and first["edge_step"] == pytest.approx(0.79921036121)
    assert (first["pre1_ev"], first["pre2_ev"]) == pytest.approx((-240.0, -50.0))
    assert (first["norm1_ev"], first["norm2_ev"]) == pytest.approx((70.0, 1150.4))  # post range ends at 9500 eV
    assert first["element"] == "Ni" and first["edge"] == "K"
    starts = [s["start_utc_time"] for s in scans]
    assert starts == sorted(starts) and len(set(s["scan_name"] for s in scans)) == 58


def test_rock_values_are_the_files_numbers(xas_dir):
    table = read(xas_dir / ROCK_FIRST)
    assert table.column("energy_ev")[0].as_py() == 8060.0 and table.column("energy_ev")[-1].as_py() == 9500.0
    assert table.column("norm_mu")[2].as_py() == pytest.approx(0.000420372)
    assert table.column("reference_mu")[2].as_py() == pytest.approx(1.032234)
    assert table.column("i0")[2].as_py() == pytest.approx(14984.36)
    assert table.column("mu").null_count == table.num_rows


def test_xdi_and_nexus_facts(xas_dir):
    ni = read(xas_dir / "other" / "ni_metal_rt.xdi")
    scan = metadata_of(ni)["scans"][0]
    assert (scan["element"], scan["edge"], scan["tabulated_e0_ev"]) == ("Ni", "K", 8333.0)
    assert scan["start_utc_time"] is None and scan["start_local_time"] == "2001-06-26T21:46:07"
    assert ni.column("mu")[0].as_py() == pytest.approx(-1.1873423)
    vanadium_table = read(xas_dir / "other" / "V_XANES_ap1.001")
    vanadium = metadata_of(vanadium_table)["scans"][0]
    assert vanadium["element"] == "V" and vanadium["duration_second"] == 187.0  # 07:01:20 -> 07:04:27
    assert len(vanadium_table.column_names) == len(READER_COLUMNS) + 24  # every channel but the energy kept
    first = vanadium_table.slice(0, 1).to_pylist()[0]
    counts = sum(first[f"channel_V_Ka_mca{k}"] * first[f"channel_DTFactor_mca{k}"] for k in range(1, 5))
    assert first["mu"] == pytest.approx(counts / first["channel_I0"])  # dead-time corrected fluorescence / I0
    fe = read(xas_dir / "other" / "Fe_XDIFiles.h5")
    assert [s["scan_name"] for s in metadata_of(fe)["scans"]] == ["fe2o3", "fe_metal", "feo"]
    assert fe.column("norm_mu").null_count == 0


def test_renamed_rock_file_still_found_by_content(xas_dir, tmp_path):
    copy = tmp_path / "spectrum.dat"
    shutil.copy(xas_dir / ROCK_FIRST, copy)
    assert find_reader(copy).NAME == "xas_rock"


def test_rock_file_without_start_time_is_refused(xas_dir, tmp_path):
    text = (xas_dir / ROCK_FIRST).read_text(encoding="latin-1")
    broken = tmp_path / "norm_x_0001.txt"
    broken.write_text(text.replace("#Time at start=2022-07-26 23:01:58.055\n", ""), encoding="latin-1")
    with pytest.raises(UnreadableFile, match="Time at start"):
        read(broken)


def test_rock_file_with_a_short_row_names_the_row(xas_dir, tmp_path):
    lines = (xas_dir / ROCK_FIRST).read_text(encoding="latin-1").splitlines()
    lines[20] = "8100 0.5"
    broken = tmp_path / "norm_x_0001.txt"
    broken.write_text("\n".join(lines), encoding="latin-1")
    with pytest.raises(UnreadableFile, match="2 values") as info:
        read(broken)
    assert info.value.location == "data row 5"


def test_xdi_with_fewer_data_columns_than_declared_is_refused(xas_dir, tmp_path):
    lines = (xas_dir / "other" / "ni_metal_rt.xdi").read_text().splitlines()
    broken = tmp_path / "ni.xdi"
    broken.write_text("\n".join(line if line.startswith("#") else " ".join(line.split()[:2]) for line in lines))
    with pytest.raises(UnreadableFile, match="names 3 columns but the data rows hold 2"):
        read(broken)


def test_hdf5_without_nxxas_entry_is_not_taken_for_xas(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5.create_group("entry").create_dataset("definition", data="NXmonopd")
    assert not xas_nxxas.sniff(path, path.read_bytes())
    with pytest.raises(UnreadableFile, match="no NXentry with definition NXxas"):
        xas_nxxas.read(path)
