"""Every real cycler file in ../shared/realdata/cycling reads with the EC-Lab conventions.

Known values were read by hand from the files (row counts, first/last values, header fields);
per-cycle capacities rebuilt from our cumulative counters must equal the vendor's own
per-step or per-cycle counters.
"""

import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers import arbin, find_reader, metadata_of, read
from bigmap_assets.schemas.cycling import READER_COLUMNS
from bigmap_assets.science.cycling import build_timeseries

FORMATS = ("neware", "arbin", "maccor", "basytec", "novonix")
SIDE_CARS = {"beep_2017-05-09_test-TC-contact_CH33_Metadata.csv"}

# file -> (format, rows, measurement_kind, start_time_local)
KNOWN = {
    "neware/20260302_IFE_BTS85_2_9_8_1.ndax": ("neware", 252951, "cycling", "2026-02-27T11:17:33"),
    "neware/navani_test.nda": ("neware", 439, "cycling", "2020-03-25T11:16:50"),  # header: 11:16:21
    "neware/navani_test.ndax": ("neware", 1464, "cycling", "2024-02-01T20:24:23"),
    "arbin/beep_2017-05-09_test-TC-contact_CH33.csv": ("arbin", 287, "cycling", "2017-05-10T00:47:33.170000"),
    "arbin/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx": ("arbin", 4526, "cycling", "2020-10-19T11:31:46.582000"),
    "arbin/navani_arbin_example.res": ("arbin", 2150, "cycling", "2023-07-24T18:50:00"),
    "arbin/pyprobe_sample_data_arbin.csv": ("arbin", 13, "cycling", "2024-09-20T08:32:34.558000"),
    "maccor/beep_maccor_test_file_4267-66-6519.041": ("maccor", 74, "impedance", "2016-11-02T15:57:53"),
    "maccor/cellpy_maccor_002.txt": ("maccor", 7446, "cycling", "2021-05-11T15:40:24"),
    "maccor/cellpy_maccor_two.txt": ("maccor", 213, "cycling", "2021-05-06T11:23:46"),
    "maccor/pyprobe_sample_data_maccor.csv": ("maccor", 15, "cycling", "2023-11-23T15:56:11"),
    "basytec/pyprobe_sample_data_basytec.txt": ("basytec", 74, "cycling", "2023-06-19T17:56:53"),
    "novonix/pyprobe_sample_data_novonix.csv": ("novonix", 207, "cycling", "2025-07-19T15:26:20"),
}


@pytest.fixture(scope="module")
def cycling(realdata) -> Path:
    return realdata / "cycling"


@pytest.fixture(scope="module")
def tables(cycling):
    return {name: read(cycling / name) for name in KNOWN}


def per_cycle(table, column):
    """Capacity passed in each vendor cycle, from a cumulative column."""
    cycles = table.column("vendor_cycle_number").to_numpy()
    values = table.column(column).to_numpy()
    result = {}
    for cycle in np.unique(cycles):
        rows = np.flatnonzero(cycles == cycle)
        before = values[rows[0] - 1] if rows[0] else 0.0
        result[int(cycle)] = values[rows[-1]] - before
    return result


def test_every_real_cycler_file_is_known_here(cycling):
    found = {str(p.relative_to(cycling)) for f in FORMATS for p in (cycling / f).iterdir()}
    assert found - {f"arbin/{s}" for s in SIDE_CARS} == set(KNOWN)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_reads_with_contract(tables, name):
    fmt, rows, kind, start = KNOWN[name]
    table = tables[name]
    metadata = metadata_of(table)
    assert metadata["format"] == fmt
    assert table.num_rows == rows
    assert metadata["measurement_kind"] == kind
    assert metadata["start_time_local"] == start
    assert table.schema.names[: len(READER_COLUMNS)] == [c.name for c in READER_COLUMNS]
    assert [table.schema.field(c.name).type for c in READER_COLUMNS] == [c.type for c in READER_COLUMNS]
    for column in ("test_time_second", "voltage_volt", "current_ampere"):
        assert table.column(column).null_count == 0
    assert set(table.column("control_mode").to_pylist()) <= {"CC", "CV", "REST", "OTHER"}
    for column in ("charging_capacity_ah", "discharging_capacity_ah"):
        assert (np.diff(table.column(column).to_numpy()) >= 0).all(), "cumulative capacity must never fall"
    assert isinstance(metadata["warnings"], list) and isinstance(metadata["lacks"], list)
    assert (metadata["timezone"] is None) == ("timezone" in metadata["lacks"])


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_renamed_copy_without_extension_finds_its_reader(cycling, tmp_path, name):
    copy = tmp_path / "renamed"
    shutil.copyfile(cycling / name, copy)
    assert find_reader(copy).NAME == KNOWN[name][0]


