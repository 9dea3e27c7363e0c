"""Normalisation, E0 and edge quantities: hand-made spectra, larch's own numbers, and larch itself."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from bigmap_assets.readers import read
from bigmap_assets.science.xas import build_scans, edge_quantities, energy_shift, find_e0, guess_k_edge, pre_edge
from bigmap_assets.warehouse.provenance import stamp

PARAMETERS = dict(pre1_ev=-150.0, pre2_ev=-50.0, norm1_ev=100.0, norm2_ev=600.0, nnorm=2)


def synthetic_edge(e0_ev: float, step: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """A linear pre-edge, an arctan edge of 1 eV half-width and a quadratic post-edge; exact step."""
    energy = np.concatenate([np.arange(8100.0, 8300.0, 5.0), np.arange(8300.0, 8400.0, 0.25), np.arange(8400.0, 9200.0, 2.0)])
    pre = 0.3 - 1e-4 * (energy - 8000.0)
    post = 1e-7 * (energy - e0_ev) ** 2 - 2e-4 * (energy - e0_ev)
    mu = pre + step * (0.5 + np.arctan((energy - e0_ev) / 1.0) / np.pi) + np.where(energy > e0_ev, post, 0.0)
    return energy, mu


def test_e0_is_the_steepest_point_of_a_hand_made_edge():
    energy, mu = synthetic_edge(8345.1)
    assert find_e0(energy, mu[None])[0] == pytest.approx(8345.0, abs=0.25)  # grid step 0.25 eV


def test_step_and_pre_edge_recovered_exactly_with_a_fixed_e0():
    energy, mu = synthetic_edge(8345.0, step=2.0)
    pre_only = 0.3 - 1e-4 * (energy - 8000.0)
    result = pre_edge(energy, mu[None], e0_ev=8345.0, **PARAMETERS)
    # below the edge the fitted line is the true one up to the arctan tail (< 1 % of the step)
    below = energy < 8345.0
    assert np.abs(result.pre_edge[0, below] - pre_only[below]).max() < 0.02
    # the arctan tail (-step/(pi (E - E0)), 0.1-0.6 % of the step over the post-edge range) biases the step low
    assert result.edge_step[0] == pytest.approx(2.0, rel=0.015)
    assert result.norm_mu[0, -1] == pytest.approx((mu[-1] - result.pre_edge[0, -1]) / result.edge_step[0])
    assert result.flat_mu[0, energy > 8500].std() < 0.01  # flattening removes the post-edge curvature


def test_a_series_is_normalised_scan_by_scan():
    energy, mu1 = synthetic_edge(8345.0, step=1.0)
    _, mu2 = synthetic_edge(8347.0, step=3.0)
    result = pre_edge(energy, np.vstack([mu1, mu2]), **PARAMETERS)
    single = pre_edge(energy, mu2[None], **PARAMETERS)
    np.testing.assert_array_equal(result.e0_ev, [8345.0, 8347.0])
    np.testing.assert_allclose(result.norm_mu[1], single.norm_mu[0], atol=1e-12)
    assert result.edge_step == pytest.approx([1.0, 3.0], rel=0.02)


def test_edge_quantities_of_a_hand_made_edge():
    energy, mu = synthetic_edge(8345.0, step=1.0)
    result = pre_edge(energy, mu[None], e0_ev=8345.0, **PARAMETERS)
    quantities = edge_quantities(energy, result.norm_mu, result.e0_ev, level=0.5)
    assert quantities.inflection_energy_ev[0] == pytest.approx(8345.0, abs=0.05)
    assert quantities.edge_energy_ev[0] == pytest.approx(8345.0, abs=0.1)


def test_calibration_shift_from_the_foil():
    energy, foil = synthetic_edge(8331.0)
    measured, shift = energy_shift(energy, foil[None], 8333.0)
    assert measured[0] == pytest.approx(8331.0, abs=0.25) and shift[0] == pytest.approx(2.0, abs=0.25)


def test_k_edges_are_recognised():
    assert guess_k_edge(8332.88) == "Ni" and guess_k_edge(7709.5) == "Co" and guess_k_edge(10000.0) is None


def test_edge_steps_match_larch_as_recorded_in_the_nexus_file(realdata):
    """Fe_XDIFiles.h5 records larch 0.9.80's own pre_edge result for each entry (process/notes)."""
    table = read(realdata / "xas" / "other" / "Fe_XDIFiles.h5")
    recorded = {"fe2o3": 0.274590899, "fe_metal": 3.130141510, "feo": 1.388601103}
    for index, (name, step) in enumerate(recorded.items()):
        rows = table.filter(table.column("scan_index").to_numpy() == index)
        energy, mu = rows.column("energy_ev").to_numpy(), rows.column("mu").to_numpy()
        result = pre_edge(energy, mu[None], pre1_ev=-150, pre2_ev=-50, norm1_ev=150, norm2_ev=750)
        assert result.edge_step[0] == pytest.approx(step, rel=1e-6), name
        np.testing.assert_allclose(result.norm_mu[0], rows.column("norm_mu").to_numpy(), atol=1e-6)


