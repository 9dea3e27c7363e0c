"""Imperfect spectra, each checked against larch: NaN points, short scans, repeated energies, a bad E0, too few points."""

from __future__ import annotations

import numpy as np
import pytest

from bigmap_assets.cli import main
from bigmap_assets.defs.xas import scan_issues
from bigmap_assets.readers import metadata_of, read
from bigmap_assets.science.xas import MIN_POINTS, NormalisationSettings, build_scans, edge_quantities, find_e0, pre_edge
from bigmap_assets.warehouse.provenance import stamp

larch_xafs = pytest.importorskip("larch.xafs", reason="xraylarch is not installed (test dependency)")


def larch(energy, mu, **parameters):
    from larch import Group

    group = Group()
    larch_xafs.pre_edge(energy, mu, group=group, **parameters)
    return group


@pytest.fixture(scope="module")
def ni_foil(realdata):
    """The Ni foil (XDI, 418 points, 10 eV steps below the edge, 0.5 eV across it): energy, mu."""
    table = read(realdata / "xas" / "other" / "ni_metal_rt.xdi")
    return table.column("energy_ev").to_numpy(), table.column("mu").to_numpy()


def write_xdi(path, energy, mu):
    rows = "\n".join(f"{e:.4f} {m:.8f}" for e, m in zip(energy, mu))
    path.write_text("# XDI/1.0\n# Column.1: energy eV\n# Column.2: mutrans\n# Element.symbol: Ni\n"
                    f"# Element.edge: K\n# ///\n#----\n# energy mutrans\n{rows}\n")
    return path


def test_a_nan_changes_only_its_own_spectrum(ni_foil):
    energy, mu = ni_foil
    spoiled = mu.copy()
    spoiled[[150, 210]] = [np.nan, np.inf]
    together = pre_edge(energy, np.vstack([mu, spoiled]))
    alone = pre_edge(energy, mu[None])
    np.testing.assert_array_equal(together.norm_mu[0], alone.norm_mu[0])
    assert together.e0_ev[0] == alone.e0_ev[0] and together.edge_step[0] == alone.edge_step[0]
    assert list(together.dropped_point_count) == [0, 2] and together.notes[1] == ["2 of 418 points not finite: left out"]
    reference = larch(energy, spoiled)  # larch drops the two points
    assert together.e0_ev[1] == reference.e0 and together.edge_step[1] == pytest.approx(reference.edge_step, rel=1e-9)
    np.testing.assert_allclose(np.delete(together.norm_mu[1], [150, 210]), reference.norm, atol=1e-9)
    assert np.isnan(together.norm_mu[1, [150, 210]]).all()


def test_edge_quantities_of_other_scans_are_untouched_by_a_nan(ni_foil, tmp_path):
    """The reported case: one NaN in one file moved the inflection of every scan on the same grid."""
    energy, mu = ni_foil
    spoiled = mu.copy()
    spoiled[300] = np.nan
    clean = write_xdi(tmp_path / "clean.xdi", energy, mu)
    other = write_xdi(tmp_path / "spoiled.xdi", energy, spoiled)
    alone, _ = build_scans([stamp(read(clean), "clean.xdi", "a")], sample_id="S")
    both, _ = build_scans([stamp(read(p), p.name, "a") for p in (clean, other)], sample_id="S")
    rows = {r["scan_name"]: r for r in both.to_pylist()}
    for column in ("e0_ev", "edge_step", "edge_energy_ev", "inflection_energy_ev", "white_line_energy_ev"):
        assert rows["clean"][column] == alone.column(column)[0].as_py(), column
    assert rows["clean"]["inflection_energy_ev"] == pytest.approx(8331.35, abs=0.01)
    assert rows["clean"]["dropped_point_count"] == 0 and rows["clean"]["notes"] is None
    assert rows["spoiled"]["dropped_point_count"] == 1 and rows["spoiled"]["normalised_by"] == "bigmap"
    [issue] = scan_issues(both, "S")
    assert (issue.path, issue.location, issue.severity) == ("spoiled.xdi", "scan spoiled", "warning")
    assert issue.reason == "1 of 418 points not finite: left out"


def test_find_e0_never_answers_from_non_finite_values(ni_foil):
    energy, mu = ni_foil
    mostly_nan = np.where(np.arange(energy.size) < MIN_POINTS - 1, mu, np.nan)
    result = find_e0(energy, np.vstack([mu, np.full_like(mu, np.nan), mostly_nan]))
    assert result[0] == 8331.5 and np.isnan(result[1:]).all()
    normalised = pre_edge(energy, np.vstack([mu, np.full_like(mu, np.inf)]))
    assert np.isnan(normalised.e0_ev[1]) and np.isnan(normalised.norm_mu[1]).all()
    assert normalised.notes[1][-1] == (f"only 0 finite points of distinct energy: at least {MIN_POINTS} are needed "
                                       "to find E0 and normalise")


