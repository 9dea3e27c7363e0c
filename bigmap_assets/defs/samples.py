"""Looking up a sample in the registry from inside an asset."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import dagster as dg

from ..ingest import registry
from .resources import WarehouseResource


def registry_signature(registry_dir: Path) -> tuple:
    """Name, size, modification time and inode of every file in ``registry_dir``: changes when any of them does."""
    try:
        entries = list(os.scandir(registry_dir))
    except OSError:
        return ()
    return tuple(sorted((e.name, s.st_size, s.st_mtime_ns, s.st_ino) for e in entries for s in [e.stat()]))


@lru_cache(maxsize=4)
def _loaded(registry_dir: Path, signature: tuple) -> tuple[dict[str, dict], dict]:
    return registry.load_samples(registry_dir)[0], registry.load_registry(registry_dir)[0]


def registry_of(warehouse: WarehouseResource) -> tuple[dict[str, dict], dict]:
    """``({sample_id: row}, {table name: table})`` of the registry (``registry.load_samples``,
    ``registry.load_registry``), read again only when one of its files changed: a run over many
    partitions reads it once. Shared between callers: do not modify."""
    return _loaded(warehouse.registry_dir, registry_signature(warehouse.registry_dir))


def sample_record(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sample_id: str) -> dict:
    """The registry row of ``sample_id``; an empty dict (and a warning in the log) when unknown
    (``cycling_timeseries`` records it in ``ingest_issues`` for each of the cell's files)."""
    samples, _ = registry_of(warehouse)
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
