"""XDI 1.0 files of normalised spectra, for Athena/Larch users (one file per scan)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..warehouse.provenance import code_version

_COLUMNS = (("energy", "energy_ev", "eV"), ("mu", "mu", ""), ("norm", "norm_mu", ""), ("flat", "flat_mu", ""))


def xdi_text(scan: dict, spectrum: pa.Table) -> str:
    """The XDI text of one scan: ``scan`` is its ``xas_scans`` row (or ``xas_echem`` row) as a dict,
    ``spectrum`` its ``xas_spectra`` rows. Columns without values are left out; the normalisation
    parameters and, when present, the aligned potential go into the header."""
    arrays = [(label, spectrum.column(name).to_numpy(zero_copy_only=False).astype(float), unit)
              for label, name, unit in _COLUMNS
              if name in spectrum.column_names and spectrum.column(name).null_count < spectrum.num_rows]
    lines = ["# XDI/1.0 bigmap-assets/" + code_version()]
    lines += [f"# Column.{i}: {label}" + (f" {unit}" if unit else "") for i, (label, _, unit) in enumerate(arrays, 1)]
    fields = {
        "Element.symbol": scan.get("element"), "Element.edge": scan.get("edge"),
        "Scan.start_time": scan["start_utc_time"].isoformat() if scan.get("start_utc_time") else None,
        "Scan.edge_energy": scan.get("e0_ev"), "Sample.name": scan.get("sample_id"),
        "Bigmap.source_scan": scan.get("source_scan"), "Bigmap.normalised_by": scan.get("normalised_by"),
        "Bigmap.edge_step": scan.get("edge_step"), "Bigmap.energy_shift_ev": scan.get("energy_shift_ev"),
        "Bigmap.pre1_ev": scan.get("pre1_ev"), "Bigmap.pre2_ev": scan.get("pre2_ev"),
        "Bigmap.norm1_ev": scan.get("norm1_ev"), "Bigmap.norm2_ev": scan.get("norm2_ev"),
        "Bigmap.nnorm": scan.get("nnorm"), "Bigmap.edge_energy_ev": scan.get("edge_energy_ev"),
        "Bigmap.voltage_volt": scan.get("voltage_volt"), "Bigmap.state_of_charge": scan.get("state_of_charge"),
    }
    lines += [f"# {key}: {value}" for key, value in fields.items() if value is not None]
    how = ("normalisation kept from the source file" if scan.get("normalised_by") == "file"
           else "normalised with the larch pre_edge algorithm (bigmap_assets.science.xas)")
    lines += ["# ///", f"# {how}", "#----",
              "# " + "  ".join(label for label, _, _ in arrays)]
    table = np.column_stack([values for _, values, _ in arrays])
    lines += ["  ".join(f"{v:.8g}" for v in row) for row in table]
    return "\n".join(lines) + "\n"


def export_scans(scans: pa.Table, spectra: pa.Table, folder: Path) -> list[Path]:
    """Write one ``<scan>.xdi`` per scan row into ``folder``; returns the paths (atomic writes)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for scan in scans.to_pylist():
        spectrum = spectra.filter(pc.equal(spectra.column("source_scan"), scan["source_scan"]))
        number = scan.get("scan_number")
        prefix = f"{number:04d}_" if number is not None else ""
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{prefix}{scan['scan_name']}").strip("_")
        path = folder / f"{name}.xdi"
        tmp = path.with_suffix(".xdi.tmp")
        tmp.write_text(xdi_text(scan, spectrum))
        tmp.replace(path)
        paths.append(path)
    return paths
