"""Operando XAS figures (Figure 29 of the D5.3 report): spectra over time beside the potential,
and the edge position against potential and time."""

from __future__ import annotations

from . import png_bytes  # sets the Agg backend before pyplot loads
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402


def _hours(column: pa.ChunkedArray) -> np.ndarray:
    seconds = pc.cast(column, pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(zero_copy_only=False) / 1e6
    return (seconds - np.nanmin(seconds)) / 3600.0


def spectra_over_time(spectra: pa.Table, echem: pa.Table, *, window_ev: tuple[float, float] | None = None) -> bytes:
    """PNG bytes: normalised mu as a colour map (energy x time) with the cell potential alongside.

    ``spectra`` has the ``xas_spectra`` columns, ``echem`` the ``xas_echem`` ones (one row per scan,
    time ordered); scans without a time are left out. ``window_ev`` limits the energy axis
    (default: 20 eV below to 40 eV above the median edge position).
    """
    timed = echem.filter(pc.is_valid(echem.column("scan_utc_time")))
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 4.5), sharey=True, gridspec_kw={"width_ratios": [3, 1]})
    if timed.num_rows:
        hours = _hours(timed.column("scan_utc_time"))
        keys = timed.column("source_scan").to_pylist()
        first = spectra.filter(pc.equal(spectra.column("source_scan"), keys[0]))
        energy = first.column("energy_ev").to_numpy()
        edge = np.nanmedian(timed.column("edge_energy_ev").to_numpy(zero_copy_only=False).astype(float))
        low, high = window_ev or ((edge - 20.0, edge + 40.0) if np.isfinite(edge) else (energy[0], energy[-1]))
        keep = (energy >= low) & (energy <= high)
        image = np.full((len(keys), keep.sum()), np.nan)
        for row, key in enumerate(keys):
            scan = spectra.filter(pc.equal(spectra.column("source_scan"), key))
            image[row] = np.interp(energy[keep], scan.column("energy_ev").to_numpy(),
                                   scan.column("norm_mu").to_numpy(zero_copy_only=False).astype(float))
        mesh = left.pcolormesh(energy[keep], hours, image, shading="nearest", cmap="viridis")
        figure.colorbar(mesh, ax=left, label="normalised mu")
        right.plot(timed.column("voltage_volt").to_numpy(zero_copy_only=False), hours, "-", color="black")
    left.set_xlabel("energy (eV)")
    left.set_ylabel("time since first scan (h)")
    right.set_xlabel("potential (V)")
    right.grid(alpha=0.3)
    figure.suptitle("Normalised spectra over time and cell potential")
    figure.tight_layout()
    return png_bytes(figure)


def edge_versus_potential(echem: pa.Table) -> bytes:
    """PNG bytes: edge position (J level) against potential and against time, coloured by cycle."""
    figure, (by_potential, by_time) = plt.subplots(1, 2, figsize=(9, 3.8))
    timed = echem.filter(pc.is_valid(echem.column("scan_utc_time")))
    if timed.num_rows:
        edge = timed.column("edge_energy_ev").to_numpy(zero_copy_only=False).astype(float)
        voltage = timed.column("voltage_volt").to_numpy(zero_copy_only=False).astype(float)
        cycle = timed.column("cycle_count").to_numpy(zero_copy_only=False).astype(float)
        hours = _hours(timed.column("scan_utc_time"))
        by_potential.scatter(voltage, edge, c=np.nan_to_num(cycle), cmap="tab10", s=14)
        points = by_time.scatter(hours, edge, c=voltage, cmap="coolwarm", s=14)
        figure.colorbar(points, ax=by_time, label="potential (V)")
    level = echem.column("edge_level")[0].as_py() if echem.num_rows and "edge_level" in echem.column_names else 0.5
    by_potential.set_xlabel("potential (V)")
    by_potential.set_ylabel(f"edge position at J = {level} (eV)")
    by_time.set_xlabel("time since first scan (h)")
    for axis in (by_potential, by_time):
        axis.grid(alpha=0.3)
    figure.tight_layout()
    return png_bytes(figure)
