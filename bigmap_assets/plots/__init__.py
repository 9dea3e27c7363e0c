"""Figures: tables in, PNG bytes out (matplotlib with the Agg backend, no display needed)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 110
PNG_COMPRESSION = 1  # zlib level: a plot is drawn for every cell of a fleet; PIL's default (6) took about 35 ms more a plot


def png_bytes(figure) -> bytes:
    """The figure as PNG bytes; the figure is closed."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": PNG_COMPRESSION})
    plt.close(figure)
    return buffer.getvalue()
