"""The cycling example data, read back through the real path, reproduce its ground truth.

generated .mpt -> bigmap_assets.read -> build_timeseries -> summarise_cycles -> state_of_health.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from bigmap_assets import readers
from bigmap_assets.science.cycling import build_timeseries, summarise_cycles
from bigmap_assets.science.soh import attach_registry, series_statistics, state_of_health, trajectory_outliers
from bigmap_assets.simulate import cycling as sim
from bigmap_assets.simulate.eclab import write_mpt
from bigmap_assets.simulate.samples import ageing_cells

SAMPLES = {s.sample_id: s for s in ageing_cells()}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("example")
    sim.generate(folder, seed=0)
    return folder


@pytest.fixture(scope="module")
def pipeline(data_dir) -> dict[str, dict]:
    """Every cell through the real path: ground truth, time series, cycles and SoH."""
    results = {}
    for sample_id, sample in SAMPLES.items():
        truth = json.loads((data_dir / "ground_truth" / "cycling" / f"{sample_id}.json").read_text())
        files = [readers.read(p) for p in sorted((data_dir / "raw" / "cycling" / sample_id).iterdir())]
        timeseries = build_timeseries(files, sample_id=sample_id, timezone=sample.timezone)
        cycles = summarise_cycles(timeseries, active_mass_g=sample.active_mass_mg / 1000)
        soh = attach_registry(state_of_health(cycles), {"series": sample.series, "provider": sample.provider,
                                                        "batch": sample.batch})
        results[sample_id] = {"truth": truth, "files": files, "timeseries": timeseries, "cycles": cycles, "soh": soh}
    return results


def test_every_cell_is_written_small_and_outside_raw_for_truth(data_dir):
    raw = sorted((data_dir / "raw" / "cycling").rglob("*.mpt"))
    assert {p.parent.name for p in raw} == set(SAMPLES)
    assert len(raw) == len(SAMPLES) + 1  # one continuation
    assert sum(p.stat().st_size for p in raw) < 5_600_000
    assert not list((data_dir / "raw").rglob("*.json"))
    assert len(list((data_dir / "ground_truth" / "cycling").glob("*.json"))) == len(SAMPLES)


def test_stage_of_every_cycle_is_recovered(pipeline):
    for sample_id, result in pipeline.items():
        stages = result["cycles"].column("stage").to_pylist()
        assert stages == result["truth"]["stages"], sample_id
        assert result["cycles"].column("flags").null_count == result["cycles"].num_rows, sample_id


def test_soh_and_end_of_life_match_the_ground_truth(pipeline):
    for sample_id, result in pipeline.items():
        truth, soh = result["truth"], result["soh"]
        expected = [c["discharge_capacity_ah"] for c in truth["checkups"]]
        measured = soh.column("discharge_capacity_ah").to_pylist()
        assert measured == pytest.approx(expected, rel=5e-3), sample_id
        assert soh.column("soh").to_pylist() == pytest.approx([c["soh"] for c in truth["checkups"]], abs=5e-3)
        assert soh.column("cycle_count").to_pylist() == [c["cycle_count"] for c in truth["checkups"]]
        checkups = result["cycles"].filter(pa.compute.equal(result["cycles"].column("stage"), "checkup"))
        assert checkups.column("mean_discharge_voltage_volt").to_pylist() == pytest.approx(
            [c["mean_discharge_voltage_volt"] for c in truth["checkups"]], rel=1e-3)
        assert soh.column("eol_cycle_count")[0].as_py() == truth["eol_cycle_count"], sample_id
        assert 80 <= truth["eol_cycle_count"] <= 200


def test_protocol_shape_of_one_cell(pipeline):
    cycles = pipeline["LNO-REF-A-02"]["cycles"].to_pylist()
    rest, first_formation, checkup, ageing = cycles[0], cycles[1], cycles[4], cycles[5]
    assert rest["duration_second"] == pytest.approx(6 * 3600, rel=0.01)
    assert first_formation["coulombic_efficiency"] < 0.9 < cycles[3]["coulombic_efficiency"]  # SEI in formation
    assert checkup["c_rate_charge"] == pytest.approx(0.05, rel=0.01)
    c_over_50 = checkup["cc_discharge_current_ampere"] / 2.5
    assert checkup["cv_discharge_end_current_ampere"] == pytest.approx(c_over_50, rel=0.01)
    assert checkup["cv_discharge_capacity_ah"] > 0
    assert ageing["c_rate_discharge"] == pytest.approx(1.0, rel=0.01)
    assert 4.19 < ageing["max_voltage_volt"] < 4.21 and 2.49 < ageing["min_voltage_volt"] < 2.51
    assert 0.0 < ageing["voltage_hysteresis_volt"] < 0.4


def test_continuation_across_dst_is_stitched_in_absolute_time(pipeline):
    result = pipeline[sim.CONTINUED_CELL]
    truth, timeseries = result["truth"], result["timeseries"]
    assert len(truth["files"]) == 2 and truth["files"][1]["start_local"] > "2023-03-26T03"
    file_index = timeseries.column("file_index").to_numpy()
    first_of_second = int(np.argmax(file_index == 1))
    time_in_file = result["files"][1].column("test_time_second")[0].as_py()
    start_utc = datetime.fromisoformat(truth["files"][1]["start_utc"])
    assert timeseries.column("unix_time_second")[first_of_second].as_py() == pytest.approx(
        start_utc.timestamp() + time_in_file, abs=1e-3)
    gap_s = np.diff(timeseries.column("test_time_second").to_numpy())[first_of_second - 1]
    assert gap_s > truth["continuation_stop_hours"] * 3600


def test_decimal_comma_for_provider_b(data_dir):
    b_cell = next(s for s in SAMPLES.values() if s.provider == "ProviderB")
    text = next((data_dir / "raw" / "cycling" / b_cell.sample_id).glob("*.mpt")).read_bytes().decode("latin-1")
    assert "Nb header lines" in text and "Acquisition started on : 03/06/2023" in text
    assert "," in text.splitlines()[-1] and "." not in text.splitlines()[-1]


def test_series_statistics_and_the_faulty_cell(pipeline):
    soh = pa.concat_tables([r["soh"] for r in pipeline.values()])
    flagged = trajectory_outliers(soh)
    flagged = flagged.filter(flagged.column("outlier"))
    assert set(flagged.column("sample_id").to_pylist()) == {sim.FAULTY_CELL}
    assert min(flagged.column("checkup_index").to_pylist()) == 1  # spotted at the first check-up after ageing
    stats = series_statistics(soh)
    pooled = {r["series"]: r for r in stats.to_pylist() if r["provider"] is None}
    eol = {series: row["mean_eol_cycle"] for series, row in pooled.items()}
    assert eol["dried LiTDI"] > eol["no LiTDI"] > eol["non-dried LiTDI"]  # slower fade with dried LiTDI


def test_generation_is_deterministic():
    sample = ageing_cells()[3]
    first = sim.run_protocol(sim.make_cell(sample, np.random.default_rng([0, 3])), np.random.default_rng([0, 3]))
    again = sim.run_protocol(sim.make_cell(sample, np.random.default_rng([0, 3])), np.random.default_rng([0, 3]))
    assert first[1:] == again[1:]
    assert np.array_equal(first[0]["voltage"], again[0]["voltage"])


@pytest.mark.parametrize("decimal_comma", [False, True])
def test_write_mpt_reads_back_through_the_reader(tmp_path, decimal_comma):
    path = tmp_path / "operando_C01.mpt"
    write_mpt(path, start_local=datetime(2022, 7, 26, 22, 38, 30, 190000), time_second=[0.0, 600.0, 1200.0, 1800.0],
                  voltage_volt=[3.5, 3.9, 4.3, 3.6], current_ampere=[0.0, 1.5e-4, 1.5e-4, -1.5e-4], step_id=[0, 1, 1, 2],
                  control_mode=["REST", "CC", "CV", "CC"], decimal_comma=decimal_comma)
    table = readers.read(path)
    meta = readers.metadata_of(table)
    assert meta["format"] == "eclab_mpt"
    assert datetime.fromisoformat(meta["start_time_local"]) == datetime(2022, 7, 26, 22, 38, 30, 190000)
    assert meta["decimal_separator"] == ("," if decimal_comma else ".")
    assert table.column("voltage_volt").to_pylist() == pytest.approx([3.5, 3.9, 4.3, 3.6])
    assert table.column("current_ampere").to_pylist() == pytest.approx([0.0, 1.5e-4, 1.5e-4, -1.5e-4])
    assert table.column("control_mode").to_pylist() == ["REST", "CC", "CV", "CC"]
    assert table.column("step_id").to_pylist() == [0, 1, 1, 2]
    # default dq: each point's current over the interval before it
    assert table.column("charging_capacity_ah").to_pylist() == pytest.approx([0.0, 0.025e-3, 0.05e-3, 0.05e-3])
    assert table.column("discharging_capacity_ah").to_pylist()[-1] == pytest.approx(0.025e-3)
