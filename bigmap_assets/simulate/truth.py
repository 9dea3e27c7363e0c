"""Ground truth files: JSON beside the generated data, for the tests to check against."""

from __future__ import annotations

import json
from pathlib import Path

SIGNIFICANT_DIGITS = 12  # below the last-bit differences of libm between machines, far above any test tolerance


def write_truth(path: Path, truth: dict) -> None:
    """Write ``truth`` as indented JSON, floats to 12 significant digits so every machine writes the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_rounded(truth), indent=1))


def _rounded(value):
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(item) for item in value]
    return value
