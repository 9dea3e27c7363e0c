"""Joining scans to the cycling time series: hand-made tables, and the real ROCK series with its EC-Lab files."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from scipy.stats import spearmanr

from bigmap_assets.readers import read
from bigmap_assets.science.alignment import align_scans
from bigmap_assets.science.cycling import build_timeseries
from bigmap_assets.science.xas import build_scans
from bigmap_assets.warehouse.provenance import stamp

T0 = 1_658_874_000.0  # 2022-07-26 22:20:00 UTC


def utc(seconds) -> pa.Array:
    return pa.array((np.asarray(seconds) * 1e6).astype("int64")).cast(pa.timestamp("us", tz="UTC"))


def timeseries() -> pa.Table:
    """0-1000 s every 10 s, then a hole to 3000 s, then 3000-4000 s: V = 3 + t/1000, 1 mA charge."""
    t = np.concatenate([np.arange(0.0, 1001.0, 10.0), np.arange(3000.0, 4001.0, 10.0)])
    capacity = 1e-3 * t / 3600.0
    return pa.table({
        "utc_time": utc(T0 + t), "test_time_second": t, "voltage_volt": 3.0 + t / 1000.0,
        "current_ampere": np.full(t.size, 1e-3), "charging_capacity_ah": capacity,
        "discharging_capacity_ah": np.zeros(t.size), "net_capacity_ah": capacity,
        "cycle_count": (t >= 3000).astype("int64"), "step_count": (t // 500).astype("int64"),
        "step_type": pa.array(["CC_CHG"] * t.size),
    })


def scans(mid_seconds) -> pa.Table:
    n = len(mid_seconds)
    return pa.table({"source_scan": [f"f#{i}" for i in range(n)],
                     "start_utc_time": utc(T0 + np.asarray(mid_seconds) - 30.0),
                     "mid_utc_time": utc(T0 + np.asarray(mid_seconds))})


def test_values_interpolated_labels_from_the_preceding_point():
    out = align_scans(scans([505.0, 15.0]), timeseries(), active_mass_g=0.008)
    assert out.column("source_scan").to_pylist() == ["f#1", "f#0"]  # time order
    assert out.column("voltage_volt").to_pylist() == pytest.approx([3.015, 3.505])
    assert out.column("time_offset_second").to_pylist() == pytest.approx([5.0, 5.0])
    assert out.column("step_count").to_pylist() == [0, 1]  # 505 s: last point 500 s opened step 1
    net = 1e-3 * 505.0 / 3600.0
    assert out.column("net_capacity_ah")[1].as_py() == pytest.approx(net)
    assert out.column("state_of_charge")[1].as_py() == pytest.approx(net / (0.008 * 0.225))
    assert out.column("x_li")[1].as_py() == pytest.approx(1 - net / (0.008 * 0.2745))
    assert out.column("alignment").to_pylist() == ["ok", "ok"]


def test_start_time_reference_and_flags():
    out = align_scans(scans([-100.0, 2000.0, 3500.0, 5000.0]), timeseries(), at="start", max_gap_second=600.0)
    assert out.column("time_reference").to_pylist() == ["start"] * 4
    assert out.column("alignment").to_pylist() == ["outside", "gap", "ok", "outside"]
    assert out.column("voltage_volt").to_pylist()[2] == pytest.approx(3.0 + 3470.0 / 1000.0)
    assert out.column("voltage_volt").null_count == 2 and out.column("cycle_count").to_pylist()[3] is None
    assert out.column("time_offset_second")[0].as_py() == pytest.approx(-130.0)


def test_unknown_time_and_empty_electrochemistry():
    no_time = scans([10.0]).set_column(2, "mid_utc_time", pa.nulls(1, pa.timestamp("us", tz="UTC")))
    assert align_scans(no_time, timeseries()).column("alignment").to_pylist() == ["no_time"]
    empty = timeseries().slice(0, 0)
    out = align_scans(scans([10.0]), empty)
    assert out.column("alignment").to_pylist() == ["outside"] and out.column("voltage_volt").null_count == 1
    with pytest.raises(ValueError, match="at must be"):
        align_scans(scans([10.0]), timeseries(), at="end")


@pytest.fixture(scope="module")
def rock_aligned(realdata):
    mpt = sorted((realdata / "cycling" / "eclab" / "perex_rock_operando").glob("*.mpt"))
    series = build_timeseries([stamp(read(p), p.name, "test") for p in mpt], sample_id="cell4", timezone="Europe/Paris")
    files = sorted((realdata / "xas" / "rock_operando_perex" / "op2_cell4_pos1").glob("*.txt"))
    xas_scans, _ = build_scans([stamp(read(p), p.name, "test") for p in files], sample_id="cell4")
    return series, align_scans(xas_scans, series, at="mid")


def test_real_rock_series_gets_the_potential_at_every_scan(rock_aligned):
    series, out = rock_aligned
    assert out.num_rows == 58
    assert set(out.column("alignment").to_pylist()) == {"ok"}
    times = out.column("scan_utc_time").cast(pa.int64()).to_numpy()
    assert np.all(np.diff(times) > 0)
    assert np.abs(out.column("time_offset_second").to_numpy()).max() < 60.0  # EC-Lab logs every ~30 s here
    voltage = out.column("voltage_volt").to_numpy()
    all_voltage = series.column("voltage_volt").to_numpy()
    assert all_voltage.min() <= voltage.min() and voltage.max() <= all_voltage.max()
    # first scan: 2022-07-26 23:01:58.055 Paris + 32.5 s, early in the first charge (EC-Lab started 22:38:30)
    assert voltage[0] == pytest.approx(3.64, abs=0.01)
    assert out.column("step_type").to_pylist()[:55] == ["CC_CHG"] * 55


def test_real_rock_edge_rises_with_potential_on_charge(rock_aligned):
    _, out = rock_aligned
    charge = np.array([s == "CC_CHG" for s in out.column("step_type").to_pylist()])
    voltage = out.column("voltage_volt").to_numpy()[charge]
    edge = out.column("edge_energy_ev").to_numpy()[charge]
    assert spearmanr(voltage, edge).statistic > 0.95
    assert edge[-1] - edge[0] == pytest.approx(1.4, abs=0.2)  # Ni edge at J=0.5: 8344.76 -> 8346.18 eV


def test_points_without_a_time_are_left_out_of_the_join():
    series = timeseries()
    times = series.column("utc_time").to_pylist()
    times[1] = None  # the 10 s point
    series = series.set_column(0, "utc_time", pa.array(times, pa.timestamp("us", tz="UTC")))
    out = align_scans(scans([15.0]), series)
    assert out.column("voltage_volt")[0].as_py() == pytest.approx(3.015)  # between 0 s and 20 s
    assert out.column("time_offset_second")[0].as_py() == pytest.approx(-5.0)