def test_arbin_sidecar_is_refused_with_a_reason(cycling):
    with pytest.raises(UnreadableFile, match="metadata sidecar"):
        read(cycling / "arbin" / "beep_2017-05-09_test-TC-contact_CH33_Metadata.csv")


def test_arbin_csv_takes_schedule_from_its_sidecar_and_lacks_cycles(tables):
    table = tables["arbin/beep_2017-05-09_test-TC-contact_CH33.csv"]
    metadata = metadata_of(table)
    assert metadata["schedule_file"] == "20170509-6C_1C_36CV.sdu"
    assert metadata["timezone"] == "UTC"  # DateTime is Unix epoch
    assert {"cycle column", "step column"} <= set(metadata["lacks"])
    assert table.column("unix_time_second")[0].as_py() == pytest.approx(1494377253.17)
    # 6.6 A charge to 3.6 V, then 1.1 A charge: no step column, steps found from the current
    assert set(table.column("control_mode").to_pylist()) == {"CC"}
    assert table.column("voltage_volt").to_numpy().max() == pytest.approx(3.600003719329834)


def test_arbin_res_per_cycle_capacities_match_arbin_counters(tables):
    table = tables["arbin/navani_arbin_example.res"]
    assert sorted(set(table.column("vendor_cycle_number").to_pylist())) == [1, 2, 3, 4, 5]
    assert (np.diff(table.column("test_time_second").to_numpy()) > 0).all()
    cycles = table.column("vendor_cycle_number").to_numpy()
    for ours, theirs in (("charging_capacity_ah", "cycle_charging_capacity_ah"),
                         ("discharging_capacity_ah", "cycle_discharging_capacity_ah")):
        vendor = table.column(theirs).to_numpy()
        for cycle, capacity in per_cycle(table, ours).items():
            assert capacity == pytest.approx(vendor[cycles == cycle].max(), abs=1e-12)
    assert per_cycle(table, "charging_capacity_ah")[2] == pytest.approx(0.000476750555943)
    assert metadata_of(table)["schedule_file"] == "AliceM\\LCO-ajm5-SSA8-N_5xCo10.sdu"


def test_arbin_xlsx_and_new_csv(tables):
    xlsx = tables["arbin/bs542_004_gr_li_50ua_50mv_1v_191020_Channel_11.xlsx"]
    assert xlsx.column("voltage_volt")[0].as_py() == pytest.approx(2.637298583984375)
    assert per_cycle(xlsx, "discharging_capacity_ah")[1] == pytest.approx(0.0110548976808786)
    assert per_cycle(xlsx, "charging_capacity_ah")[1] == pytest.approx(0.005702702794224024)
    new = tables["arbin/pyprobe_sample_data_arbin.csv"]
    assert new.column("temperature_celsius")[0].as_py() == pytest.approx(24.66422)
    assert new.column("current_ampere")[-1].as_py() == pytest.approx(2.650138)


def test_arbin_res_without_mdbtools_says_what_to_install(cycling, monkeypatch):
    monkeypatch.setattr(arbin.shutil, "which", lambda _name: None)
    with pytest.raises(UnreadableFile, match="apt-get install mdbtools"):
        read(cycling / "arbin" / "navani_arbin_example.res")


def test_maccor_per_cycle_capacities_match_per_step_counters(tables):
    table = tables["maccor/cellpy_maccor_002.txt"]
    state = np.array(table.column("state").to_pylist())
    step = table.column("step_id").to_numpy()
    cycles = table.column("vendor_cycle_number").to_numpy()
    step_capacity = table.column("step_capacity_ah").to_numpy()
    for ours, code in (("charging_capacity_ah", "C"), ("discharging_capacity_ah", "D")):
        for cycle, capacity in per_cycle(table, ours).items():
            rows = (cycles == cycle) & (state == code)
            vendor = sum(step_capacity[rows & (step == s)].max() for s in np.unique(step[rows]))
            assert capacity == pytest.approx(vendor, abs=1e-9)
    assert per_cycle(table, "charging_capacity_ah") == pytest.approx({1: 0.00244213, 2: 0.00227658})
    # magnitude-only current gets its sign from the state column
    current = table.column("current_ampere").to_numpy()
    assert (current[state == "D"] < 0).all() and (current[state == "C"] > 0).all()
    assert table.column("voltage_volt")[0].as_py() == pytest.approx(0.1783)
    # TestTime is written in minutes: 3809.841833 min at the last row
    assert table.column("test_time_second")[-1].as_py() == pytest.approx(3809.841833 * 60)


