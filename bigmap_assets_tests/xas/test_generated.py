"""The generated operando series: read, aligned with its generated EC-Lab file, edge shift vs ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bigmap_assets.readers import read
from bigmap_assets.science.alignment import align_scans
from bigmap_assets.science.cycling import build_timeseries
from bigmap_assets.science.xas import build_scans
from bigmap_assets.simulate import xas as simulate_xas
from bigmap_assets.warehouse.provenance import stamp


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    truth = simulate_xas.generate(data_dir, seed=0)
    cycling = stamp(read(data_dir / truth["cycling_file"]), truth["cycling_file"], "test")
    series = build_timeseries([cycling], sample_id=truth["sample_id"], timezone=truth["timezone"])
    files = sorted((data_dir / "raw" / "xas" / truth["sample_id"]).glob("*.txt"))
    scans, spectra = build_scans([stamp(read(f), f.name, "test") for f in files], sample_id=truth["sample_id"])
    aligned = align_scans(scans, series, active_mass_g=truth["active_mass_mg"] / 1000.0)
    return data_dir, truth, scans, spectra, aligned


def test_files_are_small_and_the_truth_is_outside_raw(generated):
    data_dir, truth, scans, spectra, _ = generated
    raw_bytes = sum(p.stat().st_size for p in (data_dir / "raw").rglob("*") if p.is_file())
    assert raw_bytes < 3_000_000
    assert (data_dir / "ground_truth" / "xas" / "LNO-OPXAS-01.json").is_file()
    assert not list((data_dir / "raw").rglob("*.json"))
    assert scans.num_rows == len(truth["scans"]) == 30 and spectra.num_rows == 30 * 1649


def test_generation_is_deterministic(tmp_path, generated):
    _, truth, *_ = generated
    again = simulate_xas.generate(tmp_path, seed=0)
    assert json.dumps(again) == json.dumps(truth)


def test_state_of_charge_and_potential_recovered(generated):
    _, truth, _, _, aligned = generated
    assert set(aligned.column("alignment").to_pylist()) == {"ok"}
    soc = aligned.column("state_of_charge").to_numpy()
    assert soc == pytest.approx([s["state_of_charge"] for s in truth["scans"]], abs=1e-4)
    assert aligned.column("voltage_volt").to_numpy() == pytest.approx([s["voltage_volt"] for s in truth["scans"]], abs=1e-4)


def test_edge_shift_versus_state_of_charge_within_a_tenth_of_an_ev(generated):
    _, truth, _, _, aligned = generated
    edge = aligned.column("edge_energy_ev").to_numpy()
    expected = np.array([s["edge_energy_at_half_ev"] for s in truth["scans"]])
    assert np.abs(edge - expected).max() < 0.1
    shift = edge - edge[0]
    expected_shift = np.array([s["edge_shift_ev"] for s in truth["scans"]]) - truth["scans"][0]["edge_shift_ev"]
    assert np.abs(shift - expected_shift).max() < 0.1
    slope, _ = np.polyfit(aligned.column("state_of_charge").to_numpy(), edge, 1)
    assert slope == pytest.approx(truth["edge_shift_ev_per_soc"], abs=0.05)
