"""Looking up a sample in the registry from inside an asset."""

from __future__ import annotations

import dagster as dg

from ..ingest import registry
from .resources import WarehouseResource


def sample_record(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sample_id: str) -> dict:
    """The registry row of ``sample_id``; an empty dict (and a warning in the log) when unknown
    (``cycling_timeseries`` records it in ``ingest_issues`` for each of the cell's files)."""
    samples, _ = registry.load_samples(warehouse.registry_dir)
    record = samples.get(sample_id)
    if record is None:
        context.log.warning(
            f"sample {sample_id} is not in {warehouse.registry_dir / 'samples.csv'}: "
            "times are taken as UTC unless a file states its timezone, and no active mass is known"
        )
        return {}
    return record


def active_mass_g(record: dict) -> float | None:
    mass = record.get("active_mass_mg")
    return float(mass) / 1000.0 if mass not in (None, "") else None