def test_maccor_decimal_comma_truncated_row_and_eis(tables):
    two = tables["maccor/cellpy_maccor_two.txt"]
    warnings = " ".join(metadata_of(two)["warnings"])
    assert "1 malformed row" in warnings and "day first" in warnings
    assert two.column("voltage_volt")[0].as_py() == pytest.approx(0.1377)
    assert set(two.column("control_mode").to_pylist()) == {"REST"}
    eis = tables["maccor/beep_maccor_test_file_4267-66-6519.041"]
    assert metadata_of(eis)["procedure"] == "EIS 1.000FRA default"
    assert eis.column("voltage_volt")[0].as_py() == pytest.approx(3.90806439)
    csv = tables["maccor/pyprobe_sample_data_maccor.csv"]
    assert csv.column("temperature_celsius")[0].as_py() == pytest.approx(22.2591)


def test_neware_per_step_capacities(tables):
    for name in ("neware/20260302_IFE_BTS85_2_9_8_1.ndax", "neware/navani_test.ndax", "neware/navani_test.nda"):
        table = tables[name]
        steps = table.column("step_count").to_numpy()
        step_capacity = table.column("step_capacity_ah").to_numpy()
        charge = sum(max(step_capacity[steps == s].max(), 0.0) for s in np.unique(steps))
        discharge = sum(max(-step_capacity[steps == s].min(), 0.0) for s in np.unique(steps))
        assert table.column("charging_capacity_ah")[-1].as_py() == pytest.approx(charge, rel=1e-9)
        assert table.column("discharging_capacity_ah")[-1].as_py() == pytest.approx(discharge, rel=1e-9, abs=1e-15)
    ife = tables["neware/20260302_IFE_BTS85_2_9_8_1.ndax"]
    assert metadata_of(ife)["utc_offset_second"] == 3600
    assert ife.column("charging_capacity_ah")[-1].as_py() == pytest.approx(1.41875728, rel=1e-6)
    ndax = tables["neware/navani_test.ndax"]
    assert {"CC", "CV", "REST"} <= set(ndax.column("control_mode").to_pylist())  # CCCV steps split
    current = ndax.column("current_ampere").to_numpy()
    assert current.max() == pytest.approx(1.2e-4, rel=1e-3) and current.min() == pytest.approx(-1.199e-4, rel=1e-3)


def test_maccor_test_time_follows_the_clock_where_it_stalls(tables):
    """63 rows (11-73) of the raw .041 file repeat TestTime 0d 00:00:10 while DPt Time runs from
    15:58:03 to 16:03:24: test time comes from the clock there, so start + test time is each
    row's clock time (1 s resolution), and it never falls."""
    eis = tables["maccor/beep_maccor_test_file_4267-66-6519.041"]
    metadata = metadata_of(eis)
    time_s = eis.column("test_time_second").to_numpy()
    start = datetime.fromisoformat(metadata["start_time_local"])
    clock = np.array([(datetime.strptime(t, "%m/%d/%Y %H:%M:%S") - start).total_seconds()
                      for t in eis.column("clock_text_local").to_pylist()])
    np.testing.assert_array_equal(time_s, clock)
    assert (np.diff(time_s) >= 0).all()
    assert time_s[10] == 10.0 and time_s[12] == 72.0 and time_s[-1] == 331.0  # 16:03:24
    (warning,) = [w for w in metadata["warnings"] if "stands still" in w]
    assert "61 row(s)" in warning and "321 s" in warning
    cycler = tables["maccor/cellpy_maccor_002.txt"]  # a test time that never stalls is left as written
    assert not [w for w in metadata_of(cycler)["warnings"] if "stands still" in w]


