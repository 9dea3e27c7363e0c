"""The experiments' Gantt chart (Figure 19 of the D5.3 report)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pyarrow as pa  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

SITE_COLOURS = {"lab": "#1f77b4", "large-scale facility": "#d62728"}


def experiments_gantt(experiments: pa.Table) -> bytes:
    """PNG bytes: one bar per experiment, pale from reception to start, solid from start to completion
    (absent while running), coloured by site type."""
    rows = sorted(experiments.select(["experiment_id", "partner", "technique", "site_type", "received_date",
                                      "started_date", "completed_date"]).to_pylist(),
                  key=lambda r: (r["started_date"] or r["received_date"]))
    figure, axis = plt.subplots(figsize=(10, 1.5 + 0.3 * max(len(rows), 1)))
    for y, r in enumerate(rows):
        colour = SITE_COLOURS.get(r["site_type"], "grey")
        if r["received_date"] and r["started_date"]:
            axis.barh(y, mdates.date2num(r["started_date"]) - mdates.date2num(r["received_date"]),
                      left=mdates.date2num(r["received_date"]), color=colour, alpha=0.25)
        if r["started_date"] and r["completed_date"]:
            axis.barh(y, mdates.date2num(r["completed_date"]) - mdates.date2num(r["started_date"]),
                      left=mdates.date2num(r["started_date"]), color=colour)
    axis.set_yticks(range(len(rows)), [f"{r['technique']} ({r['partner']})" for r in rows], fontsize=7)
    axis.invert_yaxis()
    axis.xaxis.set_major_locator(mdates.MonthLocator())
    axis.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    axis.tick_params(axis="x", labelrotation=45, labelsize=7)
    axis.legend(handles=[Patch(color=c, label=s) for s, c in SITE_COLOURS.items()]
                + [Patch(color="grey", alpha=0.25, label="waiting after reception")],
                fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axis.set_title("Experiments: reception, measurement and completion")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    return buffer.getvalue()
