"""The example registry: ``registry/*.csv`` for the example sample set and campaign.

Reproduces the report's stated logistics figures: 7 delivered shipments taking 2 to 15
days (mean 8.0, 56 days = 1.8 months in all) plus one lost parcel; 21 experiments whose
reception-to-completion delays run from 1 to 4 months and whose measurement times add up
to 1659 days = 54.5 months; 21 archive records, 14 linked to a notebook entry (67 %).
"""

from __future__ import annotations

import csv
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

from .samples import all_samples, ageing_cells
from .survey import TECHNIQUES

SAMPLE_FIELDS = ("sample_id", "provider", "batch", "series", "chemistry", "active_mass_mg", "timezone", "role",
                 "assembly_date", "end_of_life_date")
CAMPAIGN_START = date(2023, 1, 9)

# (from, to, sent day, transit days or None when lost, contents, carrier, cost EUR)
SHIPMENTS = (
    ("ProviderA", "Lab-01", 120, 2, "coin cells: 4", "DHL", 85.0),
    ("ProviderB", "Lab-01", 122, 15, "coin cells: 4", "UPS", 140.0),
    ("Lab-01", "ILL", 130, 5, "coin cells: 1; LNO electrodes: 2; Gr electrodes: 2", "DHL", 95.0),
    ("Lab-01", "SOLEIL", 131, 9, "coin cells: 1; LNO electrodes: 2", "TNT", 110.0),
    ("Lab-01", "Lab-02", 140, 11, "LNO electrodes: 4; Gr electrodes: 4", "UPS", 120.0),
    ("Lab-01", "Lab-07", 141, 6, "LNO electrodes: 4; Gr electrodes: 4", "DHL", 90.0),
    ("Lab-01", "Lab-04", 143, 8, "LNO electrodes: 4; Gr electrodes: 4", "DHL", 90.0),
    ("Lab-01", "Lab-08", 150, None, "LNO electrodes: 2; Gr electrodes: 2", "TNT", 105.0),
)
# Days from reception to start, and of measurement, per experiment (21: one per technique,
# neutron diffraction twice). Measurement days add up to 1659 = 54.5 months; the delays
# (wait + measurement) run from 31 days (1.0 month) to 122 days (4.0 months).
WAIT_AND_MEASURE_DAYS = (
    (3, 28), (12, 110), (5, 75), (4, 80), (6, 85), (8, 90), (2, 90), (7, 85), (9, 70), (10, 65), (4, 60),
    (5, 95), (6, 80), (3, 70), (8, 105), (5, 88), (7, 72), (6, 92), (4, 68), (5, 78), (6, 73),
)
ARCHIVED_WITH_NOTEBOOK = 14


def generate(data_dir: Path) -> dict:
    folder = Path(data_dir) / "registry"
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "samples": _samples(), "electrodes": _electrodes(), "shipments": _shipments(),
        "experiments": _experiments(), "archive_records": _archive_records(),
    }
    for name, rows in tables.items():
        _write_csv(folder / f"{name}.csv", rows)
    return {name: len(rows) for name, rows in tables.items()}


def _samples() -> list[dict]:
    rows = []
    for index, sample in enumerate(all_samples()):
        row = {k: v for k, v in asdict(sample).items() if k in SAMPLE_FIELDS}
        assembled = CAMPAIGN_START + timedelta(days=index % 4)
        aged = sample.role == "ageing"
        rows.append({**row, "assembly_date": assembled,
                     "end_of_life_date": assembled + timedelta(days=100 + 3 * index) if aged else ""})
    return rows


def _electrodes() -> list[dict]:
    return [{"electrode_id": f"{cell.sample_id}-{material}", "sample_id": cell.sample_id, "material": material,
             "state": "aged"} for cell in ageing_cells() for material in ("LNO", "Gr")]


def _cells_for(index: int) -> list[str]:
    """Two ageing cells per experiment or shipment, cycling through the set."""
    cells = [c.sample_id for c in ageing_cells()]
    return [cells[(2 * index) % len(cells)], cells[(2 * index + 1) % len(cells)]]


def _shipments() -> list[dict]:
    rows = []
    for index, (sender, receiver, sent_day, transit, contents, carrier, cost) in enumerate(SHIPMENTS, start=1):
        sent = CAMPAIGN_START + timedelta(days=sent_day)
        rows.append({
            "shipment_id": f"SHP-{index:02d}", "from_site": sender, "to_site": receiver, "sent_date": sent,
            "received_date": sent + timedelta(days=transit) if transit is not None else "", "contents": contents,
            "sample_ids": ";".join(_cells_for(index)), "carrier": carrier, "cost_eur": cost,
            "lost": "true" if transit is None else "false",
        })
    return rows


def _experiment_plan() -> list[tuple[str, str, str]]:
    """(technique, partner, site type) of the 21 experiments: every survey technique, D2B twice."""
    plan = list(TECHNIQUES)
    d2b = next(t for t in plan if "D2B" in t[0])
    return plan + [d2b]


def _experiments() -> list[dict]:
    rows = []
    for index, ((technique, partner, site_type), (wait, measure)) in enumerate(
            zip(_experiment_plan(), WAIT_AND_MEASURE_DAYS, strict=True), start=1):
        received = CAMPAIGN_START + timedelta(days=140 + 7 * index)
        started = received + timedelta(days=wait)
        samples = {"ILL": ["LNO-OPD2B-01"] if index == 3 else _cells_for(index),
                   "SOLEIL": ["LNO-OPXAS-01"]}.get(partner, _cells_for(index))
        rows.append({
            "experiment_id": f"EXP-{index:02d}", "partner": partner, "technique": technique, "site_type": site_type,
            "sample_ids": ";".join(samples), "received_date": received, "started_date": started,
            "completed_date": started + timedelta(days=measure), "percent_done": 100,
        })
    return rows


def _archive_records() -> list[dict]:
    rows = []
    for index, (technique, partner, _) in enumerate(_experiment_plan(), start=1):
        created = CAMPAIGN_START + timedelta(days=300 + 5 * index)
        rows.append({
            "record_id": f"ARC-{index:02d}", "partner": partner, "technique": technique, "created_date": created,
            "updated_date": created + timedelta(days=20),
            "notebook_entry": f"ELN-{1000 + index}" if index <= ARCHIVED_WITH_NOTEBOOK else "",
        })
    return rows


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