def test_neware_ndax_aux_channels_named_by_their_declared_type(tables):
    """TestInfo.xml declares ChlType 102 (RealChlID 144), 103 (144) and 1122 (1); the members are
    data_AUX_144_2_1, data_AUX_144_3_1 and data_AUX_1_1022_1 (RealChlID, ChlType - 100, n)."""
    ife = tables["neware/20260302_IFE_BTS85_2_9_8_1.ndax"]
    metadata = metadata_of(ife)
    channels = {c["member"]: (c["chl_type"], c["column"]) for c in metadata["aux_channels"]}
    assert channels == {"data_AUX_144_2_1.ndc": (102, "aux_voltage_1_volt"),
                        "data_AUX_144_3_1.ndc": (103, "temperature_t1_celsius"),
                        "data_AUX_1_1022_1.ndc": (1122, "cpu_temperature_1_celsius")}
    temperature = ife.column("temperature_celsius").to_numpy()
    assert ife.column("temperature_celsius").null_count == 0
    assert temperature.min() == pytest.approx(25.634, abs=1e-3) and temperature.max() == pytest.approx(26.975, abs=1e-3)
    assert ife.column("temperature_t1_celsius").equals(ife.column("temperature_celsius"))
    cpu = ife.column("cpu_temperature_1_celsius").to_numpy()
    assert cpu.min() == pytest.approx(24.05, abs=1e-3) and cpu.max() == pytest.approx(26.48, abs=1e-3)
    assert (ife.column("aux_voltage_1_volt").to_numpy() == 0.0).all()  # no cell-voltage probe wired
    assert "temperature" not in metadata["lacks"]
    assert not [w for w in metadata["warnings"] if "aux" in w or "sensor" in w]


def test_neware_aux_members_fastnda_cannot_pair_are_reported(cycling, tmp_path):
    """An archive with 3 TestInfo.xml aux entries but 2 aux members: fastnda decodes no aux channel."""
    cut = tmp_path / "cut_aux.ndax"
    with zipfile.ZipFile(cycling / "neware/20260302_IFE_BTS85_2_9_8_1.ndax") as source, \
            zipfile.ZipFile(cut, "w") as target:
        for member in source.namelist():
            if member != "data_AUX_1_1022_1.ndc":
                target.writestr(member, source.read(member))
    table = read(cut)
    metadata = metadata_of(table)
    assert table.num_rows == 252951 and table.column("temperature_celsius").null_count == table.num_rows
    (warning,) = [w for w in metadata["warnings"] if "auxiliary channel member" in w]
    assert "data_AUX_144_2_1.ndc, data_AUX_144_3_1.ndc" in warning and "temperature" in metadata["lacks"]


def test_fastnda_notices_go_to_the_metadata_not_stderr(cycling, capfd):
    metadata = metadata_of(read(cycling / "neware" / "20260302_IFE_BTS85_2_9_8_1.ndax"))
    assert capfd.readouterr().err == ""
    assert metadata["decoder_notices"][0].startswith("IMPORTANT: This ndax has negative jumps")
    assert "Unix time jumps backwards in the file; use test_time_second for ordering" in metadata["warnings"]


def test_neware_nda_rows_carry_local_wall_clock(tables, cycling):
    """BTS 7.6 records hold local clock fields: start + test time must give each row's clock
    time (to the clock's 1 s resolution), and the registry's timezone is left to apply."""
    nda = tables["neware/navani_test.nda"]
    metadata = metadata_of(nda)
    assert metadata["start_time_local"] == "2020-03-25T11:16:50"
    assert metadata["header_start_time_local"] == "2020-03-25T11:16:21"
    assert "local wall-clock" in metadata["clock"] and metadata["timezone"] is None
    assert "timezone" in metadata["lacks"]
    assert "start_time_utc" not in metadata and "utc_offset_second" not in metadata
    assert any("+29 s" in w for w in metadata["warnings"])
    assert "unix_time_second" not in nda.column_names
    start = datetime.fromisoformat(metadata["start_time_local"]).replace(tzinfo=timezone.utc).timestamp()
    clock = nda.column("local_clock_second").to_numpy()
    assert np.abs(start + nda.column("test_time_second").to_numpy() - clock).max() <= 1.0
    assert metadata_of(tables["neware/20260302_IFE_BTS85_2_9_8_1.ndax"])["clock"].startswith("rows carry Unix time")


def test_neware_file_without_clock_time_keeps_the_header_start(cycling, monkeypatch):
    """fastnda builds no unix_time_s when it finds no start time (record versions 1 and 3)."""
    import fastnda

    decode = fastnda.read
    monkeypatch.setenv("BIGMAP_READER_MEMORY_MB", "0")  # read in this process, where fastnda is patched
    monkeypatch.setattr(fastnda, "read", lambda *a, **k: decode(*a, **k).drop("unix_time_s"))
    metadata = metadata_of(read(cycling / "neware/navani_test.nda"))
    assert metadata["start_time_local"] == "2020-03-25T11:16:21"
    assert any("no clock time" in w for w in metadata["warnings"])


