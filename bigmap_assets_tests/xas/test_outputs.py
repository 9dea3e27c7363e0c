"""XDI export (read back by our XDI reader), plots and the ``bigmap xas normalise`` command."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from bigmap_assets.cli import main
from bigmap_assets.exports.xdi import export_scans
from bigmap_assets.plots.xas import edge_versus_potential, spectra_over_time
from bigmap_assets.readers import metadata_of, read
from bigmap_assets.science.alignment import align_scans
from bigmap_assets.science.xas import build_scans
from bigmap_assets.warehouse.provenance import stamp

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def ni_foil(realdata):
    path = realdata / "xas" / "other" / "ni_metal_rt.xdi"
    return build_scans([stamp(read(path), "raw/xas/S/ni_metal_rt.xdi", "abc")], sample_id="S")


def test_xdi_export_reads_back(ni_foil, tmp_path):
    scans, spectra = ni_foil
    [path] = export_scans(scans, spectra, tmp_path)
    again = read(path)
    meta = metadata_of(again)
    assert meta["format"] == "xas_xdi" and meta["scans"][0]["element"] == "Ni"
    np.testing.assert_allclose(again.column("energy_ev").to_numpy(), spectra.column("energy_ev").to_numpy())
    np.testing.assert_allclose(again.column("norm_mu").to_numpy(), spectra.column("norm_mu").to_numpy(), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(again.column("mu").to_numpy(), spectra.column("mu").to_numpy(), rtol=1e-7)
    assert meta["xdi_fields"]["bigmap.edge_step"] == f"{scans.column('edge_step')[0].as_py()}"


def test_plots_are_png(realdata):
    files = sorted((realdata / "xas" / "rock_operando_perex" / "op2_cell4_pos1").glob("*.txt"))[:6]
    scans, spectra = build_scans([stamp(read(f), f.name, "x") for f in files], sample_id="S")
    seconds = scans.column("mid_utc_time").cast(pa.int64()).to_numpy() / 1e6
    timeseries = pa.table({"utc_time": pa.array(((seconds[0] - 100 + np.arange(0, 8000, 10)) * 1e6).astype("int64"))
                           .cast(pa.timestamp("us", tz="UTC")), "voltage_volt": 3.6 + np.arange(800) * 1e-4})
    echem = align_scans(scans, timeseries)
    assert spectra_over_time(spectra, echem).startswith(PNG)
    assert edge_versus_potential(echem).startswith(PNG)


def test_cli_prints_e0_and_step_per_scan(realdata, capsys):
    code = main(["xas", "normalise", str(realdata / "xas" / "other" / "Fe_XDIFiles.h5"),
                 "--pre", "-150", "-50", "--norm", "150", "750"])
    out = capsys.readouterr().out
    assert code == 0
    assert [line.split()[1] for line in out.splitlines()[2:]] == ["fe2o3", "fe_metal", "feo"]
    assert "0.2746" in out and "3.13" in out and "1.389" in out  # larch 0.9.80's steps recorded in the file


def test_cli_refuses_a_non_xas_file_with_a_reason(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n")
    assert main(["xas", "normalise", str(path)]) == 2
    assert "no reader recognises this file" in capsys.readouterr().err
