"""Building a sample's scans: foil calibration, file normalisation kept, time order, bad spectra kept with a reason."""

from __future__ import annotations

import numpy as np
import pytest

from bigmap_assets.readers import read
from bigmap_assets.science.xas import NormalisationSettings, build_scans
from bigmap_assets.warehouse.provenance import stamp


def edge(energy, e0, step=1.0, width=1.0):
    return step * (0.5 + np.arctan((energy - e0) / width) / np.pi)


def write_xdi(path, energy, columns: dict[str, np.ndarray], start="2024-03-12T10:00:00+01:00"):
    names = ["energy", *columns]
    header = ["# XDI/1.0", *(f"# Column.{i}: {n}" for i, n in enumerate(names, 1)),
              "# Element.symbol: Ni", "# Element.edge: K", *([f"# Scan.start_time: {start}"] if start else []),
              "# ///", "#----",
              "# " + " ".join(names)]
    rows = np.column_stack([energy, *columns.values()])
    path.write_text("\n".join(header + [" ".join(f"{v:.8f}" for v in row) for row in rows]) + "\n")
    return path


ENERGY = np.concatenate([np.arange(8150.0, 8300.0, 5.0), np.arange(8300.0, 8400.0, 0.25), np.arange(8400.0, 9000.0, 2.0)])


def test_foil_calibration_shifts_the_energy_to_the_tabulated_edge(tmp_path):
    sample = 0.2 - 1e-4 * (ENERGY - 8150) + edge(ENERGY, 8345.0)
    foil = 1.0 + edge(ENERGY, 8331.0, step=2.0)  # foil edge 2 eV below Ni's tabulated 8333 eV
    path = write_xdi(tmp_path / "scan.xdi", ENERGY, {"mutrans": sample, "mu_ref": foil})
    scans, spectra = build_scans([stamp(read(path), "scan.xdi", "x")], sample_id="S")
    row = scans.to_pylist()[0]
    assert row["reference_e0_ev"] == pytest.approx(8331.0, abs=0.25)
    assert row["energy_shift_ev"] == pytest.approx(2.0, abs=0.25)
    assert row["e0_ev"] == pytest.approx(8347.0, abs=0.3)  # the sample edge moves with the calibration
    assert spectra.column("energy_ev")[0].as_py() == pytest.approx(8150.0 + row["energy_shift_ev"])
    assert row["start_utc_time"].isoformat() == "2024-03-12T09:00:00+00:00"
    assert row["normalised_by"] == "bigmap" and row["edge_step"] == pytest.approx(1.0, rel=0.02)


def test_calibration_can_be_switched_off(tmp_path):
    sample = edge(ENERGY, 8345.0)
    path = write_xdi(tmp_path / "scan.xdi", ENERGY, {"mutrans": sample, "mu_ref": 1.0 + edge(ENERGY, 8331.0)})
    scans, _ = build_scans([stamp(read(path), "scan.xdi", "x")], sample_id="S",
                           settings=NormalisationSettings(calibrate=False, e0_ev=8345.0))
    row = scans.to_pylist()[0]
    assert row["energy_shift_ev"] is None and row["e0_ev"] == 8345.0


def test_scans_numbered_in_time_order_and_a_broken_spectrum_is_kept_with_a_reason(tmp_path):
    late = write_xdi(tmp_path / "a.xdi", ENERGY, {"mutrans": edge(ENERGY, 8345.0)}, start="2024-03-12T12:00:00+00:00")
    early = write_xdi(tmp_path / "b.xdi", ENERGY, {"mutrans": edge(ENERGY, 8346.0)}, start="2024-03-12T11:00:00+00:00")
    broken_mu = np.where(np.arange(ENERGY.size) < 5, 0.1, np.nan)  # 5 numbers: too few to normalise
    broken = write_xdi(tmp_path / "c.xdi", ENERGY[:-3], {"mutrans": broken_mu[:-3]}, start=None)
    scans, _ = build_scans([stamp(read(p), p.name, "x") for p in (late, early, broken)], sample_id="S")
    rows = {r["scan_name"]: r for r in scans.to_pylist()}
    assert [rows[n]["scan_number"] for n in ("b", "a", "c")] == [0, 1, 2]
    assert rows["c"]["normalised_by"].startswith("not normalised:") and rows["c"]["e0_ev"] is None
