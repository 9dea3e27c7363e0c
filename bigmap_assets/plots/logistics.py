"""The experiments' Gantt chart (Figure 19 of the D5.3 report)."""

from __future__ import annotations

from datetime import date

from . import png_bytes  # sets the Agg backend before pyplot loads
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pyarrow as pa  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

SITE_COLOURS = {"lab": "#1f77b4", "large-scale facility": "#d62728"}


def gantt_rows(experiments: pa.Table) -> list[dict]:
    """One entry per experiment, earliest first: label, site type, and the waiting (received -> started) and
    measuring (started -> completed) spans as (start date, end date) or None; running experiments keep
    their ``percent_done``."""
    rows = experiments.select(["partner", "technique", "site_type", "received_date", "started_date",
                               "completed_date", "percent_done"]).to_pylist()
    bars = []
    for r in sorted(rows, key=lambda r: r["started_date"] or r["received_date"] or date.max):
        bars.append({
            "label": f"{r['technique']} ({r['partner']})", "site_type": r["site_type"],
            "waiting": (r["received_date"], r["started_date"]) if r["received_date"] and r["started_date"] else None,
            "measuring": (r["started_date"], r["completed_date"]) if r["started_date"] and r["completed_date"] else None,
            "running_percent": None if r["completed_date"] else r["percent_done"],
        })
    return bars


def experiments_gantt(experiments: pa.Table) -> bytes:
    """PNG bytes: one bar per experiment, pale from reception to start, solid from start to completion,
    coloured by site type; a running experiment shows its percent done at its start."""
    bars = gantt_rows(experiments)
    figure, axis = plt.subplots(figsize=(10, 1.5 + 0.3 * max(len(bars), 1)))
    for y, bar in enumerate(bars):
        colour = SITE_COLOURS.get(bar["site_type"], "grey")
        for span, alpha in ((bar["waiting"], 0.25), (bar["measuring"], 1.0)):
            if span:
                start, end = mdates.date2num(span[0]), mdates.date2num(span[1])
                axis.barh(y, end - start, left=start, color=colour, alpha=alpha)
        if bar["running_percent"] is not None and bar["waiting"]:
            axis.annotate(f"running, {bar['running_percent']:.0f} % done", (mdates.date2num(bar["waiting"][1]), y),
                          xytext=(3, 0), textcoords="offset points", va="center", fontsize=6)
    axis.set_yticks(range(len(bars)), [bar["label"] for bar in bars], fontsize=7)
    axis.invert_yaxis()
    axis.xaxis.set_major_locator(mdates.MonthLocator())
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    axis.tick_params(axis="x", labelrotation=45, labelsize=7)
    axis.legend(handles=[Patch(color=c, label=s) for s, c in SITE_COLOURS.items()]
                + [Patch(color="grey", alpha=0.25, label="waiting after reception")],
                fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axis.set_title("Experiments: reception, measurement and completion")
    figure.tight_layout()
    return png_bytes(figure)
