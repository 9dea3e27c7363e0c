"""EC-Lab .mpt reader on the real exports in shared/realdata/cycling/eclab."""

from __future__ import annotations

import numpy as np
import pytest

from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers import find_reader, metadata_of, read
from bigmap_assets.schemas.cycling import READER_COLUMNS

# file -> rows (SOURCES.md; the PyProBE file counted by hand: 14 lines, 1 column line)
MPT_ROWS = {
    "perex_rock_operando/220726cell4operandoxas_C06.mpt": 6333,
    "perex_rock_operando/220726cell4operandoxascontinuation_C06.mpt": 1402,
    "pyprobe/Sample_data_biologic_no_header.mpt": 13,
    "yadg/bcd.issue_241.mpt": 2550,
    "yadg/cv.mpt": 5103,
    "yadg/gcpl.issue_149.mpt": 132,
    "yadg/gcpl.issue_211.mpt": 2767,
    "yadg/gcpl.pr_182.1.mpt": 2533,
    "yadg/mb.issue_223.mpt": 108,
    "yadg/mb.issue_95.de.mpt": 33,
    "yadg/mb.issue_95.mpt": 33,
    "yadg/mb.mpt": 1588,
    "yadg/ocv.issue_149.mpt": 43,
    "yadg/peis.issue_149.mpt": 84,
}


@pytest.fixture(scope="module")
def eclab(realdata):
    return realdata / "cycling" / "eclab"


@pytest.mark.parametrize("name, rows", sorted(MPT_ROWS.items()))
def test_every_real_mpt_reads_with_the_reader_columns_first(eclab, name, rows):
    table = read(eclab / name)
    meta = metadata_of(table)
    assert meta["format"] == "eclab_mpt"
    assert table.num_rows == rows
    assert table.column_names[: len(READER_COLUMNS)] == [c.name for c in READER_COLUMNS]
    for column in READER_COLUMNS:
        assert table.schema.field(column.name).type == column.type
        if not column.nullable:
            assert table.column(column.name).null_count == 0
    assert len(set(table.column_names)) == table.num_columns
    assert not [c for c in table.column_names if c.startswith("raw_")]
    assert np.all(np.diff(table.column("charging_capacity_ah").to_numpy()) >= 0)
    assert np.all(np.diff(table.column("discharging_capacity_ah").to_numpy()) >= 0)


def test_operando_file_values_and_header(eclab):
    table = read(eclab / "perex_rock_operando/220726cell4operandoxas_C06.mpt")
    meta = metadata_of(table)
    assert meta["start_time_local"] == "2022-07-26T22:38:30.190"
    assert meta["instrument"] == "VMP3"
    assert meta["device"] == "VMP3 (SN 0198)"
    assert meta["software_version"] == "EC-Lab 11.43"
    assert meta["techniques"] == ["GCPL"]
    assert meta["measurement_kind"] == "cycling"
    assert meta["header_lines"] == 82
    assert "Capacitance charge/µF" in meta["source_columns"]
    # first row: 0,000 s, Ewe 3,4912014 V, rest (mode 3); last row: t = 1,399686453004307E+005 s, 3,7662528 V
    assert table.column("voltage_volt")[0].as_py() == pytest.approx(3.4912014)
    assert table.column("control_mode")[0].as_py() == "REST"
    assert table.column("test_time_second")[-1].as_py() == pytest.approx(139968.6453004307)
    assert table.column("voltage_volt")[-1].as_py() == pytest.approx(3.7662528)
    assert table.column("step_id")[-1].as_py() == 3
    assert table.column("vendor_cycle_number").to_numpy().max() == 3
    assert set(table.column("control_mode").to_pylist()) <= {"CC", "CV", "REST"}


def test_german_decimal_comma_export_equals_english_export(eclab):
    english = read(eclab / "yadg/mb.issue_95.mpt")
    german = read(eclab / "yadg/mb.issue_95.de.mpt")
    assert english.column_names == german.column_names
    for column in english.column_names:
        assert english.column(column).equals(german.column(column)), column
    assert metadata_of(german)["header_lines"] == metadata_of(english)["header_lines"] + 1
    # last row by hand: I = -6,4980278E+001 mA, dq = -1,804760588116116E-002 mA.h
    assert german.column("current_ampere")[-1].as_py() == pytest.approx(-0.064980278)
    assert metadata_of(german)["decimal_separator"] == ","


def test_export_without_settings_has_no_start_time(eclab):
    meta = metadata_of(read(eclab / "yadg/gcpl.pr_182.1.mpt"))
    assert meta["header_lines"] == 3
    assert meta["start_time_local"] is None
    assert any("absolute time unknown" in w for w in meta["warnings"])


def test_headerless_file_with_lost_characters(eclab):
    table = read(eclab / "pyprobe/Sample_data_biologic_no_header.mpt")
    # Ecell/V wins over Ewe; I/mA to A; Temperature/\ufffdC is recognised as °C
    assert metadata_of(table)["voltage_source"] == "Ecell/V"
    assert table.column("voltage_volt")[0].as_py() == pytest.approx(2.9344745)
    assert table.column("test_time_second")[0].as_py() == pytest.approx(281672.3801174285)
    assert table.column("temperature_celsius")[0].as_py() == pytest.approx(24.443432)
    assert "capacitance_charge_microfarad" in table.column_names