def real_series(realdata) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Real spectra with an edge: 58 ROCK Ni foils, the Ni XDI foil, BM08 reference, 3 Fe, 1 V."""
    xas = realdata / "xas"
    series = []
    rock = [read(f) for f in sorted((xas / "rock_operando_perex" / "op2_cell4_pos1").glob("*.txt"))]
    series.append(("rock foils", rock[0].column("energy_ev").to_numpy(),
                   np.vstack([t.column("reference_mu").to_numpy() for t in rock])))
    for name, column in (("other/ni_metal_rt.xdi", "mu"), ("other/ESRF_BM08_LISA_2021.dat", "reference_mu"),
                         ("other/V_XANES_ap1.001", "mu")):
        table = read(xas / name)
        series.append((name, table.column("energy_ev").to_numpy(), table.column(column).to_numpy()[None]))
    fe = read(xas / "other" / "Fe_XDIFiles.h5")
    for index in range(3):
        rows = fe.filter(fe.column("scan_index").to_numpy() == index)
        series.append((f"Fe {index}", rows.column("energy_ev").to_numpy(), rows.column("mu").to_numpy()[None]))
    return series


@pytest.mark.parametrize("parameters", [PARAMETERS, dict(pre1_ev=-200.0, pre2_ev=-30.0, norm1_ev=50.0, norm2_ev=400.0, nnorm=1)])
def test_matches_larch_pre_edge_on_real_spectra(realdata, parameters):
    larch_xafs = pytest.importorskip("larch.xafs", reason="xraylarch is not installed (optional test dependency)")
    from larch import Group

    for name, energy, mu in real_series(realdata):
        ours = pre_edge(energy, mu, **parameters)
        for k in range(mu.shape[0]):
            group = Group()
            larch_xafs.pre_edge(energy, mu[k], group=group, pre1=parameters["pre1_ev"], pre2=parameters["pre2_ev"],
                                norm1=parameters["norm1_ev"], norm2=parameters["norm2_ev"], nnorm=parameters["nnorm"])
            assert abs(ours.e0_ev[k] - group.e0) < 0.1, name
            assert np.abs(ours.norm_mu[k] - group.norm).max() < 1e-3, name
            assert np.abs(ours.flat_mu[k] - group.flat).max() < 1e-3, name
            assert ours.edge_step[k] == pytest.approx(group.edge_step, rel=1e-6), name


CHANNELS = ("mu", "reference_mu", "norm_mu")


def every_real_spectrum(realdata):
    """(file, scan name, channels, energy, values) for every scan of every real XAS file: each channel holding an
    absorption spectrum (mu, the foil's mu, mu normalised in the file), stacked as one series per scan."""
    files = sorted(p for p in (realdata / "xas").rglob("*") if p.is_file())
    assert len(files) >= 60
    for path in files:
        table = read(path)
        index = table.column("scan_index").to_numpy()
        for scan in np.unique(index):
            rows = table.filter(index == scan)
            channels = [c for c in CHANNELS if rows.column(c).null_count < rows.num_rows]
            values = np.vstack([rows.column(c).to_numpy(zero_copy_only=False).astype(float) for c in channels])
            yield path, rows.column("scan_name")[0].as_py(), channels, rows.column("energy_ev").to_numpy(), values


def test_defaults_match_larch_on_every_real_spectrum(realdata):
    """Every spectrum of ../shared/realdata/xas (126: 58 ROCK files x 2 channels, 10 others), larch's defaults."""
    larch_xafs = pytest.importorskip("larch.xafs", reason="xraylarch is not installed (test dependency)")
    from larch import Group

    compared, files = 0, set()
    for path, scan, channels, energy, values in every_real_spectrum(realdata):
        ours = pre_edge(energy, values)
        for k, channel in enumerate(channels):
            group = Group()
            larch_xafs.pre_edge(energy, values[k], group=group)
            details = group.pre_edge_details
            where = f"{path.name}#{scan} {channel}"
            assert abs(ours.e0_ev[k] - group.e0) <= 0.5, where
            assert ours.edge_step[k] == pytest.approx(group.edge_step, rel=1e-6), where
            used = (ours.pre1_ev[k], ours.pre2_ev[k], ours.norm1_ev[k], ours.norm2_ev[k], ours.nnorm[k])
            assert used == pytest.approx((details.pre1, details.pre2, details.norm1, details.norm2, details.nnorm)), where
            assert np.abs(ours.norm_mu[k] - group.norm).max() < 1e-6, where
            compared += 1
            files.add(path)
    assert compared == 126 and len(files) == 62


def test_the_pipeline_uses_larch_defaults(realdata):
    """Scans normalised here (XDI, NXxas, column text) get larch's E0 and step on their stored spectrum."""
    larch_xafs = pytest.importorskip("larch.xafs", reason="xraylarch is not installed (test dependency)")
    from larch import Group

    paths = sorted((realdata / "xas" / "other").iterdir())
    scans, spectra = build_scans([stamp(read(p), p.name, "x") for p in paths], sample_id="S")
    normalised = [row for row in scans.to_pylist() if row["normalised_by"] == "bigmap"]
    assert len(normalised) == 6
    for row in normalised:
        spectrum = spectra.filter(pc.equal(spectra.column("source_scan"), row["source_scan"]))
        group = Group()
        larch_xafs.pre_edge(spectrum.column("energy_ev").to_numpy(), spectrum.column("mu").to_numpy(), group=group)
        assert abs(row["e0_ev"] - group.e0) <= 0.5 and row["edge_step"] == pytest.approx(group.edge_step, rel=1e-6)
        assert row["norm2_ev"] == pytest.approx(group.pre_edge_details.norm2) and row["nnorm"] == group.pre_edge_details.nnorm


def awkward_spectra(count: int, seed: int = 5):
    """Synthetic spectra larch's corner cases live in: 30-800 points, uneven grids, noise up to 5 % of
    the step, edges near the start, single-point glitches, narrow post-edge ranges, nnorm 0-3 or None."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        low = 8000 + rng.uniform(0, 200)
        high = low + rng.uniform(150, 1500)
        n = int(rng.integers(30, 800))
        energy = np.linspace(low, high, n) if rng.random() < 0.5 else np.unique(np.round(rng.uniform(low, high, n), 3))
        e0 = rng.uniform(low + (high - low) * rng.choice([0.02, 0.3, 0.6]), high - 20)
        mu = (0.1 - 1e-4 * (energy - low) + rng.uniform(0.2, 3) * (0.5 + np.arctan((energy - e0) / rng.uniform(0.5, 5)) / np.pi)
              + rng.normal(0, rng.choice([1e-4, 1e-2, 0.05]), energy.size))
        if rng.random() < 0.2:
            mu[int(rng.integers(0, energy.size))] += rng.choice([-2.0, 2.0])
        nnorm = None if rng.random() < 0.3 else int(rng.integers(0, 4))
        yield energy, mu, dict(pre1_ev=-150.0, pre2_ev=-30.0, norm1_ev=50.0, norm2_ev=400.0, nnorm=nnorm)


@pytest.mark.parametrize("defaults", [False, True], ids=["explicit", "larch-defaults"])
def test_matches_larch_on_awkward_spectra(defaults):
    larch_xafs = pytest.importorskip("larch.xafs", reason="xraylarch is not installed (optional test dependency)")
    from larch import Group

    for energy, mu, parameters in awkward_spectra(150):
        parameters = {name: None for name in parameters} if defaults else parameters
        ours = pre_edge(energy, mu[None], **parameters)
        group = Group()
        larch_xafs.pre_edge(energy, mu, group=group, pre1=parameters["pre1_ev"], pre2=parameters["pre2_ev"],
                            norm1=parameters["norm1_ev"], norm2=parameters["norm2_ev"], nnorm=parameters["nnorm"])
        assert ours.e0_ev[0] == group.e0
        assert np.abs(ours.norm_mu[0] - group.norm).max() < 1e-6
        assert np.abs(ours.flat_mu[0] - group.flat).max() < 1e-6
        details = group.pre_edge_details
        used = (ours.pre1_ev[0], ours.pre2_ev[0], ours.norm1_ev[0], ours.norm2_ev[0], ours.nnorm[0])
        assert used == pytest.approx((details.pre1, details.pre2, details.norm1, details.norm2, details.nnorm))
