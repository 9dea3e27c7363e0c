"""Cycling science on hand-computed tables, simulated protocol runs and the real perex operando files."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pytest

from bigmap_assets import readers
from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers import attach_metadata, metadata_of
from bigmap_assets.schemas.cycling import CYCLING_CYCLES, CYCLING_TIMESERIES, READER_COLUMNS
from bigmap_assets.science.cycling import build_timeseries, check_sequence, summarise_cycles
from bigmap_assets.science.soh import state_of_health
from bigmap_assets.simulate.cycling import NS_AGEING, NS_CHECKUP, NS_FORMATION, CellRun, make_cell
from bigmap_assets.simulate.samples import ageing_cells


def reader_table(start_local: str | None, source: str = "cell.mpt", **columns) -> pa.Table:
    """A table shaped like a cycling reader's output, with ``start_time_local`` in its metadata."""
    n = len(columns["test_time_second"])
    data = {}
    for column in READER_COLUMNS:
        values = columns.get(column.name)
        data[column.name] = pa.nulls(n, column.type) if values is None else pa.array(values, column.type)
    data["source_file"] = pa.array([source] * n)
    data["source_sha256"] = pa.array(["0" * 64] * n)
    return attach_metadata(pa.table(data), {"start_time_local": start_local, "warnings": []})


# One rest point, then a cycle: CC charge 1 A for 1 h (3.0 -> 4.0 V), CV at 4.2 V to 0.2 A
# (+0.2 Ah), CC discharge 1 A (to 3.0 V, 1.0 Ah), CV at 2.5 V (+0.1 Ah).
TINY = dict(
    test_time_second=[0.0, 3600.0, 5400.0, 9000.0, 10800.0],
    voltage_volt=[3.0, 4.0, 4.2, 3.0, 2.5],
    current_ampere=[0.0, 1.0, 0.2, -1.0, -0.1],
    step_id=[0, 1, 1, 2, 2],
    control_mode=["REST", "CC", "CV", "CC", "CV"],
    vendor_cycle_number=[0, 0, 0, 0, 0],
    charging_capacity_ah=[0.0, 1.0, 1.2, 1.2, 1.2],
    discharging_capacity_ah=[0.0, 0.0, 0.0, 1.0, 1.1],
)


def test_formulas_on_a_hand_computed_cycle():
    ts = build_timeseries([reader_table("2023-01-10T08:00:00", **TINY)], sample_id="X", timezone="UTC")
    assert ts.schema.equals(CYCLING_TIMESERIES.arrow_schema(), check_metadata=False)
    assert ts.column("step_type").to_pylist() == ["REST", "CC_CHG", "CV_CHG", "CC_DCH", "CV_DCH"]
    assert ts.column("cycle_count").to_pylist() == [0, 1, 1, 1, 1]
    assert ts.column("step_count").to_pylist() == [0, 1, 2, 3, 4]
    # energies: sum of dQ x trapezoid voltage
    assert ts.column("charging_energy_wh").to_pylist()[-1] == pytest.approx(1.0 * 3.5 + 0.2 * 4.1)
    assert ts.column("discharging_energy_wh").to_pylist()[-1] == pytest.approx(1.0 * 3.6 + 0.1 * 2.75)
    assert ts.column("utc_time")[0].as_py() == datetime(2023, 1, 10, 8, tzinfo=timezone.utc)

    cycles = summarise_cycles(ts, active_mass_g=4.0)
    assert cycles.schema.equals(CYCLING_CYCLES.arrow_schema(), check_metadata=False)
    cycle = cycles.to_pylist()[1]
    assert cycle["charge_capacity_ah"] == pytest.approx(1.2)
    assert cycle["discharge_capacity_ah"] == pytest.approx(1.1)
    assert cycle["coulombic_efficiency"] == pytest.approx(1.1 / 1.2)
    assert cycle["energy_efficiency"] == pytest.approx(3.875 / 4.32)
    assert cycle["mean_charge_voltage_volt"] == pytest.approx(4.32 / 1.2)
    assert cycle["mean_discharge_voltage_volt"] == pytest.approx(3.875 / 1.1)
    assert cycle["voltage_hysteresis_volt"] == pytest.approx(4.32 / 1.2 - 3.875 / 1.1)
    assert cycle["cv_charge_capacity_ah"] == pytest.approx(0.2)
    assert cycle["cv_charge_end_current_ampere"] == pytest.approx(0.2)
    assert cycle["cv_discharge_capacity_ah"] == pytest.approx(0.1)
    assert cycle["c_rate_charge"] == pytest.approx(1.0 / 0.9)  # 1C = 4 g x 225 mAh/g = 0.9 A
    assert cycle["specific_discharge_capacity_mah_per_g"] == pytest.approx(275.0)
    assert cycle["duration_second"] == pytest.approx(7200.0)
    assert cycle["stage"] == "unknown"  # CV cut-off at 0.22 C fits no BIG-MAP stage
    assert "unclassified" in cycle["flags"]
    assert "leading rest of 0.00 h" in cycles.to_pylist()[0]["flags"]


