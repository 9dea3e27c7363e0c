"""The survey grid (Figures 20-22 and 34 of the D5.3 report): techniques by points of interest."""

from __future__ import annotations

from . import png_bytes  # sets the Agg backend before pyplot loads
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from ..schemas.survey import POINTS_OF_INTEREST  # noqa: E402

ANSWER_COLOURS = {None: "#ffffff", "yes": "#2e8b57", "no": "#c0392b", "unsure": "#f39c12", "n.a.": "#bdbdbd"}


def answer_grid(answers: pa.Table) -> tuple[list[str], list[str], np.ndarray]:
    """(row labels 'technique (partner)', point IDs, codes[row, point]) with codes indexing ``ANSWER_COLOURS``."""
    codes_of = {answer: code for code, answer in enumerate(ANSWER_COLOURS)}
    rows = answers.select(["technique", "partner", "comparison", "material", "property", "answer"]).to_pylist()
    forms = sorted({(r["technique"], r["partner"]) for r in rows})
    points = {point: j for j, point in enumerate(POINTS_OF_INTEREST)}
    grid = np.zeros((len(forms), len(points)), dtype=int)
    index = {form: i for i, form in enumerate(forms)}
    for r in rows:
        j = points.get((r["comparison"], r["material"], r["property"]))
        if j is not None:
            grid[index[r["technique"], r["partner"]], j] = codes_of[r["answer"]]
    return [f"{t} ({p})" for t, p in forms], ["/".join(p) for p in POINTS_OF_INTEREST], grid


def survey_grid(answers: pa.Table) -> bytes:
    """PNG bytes: one row per form, one column per point of interest, cells coloured by answer."""
    labels, points, grid = answer_grid(answers)
    figure, axis = plt.subplots(figsize=(14, 2 + 0.28 * max(len(labels), 1)))
    axis.imshow(grid if grid.size else np.zeros((1, len(points)), dtype=int),
                cmap=ListedColormap(list(ANSWER_COLOURS.values())), vmin=0, vmax=len(ANSWER_COLOURS) - 1,
                aspect="auto", interpolation="nearest")
    axis.set_yticks(range(len(labels)), labels, fontsize=7)
    axis.set_xticks(range(len(points)), [f"{n} {p.replace('/', ' ')}" for n, p in enumerate(points, start=1)],
                    rotation=90, fontsize=6)  # numbered as the columns of Figure 34
    groups = [prop if prop in ("difference", "manipulation") else (comparison, material)
              for comparison, material, prop in POINTS_OF_INTEREST]
    for j in range(1, len(groups)):  # between the groups of Figure 34
        if groups[j] != groups[j - 1]:
            axis.axvline(j - 0.5, color="black", lw=0.8)
    axis.set_xticks(np.arange(-0.5, len(points)), minor=True)
    axis.set_yticks(np.arange(-0.5, len(labels)), minor=True)
    axis.grid(which="minor", color="#e0e0e0", lw=0.4)
    axis.legend(handles=[Patch(facecolor=c, edgecolor="grey", label=a or "blank") for a, c in ANSWER_COLOURS.items()],
                loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    axis.set_title("Survey answers by technique and point of interest")
    figure.tight_layout()
    return png_bytes(figure)