def test_a_spectrum_under_the_minimum_is_refused_with_the_reason(ni_foil, tmp_path):
    energy, mu = ni_foil
    few = write_xdi(tmp_path / "few.xdi", energy[::35][:12], mu[::35][:12])  # larch's find_e0 fails on it
    result = pre_edge(energy[::35][:12], mu[::35][:12][None])
    assert np.isnan(result.e0_ev[0]) and np.isnan(result.edge_step[0])
    scans, _ = build_scans([stamp(read(few), "few.xdi", "a")], sample_id="S")
    row = scans.to_pylist()[0]
    assert row["normalised_by"] == (f"not normalised: only 12 finite points of distinct energy: at least {MIN_POINTS} "
                                    "are needed to find E0 and normalise")
    assert row["e0_ev"] is None and row["edge_step"] is None


def test_a_short_xanes_scan_follows_larch(ni_foil):
    """The reported case: a scan ending 50 eV above the edge got a post-edge window beyond the data."""
    energy, mu = ni_foil
    keep = energy <= 8331.5 + 50
    result = pre_edge(energy[keep], mu[keep][None])
    reference = larch(energy[keep], mu[keep])
    details = reference.pre_edge_details
    assert result.e0_ev[0] == reference.e0 == 8331.5
    assert result.edge_step[0] == pytest.approx(reference.edge_step, rel=1e-9)
    assert reference.edge_step == pytest.approx(2.40, abs=0.01)  # the issue's 1.31 came from a window beyond the data
    used = (result.norm1_ev[0], result.norm2_ev[0], result.nnorm[0])
    assert used == (details.norm1, details.norm2, details.nnorm) == (15.0, pytest.approx(49.809), 1)
    assert result.notes[0] == []


def coarse_xanes():
    """A scan from 15 eV below to 12 eV above an edge at 8345 eV, coarse at both ends."""
    energy = np.concatenate([[8330.0, 8335.0, 8340.0], np.arange(8341.0, 8350.0, 0.25), [8354.0, 8357.0]])
    mu = 0.2 + 1.5 * (0.5 + np.arctan((energy - 8345.0) / 1.5) / np.pi) + 1e-3 * (energy - 8330.0)
    return energy, mu


def test_windows_with_too_few_points_follow_larch_and_say_so(tmp_path):
    energy, mu = coarse_xanes()
    result = pre_edge(energy, mu[None])
    reference = larch(energy, mu)
    assert result.e0_ev[0] == reference.e0 and result.edge_step[0] == pytest.approx(reference.edge_step, rel=1e-9)
    np.testing.assert_allclose(result.norm_mu[0], reference.norm, atol=1e-9)
    assert result.notes[0] == [
        "pre-edge range -10.0 to -5.0 eV gives fewer than 3 points: its mean is used instead of a line (larch's rule)",
        "post-edge range 5.0 to 10.0 eV gives fewer than 2 points: a constant is fitted from 4.25 eV on (larch's rule)"]
    path = write_xdi(tmp_path / "xanes.xdi", energy, mu)
    scans, _ = build_scans([stamp(read(path), "xanes.xdi", "a")], sample_id="S")
    assert [issue.reason for issue in scan_issues(scans, "S")] == result.notes[0]


def test_a_lowered_post_edge_degree_is_noted():
    energy, mu = coarse_xanes()
    result = pre_edge(energy, mu[None], norm1_ev=5.0, norm2_ev=12.0, nnorm=2)
    reference = larch(energy, mu, norm1=5.0, norm2=12.0, nnorm=2)
    assert result.nnorm[0] == reference.pre_edge_details.nnorm == 1
    assert result.edge_step[0] == pytest.approx(reference.edge_step, rel=1e-9)
    assert result.notes[0][-1] == ("post-edge range 5.0 to 12.0 eV gives 2 points: a line instead of a degree-2 "
                                   "polynomial (larch's rule)")