def test_continuations_are_stitched_in_time_order_across_dst():
    # Europe/Berlin: 2023-03-25 12:00 is CET (UTC+1), 2023-03-26 12:00 is CEST (UTC+2): 23 h apart
    first = reader_table("2023-03-25T12:00:00", "a.mpt", test_time_second=[0.0, 1800.0, 3600.0],
                         voltage_volt=[3.6, 3.7, 3.8], current_ampere=[0.1, 0.1, 0.1],
                         vendor_cycle_number=[0, 1, 2], charging_capacity_ah=[0.0, 0.05, 0.1],
                         discharging_capacity_ah=[0.0, 0.0, 0.0])
    second = reader_table("2023-03-26T12:00:00", "b.mpt", test_time_second=[10.0, 1810.0],
                          voltage_volt=[3.9, 3.5], current_ampere=[-0.1, -0.1], vendor_cycle_number=[0, 1],
                          charging_capacity_ah=[0.0, 0.0], discharging_capacity_ah=[0.01, 0.06])
    undated = reader_table(None, "c.mpt", test_time_second=[0.0, 60.0], voltage_volt=[3.4, 3.4],
                           current_ampere=[0.0, 0.0])
    ts = build_timeseries([second, first, undated], sample_id="X", timezone="Europe/Berlin")
    # the undated file keeps its place after the one before it in the list ("a")
    assert ts.column("source_file").to_pylist() == ["a.mpt"] * 3 + ["c.mpt"] * 2 + ["b.mpt"] * 2
    assert ts.column("file_index").to_pylist() == [0, 0, 0, 1, 1, 2, 2]
    assert ts.column("test_time_second").to_pylist() == [0.0, 1800.0, 3600.0, 3600.0, 3660.0, 82810.0, 84610.0]
    assert ts.column("utc_time")[0].as_py() == datetime(2023, 3, 25, 11, tzinfo=timezone.utc)
    assert ts.column("utc_time")[5].as_py() == datetime(2023, 3, 26, 10, 0, 10, tzinfo=timezone.utc)
    assert ts.column("vendor_cycle_number").to_pylist() == [0, 1, 2, None, None, 2, 3]
    assert ts.column("charging_capacity_ah").to_pylist()[-1] == pytest.approx(0.1)
    assert ts.column("discharging_capacity_ah").to_pylist() == pytest.approx([0, 0, 0, 0, 0, 0.01, 0.06])
    assert ts.column("step_type").to_pylist() == ["CC_CHG"] * 3 + ["REST"] * 2 + ["CC_DCH"] * 2
    assert ts.column("cycle_count").to_pylist() == [1] * 7
    assert any("c.mpt has no start time" in w for w in metadata_of(ts)["warnings"])


def test_capacities_are_integrated_when_the_file_has_none():
    table = reader_table(None, test_time_second=[0.0, 3600.0, 7200.0], voltage_volt=[3.5, 4.0, 3.0],
                         current_ampere=[0.5, 0.5, -0.25])
    ts = build_timeseries([table], sample_id="X", timezone="UTC")
    assert ts.column("charging_capacity_ah").to_pylist() == pytest.approx([0.0, 0.5, 0.5])
    assert ts.column("discharging_capacity_ah").to_pylist() == pytest.approx([0.0, 0.0, 0.25])
    assert ts.column("utc_time").null_count == 3


def protocol_table(run: CellRun) -> pa.Table:
    """What a reader returns for a simulated run (instrument dq summed into capacities)."""
    arrays = run.rec.arrays()
    dq_ah = arrays["dq_mah"] / 1e3
    return reader_table("2023-03-06T09:00:00", test_time_second=arrays["time_s"], voltage_volt=arrays["voltage"],
                        current_ampere=arrays["current_a"], step_id=arrays["step_id"],
                        control_mode=list(arrays["mode"]), charging_capacity_ah=np.cumsum(np.clip(dq_ah, 0, None)),
                        discharging_capacity_ah=np.cumsum(np.clip(-dq_ah, 0, None)))


def new_run(formation_cycles: int) -> CellRun:
    cell = make_cell(ageing_cells()[0], np.random.default_rng(1))
    run = CellRun(cell, np.random.default_rng(2))
    run.rest(6.0, 0)
    for _ in range(formation_cycles):
        run.full_cycle(0.1, 1 / 20, None, NS_FORMATION)
    run.full_cycle(1 / 20, 1 / 50, 1 / 50, NS_CHECKUP)
    return run