def test_start_times_and_versions(eclab):
    expected = {
        "yadg/bcd.issue_241.mpt": ("2024-11-19T15:14:45.925", "BT-Lab 1.79", ["BCD"], "cycling"),
        "yadg/cv.mpt": ("2018-01-10T17:01:24.000", "EC-Lab 11.12", ["CV"], "voltammetry"),
        "yadg/gcpl.issue_211.mpt": ("2025-05-28T14:23:16.145", "EC-Lab 11.61", ["GCPL"], "cycling"),
        "yadg/peis.issue_149.mpt": ("2024-01-10T11:02:29.886", "EC-Lab 11.50", ["PEIS"], "impedance"),
    }
    for name, (start, version, techniques, kind) in expected.items():
        meta = metadata_of(read(eclab / name))
        assert (meta["start_time_local"], meta["software_version"], meta["techniques"], meta["measurement_kind"]) == (
            start, version, techniques, kind)


def test_bcd_uses_ecell_and_instantaneous_current(eclab):
    meta = metadata_of(read(eclab / "yadg/bcd.issue_241.mpt"))
    assert (meta["voltage_source"], meta["current_source"], meta["capacity_source"]) == ("Ecell/V", "I/mA", "dq/mA.h")


def test_renamed_file_is_sniffed_by_content(eclab, tmp_path):
    renamed = tmp_path / "export.txt"
    renamed.write_bytes((eclab / "yadg/mb.issue_95.mpt").read_bytes())
    assert find_reader(renamed).NAME == "eclab_mpt"
    assert read(renamed).num_rows == 33


def test_garbage_with_mpt_name_is_unreadable(tmp_path):
    garbage = tmp_path / "broken.mpt"
    garbage.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(UnreadableFile):
        read(garbage)


def test_header_promising_more_lines_than_the_file_has(eclab, tmp_path):
    cut = tmp_path / "cut.mpt"
    cut.write_bytes((eclab / "yadg/mb.issue_95.mpt").read_bytes()[:2000])
    with pytest.raises(UnreadableFile, match="ends inside its 93-line header"):
        read(cut)


def test_truncated_last_row_is_skipped_with_a_warning(eclab, tmp_path):
    data = (eclab / "yadg/mb.issue_95.mpt").read_bytes()
    cut = tmp_path / "growing.mpt"
    cut.write_bytes(data[: len(data) - 200])
    table = read(cut)
    assert table.num_rows == 32
    assert any("malformed data row" in w for w in metadata_of(table)["warnings"])


def test_time_column_exported_as_dates(eclab, tmp_path):
    """``time/s`` as ``MM/DD/YYYY HH:MM:SS.fff`` (an EC-Lab export option) becomes seconds again."""
    source = eclab / "yadg/mb.issue_95.mpt"
    reference = read(source)
    lines = source.read_bytes().split(b"\n")
    time_index = 8  # mode, ox/red, error, control changes, Ns changes, counter inc., Ns, I Range, time/s
    start = np.datetime64("2022-12-08T14:36:53.355")
    for i in range(93, len(lines)):
        fields = lines[i].split(b"\t")
        if len(fields) > time_index:
            moment = (start + np.timedelta64(round(float(fields[time_index]) * 1000), "ms")).astype("datetime64[ms]").item()
            fields[time_index] = moment.strftime("%m/%d/%Y %H:%M:%S.%f")[:-3].encode()
            lines[i] = b"\t".join(fields)
    dated = tmp_path / "dated.mpt"
    dated.write_bytes(b"\n".join(lines))
    table = read(dated)
    np.testing.assert_allclose(table.column("test_time_second").to_numpy(),
                               reference.column("test_time_second").to_numpy(), atol=5e-4)
    assert table.column("test_time_second")[-1].as_py() == pytest.approx(30.000, abs=1e-9)
    assert any("exported as dates" in w for w in metadata_of(table)["warnings"])


@pytest.mark.parametrize("ending", [b"\n", b""])
def test_header_without_data_rows_is_unreadable_with_a_reason(eclab, tmp_path, ending):
    lines = (eclab / "yadg/mb.issue_95.mpt").read_bytes().split(b"\n")
    header_only = tmp_path / "just_started.mpt"
    header_only.write_bytes(b"\n".join(lines[:93]) + ending)
    with pytest.raises(UnreadableFile, match="no data rows after the header"):
        read(header_only)


def test_eclab_sniffers_leave_other_real_files_alone(realdata):
    from bigmap_assets.readers import eclab_mpr, eclab_mpt, read_head

    others = [p for p in realdata.rglob("*") if p.is_file() and "eclab" not in p.parts and p.name != "SOURCES.md"]
    assert len(others) > 50
    for path in others:
        head = read_head(path)
        assert not eclab_mpr.sniff(path, head) and not eclab_mpt.sniff(path, head), path