def test_a_repeated_energy_is_averaged_not_refused(ni_foil, tmp_path):
    energy, mu = ni_foil
    at = 200  # a repeated row, as a scan that wrote one point twice
    result = pre_edge(np.insert(energy, at, energy[at]), np.insert(mu, at, mu[at])[None])
    reference = larch(np.insert(energy, at, energy[at]), np.insert(mu, at, mu[at]))  # larch moves it 0.5 meV up
    assert result.e0_ev[0] == reference.e0 and result.edge_step[0] == pytest.approx(reference.edge_step, rel=1e-6)
    assert result.notes[0] == ["1 points repeat an energy within 0.5 meV: averaged with it (larch keeps them 0.5 meV apart)"]

    edge = int(np.argmin(np.abs(energy - 8331.5)))  # a repeat with a different reading, at the edge
    energy_twice, twice = np.insert(energy, edge, energy[edge]), np.insert(mu, edge, mu[edge] + 0.05)
    result = pre_edge(energy_twice, twice[None])
    assert larch(energy_twice, twice).e0 == 8344.0  # larch: a 0.5 meV step, a spike in dmu/dE
    averaged = mu.copy()
    averaged[edge] += 0.025
    assert result.e0_ev[0] == larch(energy, averaged).e0 == 8331.5
    assert result.norm_mu[0, edge] - result.norm_mu[0, edge + 1] == pytest.approx(0.05 / result.edge_step[0])

    path = write_xdi(tmp_path / "repeat.xdi", energy_twice, twice)
    table = read(path)
    assert table.num_rows == 419
    assert metadata_of(table)["warnings"][-1] == ("1 energy points repeat the one before (first at 8331.500 eV): kept, "
                                                  "and averaged with it for normalisation")


def test_an_e0_outside_the_data_is_ignored_as_larch_does(ni_foil):
    energy, mu = ni_foil
    found = pre_edge(energy, mu[None])
    for e0 in (energy[0], 9000.0e3, energy[-1]):
        result = pre_edge(energy, mu[None], e0_ev=e0)
        assert result.e0_ev[0] == larch(energy, mu, e0=e0).e0 == found.e0_ev[0] == 8331.5
        assert result.edge_step[0] == found.edge_step[0]
        assert result.notes[0] == [f"E0 {e0:.2f} eV is outside 8143.00-9560.59 eV (second to last-but-one point): "
                                   "ignored and found from the spectrum, as larch does"]
    inside = pre_edge(energy, mu[None], e0_ev=energy[1])  # the second point is still accepted, as by larch
    reference = larch(energy, mu, e0=energy[1])
    assert inside.e0_ev[0] == reference.e0 == 8143.0 and inside.edge_step[0] == pytest.approx(reference.edge_step, rel=1e-9)


def test_the_pipeline_ignores_an_e0_outside_the_data_with_a_warning(realdata):
    table = stamp(read(realdata / "xas" / "other" / "ni_metal_rt.xdi"), "ni.xdi", "a")
    scans, _ = build_scans([table], sample_id="S", settings=NormalisationSettings(e0_ev=9600.0))
    row = scans.to_pylist()[0]
    assert row["e0_ev"] == 8331.5 and row["normalised_by"] == "bigmap"
    assert [issue.reason for issue in scan_issues(scans, "S")] == [
        "E0 9600.00 eV is outside 8143.00-9560.59 eV (second to last-but-one point): ignored and found from the "
        "spectrum, as larch does"]


def test_cli_warns_about_an_e0_outside_the_data(realdata, capsys):
    path = realdata / "xas" / "other" / "ni_metal_rt.xdi"
    assert main(["xas", "normalise", str(path), "--e0", "8000"]) == 0
    captured = capsys.readouterr()
    assert "8331.50" in captured.out
    assert captured.err == ("warning: ni_metal_rt.xdi#ni_metal_rt: E0 8000.00 eV is outside 8143.00-9560.59 eV (second to "
                            "last-but-one point): ignored and found from the spectrum, as larch does\n")


def test_an_edge_level_never_reached_says_why(realdata):
    table = read(realdata / "xas" / "other" / "ESRF_BM08_LISA_2021.dat")  # weak Ge edge on a steep background
    scans, _ = build_scans([stamp(table, "bm08.dat", "a")], sample_id="S", settings=NormalisationSettings(calibrate=False))
    row = scans.to_pylist()[0]
    assert row["edge_energy_ev"] is None and row["inflection_energy_ev"] is not None
    assert row["notes"] == "no edge energy: normalised mu never reaches 0.5 (at most 0.0811)"
    energy = np.linspace(8300.0, 8400.0, 101)
    quantities = edge_quantities(energy, np.vstack([np.full(101, 0.7), 1 - np.linspace(0, 1, 101)]), [8350.0, 8350.0])
    assert quantities.edge_energy_note == ["normalised mu is at or above 0.5 from the first point",
                                           "normalised mu never rises through 0.5"]