def test_a_deviating_sequence_is_flagged_not_relabelled():
    run = new_run(formation_cycles=2)
    for _ in range(5):
        run.full_cycle(1.0, 1 / 20, None, NS_AGEING)
    run.full_cycle(1 / 20, 1 / 50, 1 / 50, NS_CHECKUP)
    ts = build_timeseries([protocol_table(run)], sample_id="X", timezone="Europe/Berlin")
    cycles = summarise_cycles(ts, active_mass_g=run.cell.sample.active_mass_mg / 1000).to_pylist()
    assert [c["stage"] for c in cycles] == ["rest"] + ["formation"] * 2 + ["checkup"] + ["ageing"] * 5 + ["checkup"]
    assert "formation run of 2 cycles, expected 3" in cycles[1]["flags"]
    assert "ageing run of 5 cycles, expected 20" in cycles[4]["flags"]
    assert cycles[3]["flags"] is None and cycles[-1]["flags"] is None
    assert [c["stage_block"] for c in cycles] == [0, 1, 1, 2] + [3] * 5 + [4]
    assert [c["cycle_in_block"] for c in cycles[4:9]] == [1, 2, 3, 4, 5]
    assert cycles[4]["c_rate_charge"] == pytest.approx(1.0, rel=1e-3)
    assert cycles[3]["c_rate_discharge"] == pytest.approx(0.05, rel=1e-3)


def test_a_truncated_last_cycle_is_incomplete():
    run = new_run(formation_cycles=3)
    run.full_cycle(1.0, 1 / 20, None, NS_AGEING)
    table = protocol_table(run)
    voltage = table.column("voltage_volt").to_numpy()
    mid_discharge = np.flatnonzero((table.column("current_ampere").to_numpy() < 0) & (voltage < 3.7))[-1] - 2
    ts = build_timeseries([table.slice(0, mid_discharge)], sample_id="X", timezone="UTC")
    cycles = summarise_cycles(ts, active_mass_g=run.cell.sample.active_mass_mg / 1000).to_pylist()
    assert [c["complete"] for c in cycles] == [True] * 5 + [False]
    assert cycles[-1]["stage"] == "ageing"
    assert "incomplete: the data end inside this cycle" in cycles[-1]["flags"]


def test_sequence_checker_on_stage_lists():
    stages = ["rest"] + ["formation"] * 3 + ["checkup"] + ["ageing"] * 20 + ["checkup", "checkup"] + ["ageing"] * 7
    rows = [{"stage": s, "duration_second": 6 * 3600.0, "flags": []} for s in stages]
    check_sequence(rows)
    flagged = {i for i, r in enumerate(rows) if r["flags"]}
    assert flagged == {25, 26}  # the doubled check-up; the last, short ageing block is fine
    assert rows[25]["flags"] == ["checkup run of 2 cycles, expected 1"]


def test_real_gitt_files_are_not_mistaken_for_the_protocol(realdata):
    folder = realdata / "cycling" / "eclab" / "perex_rock_operando"
    files = [readers.read(folder / name) for name in
             ("220726cell4operandoxascontinuation_C06.mpt", "220726cell4operandoxas_C06.mpt")]
    ts = build_timeseries(files, sample_id="LNO-OPXAS-01", timezone="Europe/Paris")
    assert ts.num_rows == 6333 + 1402
    # continuation starts 07/28/2022 13:31:45.341, first file 07/26/2022 22:38:30.190 (both CEST)
    starts = ts.column("file_index").to_numpy()
    first_of_second = int(np.argmax(starts == 1))
    assert ts.column("test_time_second")[first_of_second].as_py() == pytest.approx(139995.151, abs=1.0)
    assert ts.column("utc_time")[0].as_py() == datetime(2022, 7, 26, 20, 38, 30, 190000, tzinfo=timezone.utc)
    cycles = summarise_cycles(ts, active_mass_g=None)
    stages = set(cycles.column("stage").to_pylist())
    assert stages <= {"rest", "unknown"} and "unknown" in stages
    flags = cycles.column("flags").to_pylist()
    assert all("active mass unknown" in f for f in flags)
    assert sum("unclassified" in f for f in flags) == cycles.column("stage").to_pylist().count("unknown")


def test_a_wrong_active_mass_is_flagged():
    run = new_run(formation_cycles=3)
    ts = build_timeseries([protocol_table(run)], sample_id="X", timezone="UTC")
    cycles = summarise_cycles(ts, active_mass_g=2 * run.cell.sample.active_mass_mg / 1000).to_pylist()
    assert all("check the mass" in c["flags"] for c in cycles)
    assert cycles[1]["c_rate_charge"] == pytest.approx(0.05, rel=1e-3)  # C/10 read as C/20 with twice the mass


