"""D2B figures: two consecutive diffractograms and their ratio (Figure 30 of the D5.3 report), and a
sample's operando series as a heat map (2theta x time) beside the cell potential."""

from __future__ import annotations

from . import png_bytes  # sets the Agg backend before pyplot loads
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

from ..science.diffraction import main_1d, measured_points  # noqa: E402


def comparison(later: pa.Table, earlier: pa.Table, stats: dict, *, labels: tuple[str, str] = ("later", "earlier"),
               threshold: float | None = None) -> bytes:
    """PNG bytes: the two 1D diffractograms overlaid, and below their ratio (later / earlier) with the
    statistics of ``compare_diffractograms`` printed."""
    x1, y1, _ = measured_points(later)
    x2, y2, _ = measured_points(earlier)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    top.plot(x2, y2, lw=0.8, label=labels[1])
    top.plot(x1, y1, lw=0.8, label=labels[0])
    top.set_ylabel("intensity (counts / 1e6 monitor)")
    top.legend(loc="upper right")
    common, i1, i2 = np.intersect1d(np.round(x1, 6), np.round(x2, 6), return_indices=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = y1[i1] / y2[i2]
    bottom.plot(common, ratio, lw=0.6, color="k")
    bottom.axhline(1.0, color="grey", lw=0.5)
    bottom.set_xlabel("2theta (degree)")
    bottom.set_ylabel(f"ratio {labels[0]} / {labels[1]}")
    if stats.get("bins_compared"):
        flag = "" if threshold is None else (" : significant" if stats["reduced_chi_square"] > threshold
                                             else " : not significant")
        text = (f"ratio mean {stats['ratio_mean']:.4f}, std {stats['ratio_std']:.4f}, "
                f"min {stats['ratio_min']:.3f}, max {stats['ratio_max']:.3f}\n"
                f"chi2 {stats['chi_square']:.1f}, reduced chi2 {stats['reduced_chi_square']:.3f} "
                f"over {stats['bins_compared']} bins{flag}")
        bottom.text(0.01, 0.97, text, transform=bottom.transAxes, va="top", fontsize=8,
                    bbox={"facecolor": "white", "alpha": 0.8, "lw": 0})
        finite = ratio[np.isfinite(ratio)]
        if finite.size:
            low, high = np.percentile(finite, [0.5, 99.5])
            bottom.set_ylim(low - 0.05 * (high - low), high + 0.05 * (high - low))
    figure.tight_layout()
    return png_bytes(figure)


def series_heatmap(diffractograms: pa.Table, timeseries: pa.Table | None = None) -> bytes:
    """PNG bytes: the sample's 1D diffractograms as a colour map (2theta x hours since the first
    measurement, log intensity) and, when the cell's ``cycling_timeseries`` is given, its potential
    on the same time axis."""
    one_d = main_1d(diffractograms)
    indices = sorted(set(one_d.column("measurement_index").to_pylist()))
    patterns, times = [], []
    for index in indices:
        rows = one_d.filter(pc.equal(one_d.column("measurement_index"), index))
        patterns.append(measured_points(rows)[:2])
        start, end = rows.column("start_utc_time")[0].as_py(), rows.column("end_utc_time")[0].as_py()
        times.append(None if start is None else (start + (end - start) / 2 if end else start).timestamp())
    with_potential = timeseries is not None and timeseries.num_rows > 0 and None not in times
    figure, axes = plt.subplots(1, 2 if with_potential else 1, figsize=(10 if with_potential else 8, 5), sharey=True,
                                squeeze=False, gridspec_kw={"width_ratios": [3, 1] if with_potential else [1]})
    left = axes[0, 0]
    if patterns:
        grid = patterns[0][0]
        image = np.vstack([np.interp(grid, x, y, left=np.nan, right=np.nan) for x, y in patterns])
        origin = times[0] if None not in times else None
        hours = (np.array(times) - origin) / 3600.0 if origin is not None else np.arange(len(patterns), dtype=float)
        edges = _edges(hours)
        mesh = left.pcolormesh(_edges(grid), edges, np.log10(np.clip(image, 1e-3, None)), shading="auto", cmap="viridis")
        figure.colorbar(mesh, ax=left, label="log10 intensity")
        left.set_xlabel("2theta (degree)")
        left.set_ylabel("hours since the first measurement" if origin is not None else "measurement")
        if with_potential:
            seconds = pc.cast(timeseries.column("utc_time"), pa.timestamp("us", tz="UTC")).cast(pa.int64()) \
                .to_numpy(zero_copy_only=False) / 1e6
            right = axes[0, 1]
            right.plot(timeseries.column("voltage_volt").to_numpy(zero_copy_only=False), (seconds - origin) / 3600.0,
                       lw=0.8)
            right.scatter(np.interp(np.array(times), seconds, timeseries.column("voltage_volt").to_numpy(
                zero_copy_only=False)), hours, color="red", s=12, zorder=3, label="measurements")
            right.set_xlabel("potential (V)")
            right.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    return png_bytes(figure)


def _edges(centres: np.ndarray) -> np.ndarray:
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])
