"""The example registry: ``registry/samples.csv`` from the example sample set."""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path

from .samples import all_samples

SAMPLE_FIELDS = ("sample_id", "provider", "batch", "series", "chemistry", "active_mass_mg", "timezone", "role")


def generate(data_dir: Path) -> dict:
    folder = Path(data_dir) / "registry"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{k: v for k, v in asdict(s).items() if k in SAMPLE_FIELDS} for s in all_samples()]
    with open(folder / "samples.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=SAMPLE_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return {"samples": len(rows)}
