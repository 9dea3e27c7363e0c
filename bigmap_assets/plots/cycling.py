"""State of health versus cycle, one panel per electrolyte series (Figure 14 of the D5.3 report)."""

from __future__ import annotations

from . import png_bytes  # sets the Agg backend before pyplot loads
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

EOL_SOH = 0.8


def soh_versus_cycle(soh_all_cells: pa.Table) -> bytes:
    """PNG bytes: SoH (%) against cycle number per series; cells faint (colour = provider), series mean bold, 80 % line.

    The mean is taken per check-up index over the cells that reached it, at the cells' mean cycle.
    """
    rows = soh_all_cells.select(["sample_id", "series", "provider", "checkup_index", "cycle_count", "soh"]).to_pylist()
    series_names = sorted({r["series"] or "unknown" for r in rows}) or ["no data"]
    providers = sorted({r["provider"] or "unknown" for r in rows})
    colours = dict(zip(providers, plt.get_cmap("tab10").colors))
    figure, axes = plt.subplots(1, len(series_names), figsize=(4.2 * len(series_names), 3.8), sharey=True, squeeze=False)
    for axis, series in zip(axes[0], series_names):
        in_series = [r for r in rows if (r["series"] or "unknown") == series]
        for cell in sorted({r["sample_id"] for r in in_series}):
            points = sorted((r["cycle_count"], r["soh"], r["provider"] or "unknown")
                            for r in in_series if r["sample_id"] == cell)
            axis.plot([p[0] for p in points], [100 * p[1] for p in points], "-o", ms=2.5, lw=0.8, alpha=0.35,
                      color=colours.get(points[0][2], "grey"))
        indices = sorted({r["checkup_index"] for r in in_series})
        mean_cycle = [np.mean([r["cycle_count"] for r in in_series if r["checkup_index"] == i]) for i in indices]
        mean_soh = [100 * np.mean([r["soh"] for r in in_series if r["checkup_index"] == i]) for i in indices]
        axis.plot(mean_cycle, mean_soh, "-", lw=2.5, color="black", label="series mean")
        axis.axhline(100 * EOL_SOH, color="red", ls="--", lw=1, label="80 % end of life")
        axis.set_title(series)
        axis.set_xlabel("cycle number")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("state of health (%)")
    for provider, colour in colours.items():
        axes[0][-1].plot([], [], color=colour, alpha=0.6, label=provider)
    axes[0][-1].legend(fontsize=8, loc="lower left")
    figure.tight_layout()
    return png_bytes(figure)