def test_neware_nda_is_stitched_in_the_registry_timezone(tables):
    """The wall-clock start localised in the sample's zone: 11:16:50 in Berlin (CET) is 10:16:50 UTC."""
    nda = tables["neware/navani_test.nda"].append_column("source_file", pa.array(["navani_test.nda"] * 439))
    series = build_timeseries([nda], sample_id="nda-cell", timezone="Europe/Berlin")
    first = series.column("unix_time_second")[0].as_py()
    assert datetime.fromtimestamp(first, timezone.utc) == datetime(2020, 3, 25, 10, 16, 50, tzinfo=timezone.utc)


def test_basytec_and_novonix_match_vendor_counters(tables):
    basytec = tables["basytec/pyprobe_sample_data_basytec.txt"]
    cycles = basytec.column("vendor_cycle_number").to_numpy()
    vendor = basytec.column("cycle_charging_capacity_ah").to_numpy()
    for cycle, capacity in per_cycle(basytec, "charging_capacity_ah").items():
        assert capacity == pytest.approx(vendor[cycles == cycle].max(), abs=1e-12)
    assert basytec.column("temperature_celsius")[0].as_py() == pytest.approx(25.47953)
    novonix = tables["novonix/pyprobe_sample_data_novonix.csv"]
    assert per_cycle(novonix, "charging_capacity_ah")[1] == pytest.approx(1.70652976)
    assert novonix.column("test_time_second")[-1].as_py() == pytest.approx(3.4131889 * 3600)
    assert set(novonix.column("control_mode").to_pylist()) == {"CC"}  # step type 7: CC part of a CC-CV charge


def test_a_file_nobody_reads_lists_the_readers_tried(tmp_path):
    stranger = tmp_path / "stranger.dat"
    stranger.write_text("hello\tworld\n1\t2\n")
    with pytest.raises(UnreadableFile) as error:
        find_reader(stranger)
    for name in FORMATS:
        assert name in str(error.value)


@pytest.mark.parametrize("name", ["maccor/cellpy_maccor_002.txt", "basytec/pyprobe_sample_data_basytec.txt",
                                  "novonix/pyprobe_sample_data_novonix.csv", "arbin/pyprobe_sample_data_arbin.csv"])
def test_a_run_that_has_just_started_is_refused_with_a_reason(cycling, tmp_path, name):
    data = (cycling / name).read_bytes()
    header_only = tmp_path / "started"
    first_row = {"maccor": 15, "basytec": 13, "novonix": 21, "arbin": 1}[name.split("/")[0]]
    header_only.write_bytes(b"".join(data.splitlines(keepends=True)[:first_row]))
    with pytest.raises(UnreadableFile, match="no data rows after the header yet"):
        read(header_only)


def test_a_cut_neware_archive_is_refused(cycling, tmp_path):
    cut = tmp_path / "cut.ndax"
    cut.write_bytes((cycling / "neware" / "navani_test.ndax").read_bytes()[:20000])
    with pytest.raises(UnreadableFile):
        read(cut)


def test_canonical_only_reads_equal_the_canonical_columns_of_full_reads(cycling):
    """What the pipeline reads (``canonical_only``: text exports parse only the mapped columns)
    is the full read's READER_COLUMNS, value for value, with the same metadata."""
    names = [c.name for c in READER_COLUMNS]
    compared = []
    for path in sorted(p for p in cycling.rglob("*") if p.is_file() and p.name not in SIDE_CARS | {"SOURCES.md"}):
        try:
            full = read(path)
        except UnreadableFile:
            continue
        if metadata_of(full)["technique"] != "cycling":
            continue
        narrow = read(path, canonical_only=True)
        assert narrow.column_names == names, path.name
        assert narrow.equals(full.select(names)), path.name
        assert metadata_of(narrow) == metadata_of(full), path.name
        compared.append(path.suffix.lower())
    # every format and both EC-Lab ones took part, the text exports through their narrowed parse
    assert {".mpr", ".mpt", ".csv", ".txt", ".nda", ".ndax", ".res", ".xlsx"} <= set(compared)
    assert len(compared) >= 38