def test_every_real_cycler_file_goes_through_without_crashing(realdata):
    """No real file follows the BIG-MAP protocol: every cycle is rest or unknown, and nothing crashes."""
    summarised = 0
    for path in sorted((realdata / "cycling").rglob("*")):
        try:
            table = readers.read(path)
        except UnreadableFile:
            continue
        ts = build_timeseries([table], sample_id="X", timezone="UTC")
        cycles = summarise_cycles(ts, active_mass_g=None)
        assert set(cycles.column("stage").to_pylist()) <= {"rest", "unknown"}, path.name
        assert state_of_health(cycles).num_rows == 0
        summarised += 1
    assert summarised >= 35


def test_a_file_that_states_its_timezone_is_placed_by_it_not_by_the_cells():
    from zoneinfo import ZoneInfo

    from bigmap_assets.science.cycling import start_unix_second
    from bigmap_assets.science.cycling_stream import TimeseriesBuilder

    berlin = ZoneInfo("Europe/Berlin")
    noon_utc = datetime(2023, 3, 25, 12, tzinfo=timezone.utc).timestamp()
    assert start_unix_second({"start_time_local": "2023-03-25T12:00:00", "timezone": "UTC"}, berlin) == noon_utc
    assert start_unix_second({"start_time_local": "2023-03-25T12:00:00"}, berlin) == noon_utc - 3600  # CET
    assert start_unix_second({"start_time_local": "2023-03-25T12:00:00", "timezone": "Mars/Olympus"}, berlin) \
        == noon_utc - 3600
    assert start_unix_second({"start_time_local": None, "timezone": "UTC"}, berlin) is None

    # an Arbin export with Unix-time dates (start in UTC, 11:30) and an EC-Lab file of the same Berlin cell
    # started at 12:00 Berlin time (11:00 UTC): the EC-Lab file comes first, the Arbin one 30 min later
    unix_dated = reader_table("2023-03-25T11:30:00", "arbin.csv", test_time_second=[0.0, 60.0],
                              voltage_volt=[3.5, 3.6], current_ampere=[0.1, 0.1])
    unix_dated = attach_metadata(unix_dated, {**metadata_of(unix_dated), "timezone": "UTC"})
    local = reader_table("2023-03-25T12:00:00", "cell.mpt", test_time_second=[0.0, 60.0],
                         voltage_volt=[3.4, 3.45], current_ampere=[0.1, 0.1])
    whole = build_timeseries([unix_dated, local], sample_id="X", timezone="Europe/Berlin")
    assert whole.column("source_file").to_pylist() == ["cell.mpt"] * 2 + ["arbin.csv"] * 2
    assert whole.column("utc_time")[2].as_py() == datetime(2023, 3, 25, 11, 30, tzinfo=timezone.utc)
    assert whole.column("test_time_second").to_pylist() == [0.0, 60.0, 1800.0, 1860.0]

    builder = TimeseriesBuilder(sample_id="X", timezone="Europe/Berlin")
    pieces = []
    for table in (local, unix_dated):
        builder.start_file(metadata_of(table), name=table.column("source_file")[0].as_py())
        pieces.append(builder.add(table))
    streamed = pa.concat_tables([*pieces, builder.finish()])
    assert streamed.column("utc_time").to_pylist() == whole.column("utc_time").to_pylist()


def test_an_unregistered_cell_gets_a_warning_per_file_naming_the_timezone_used():
    from pathlib import Path

    from bigmap_assets.ingest.cycling import CyclingSource, unregistered_issues

    sources = [CyclingSource("raw/cycling/N1/a.mpt", Path("a.mpt"), 10, "a" * 64, {"timezone": None}, None),
               CyclingSource("raw/cycling/N1/b.csv", Path("b.csv"), 10, "b" * 64, {"timezone": "UTC"}, None)]
    assert [(i.path, i.sample_id, i.severity, i.reason, i.sha256) for i in unregistered_issues(sources, "N1")] == [
        ("raw/cycling/N1/a.mpt", "N1", "warning", "not in the registry: timezone assumed UTC", "a" * 64),
        ("raw/cycling/N1/b.csv", "N1", "warning", "not in the registry: the file's own timezone (UTC) used", "b" * 64)]


def test_time_steps_backwards_counted_across_pieces():
    from bigmap_assets.science.cycling import time_steps_backwards

    pieces = [pa.chunked_array([[0.0, 1.0, 2.0]]), pa.chunked_array([[], [1.5]], pa.float64()),
              pa.chunked_array([[]], pa.float64()), pa.chunked_array([[3.0, 2.5, 4.0]])]
    assert time_steps_backwards(pieces) == (7, 2)  # 2.0 -> 1.5 at a seam, 3.0 -> 2.5 inside a piece
    assert time_steps_backwards([]) == (0, 0)
