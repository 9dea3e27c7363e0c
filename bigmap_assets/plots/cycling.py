"""State of health versus cycle: one panel per electrolyte series (Figure 14 of the D5.3 report), and one
cell's own curve with its end of life."""

from __future__ import annotations

from . import png_bytes  # sets the Agg backend before pyplot loads
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

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


# How one cell's cycles other than check-ups are drawn, by stage: (marker, colour, label).
STAGE_STYLES = {"formation": ("^", "tab:orange", "formation cycles"),
                "ageing": (".", "0.6", "ageing cycles")}


def cell_soh_versus_cycle(soh: pa.Table, cycles: pa.Table | None = None) -> bytes:
    """PNG bytes: one cell's state of health (%) at its check-ups against cycle number, the 80 % end-of-life
    line and the end-of-life check-up marked (its cycle named), or "not reached".

    ``soh`` holds the cell's ``cycling_soh`` rows; ``cycles`` (optional, its ``cycling_cycles`` rows) adds
    the complete formation and ageing cycles, each as its discharge capacity / the begin-of-life check-up's
    (the ratio SoH is at a check-up), so the stages are told apart.
    """
    soh = soh.sort_by("checkup_index")
    cycle = soh.column("cycle_count").to_numpy(zero_copy_only=False).astype(float)
    percent = 100 * soh.column("soh").to_numpy(zero_copy_only=False).astype(float)
    figure, axis = plt.subplots(figsize=(7, 4))
    figure.subplots_adjust(left=0.09, right=0.98, top=0.92, bottom=0.12)  # fixed: no layout pass per cell
    if cycles is not None and cycles.num_rows and soh.num_rows:
        reference_ah = soh.column("discharge_capacity_ah")[0].as_py()
        for stage, (marker, colour, label) in STAGE_STYLES.items():
            rows = cycles.filter(pc.and_(pc.equal(cycles.column("stage"), stage),
                                         pc.fill_null(cycles.column("complete"), False)))
            if rows.num_rows and reference_ah:
                axis.plot(rows.column("cycle_count").to_numpy(zero_copy_only=False),
                          100 * rows.column("discharge_capacity_ah").to_numpy(zero_copy_only=False) / reference_ah,
                          marker, ms=5, color=colour, ls="none", label=f"{label} (capacity / first check-up)")
    axis.plot(cycle, percent, "-o", color="tab:blue", ms=5, lw=1.5, label="check-ups (state of health)")
    axis.axhline(100 * EOL_SOH, color="red", ls="--", lw=1, label="80 % end of life")
    eol = soh.filter(pc.fill_null(soh.column("end_of_life"), False))
    if eol.num_rows:
        eol_cycle, eol_percent = eol.column("cycle_count")[0].as_py(), 100 * eol.column("soh")[0].as_py()
        axis.axvline(eol_cycle, color="darkred", ls=":", lw=1.2)
        axis.plot([eol_cycle], [eol_percent], "*", ms=16, color="darkred", label=f"end of life: cycle {eol_cycle}")
    else:
        axis.text(0.98, 0.04, "end of life not reached", transform=axis.transAxes, ha="right", color="0.3")
    low, high = axis.get_ylim()
    axis.set_ylim(min(low, 100 * EOL_SOH - 5), max(high, 102))
    sample = soh.column("sample_id")[0].as_py() if soh.num_rows else "no check-up"
    series = soh.column("series")[0].as_py() if soh.num_rows and "series" in soh.column_names else None
    axis.set_title(f"{sample}: state of health" + (f" ({series})" if series else ""))
    axis.set_xlabel("cycle number")
    axis.set_ylabel("state of health (%)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="upper right")  # capacity falls with cycles: the upper right stays empty
    return png_bytes(figure)
