"""Every raw file accounted for, and the samples read without a registry row. No Dagster.

The invariant: every entry under ``raw/`` (file, link, FIFO...) is ingested (a ``raw_files``
row with status ok) or explained (an ``ingest_issues`` row for it or for a folder holding it).
``unaccounted_files`` lists the entries on disk that are neither; the asset check after every
run and ``bigmap status`` report them.
"""

from __future__ import annotations

from pathlib import Path

from . import registry
from .admission import TECHNIQUES, sample_folders
from .raw_tree import containment, entries_on_disk
from ..warehouse.lake import Lake
from ..warehouse.storage import lake_location, open_lake


def recorded_paths(lake: Lake) -> tuple[set[str], set[str]]:
    """``(paths ingested with status ok, paths with an ingest issue)`` over every partition of the lake."""
    ingested, explained = set(), set()
    for partition in lake.partitions("raw_files"):
        rows = lake.read("raw_files", partition, columns=["path", "status"])
        ingested |= {p for p, s in zip(rows.column("path").to_pylist(), rows.column("status").to_pylist()) if s == "ok"}
    for partition in lake.partitions("ingest_issues"):
        explained |= set(lake.read("ingest_issues", partition, columns=["path"]).column("path").to_pylist())
    return ingested, explained


def unaccounted_files(data_dir: str | Path, lake_setting: str = "") -> list[str]:
    """Entries under ``raw/`` (relative to the data folder) neither ingested nor explained by an issue.

    ``lake_setting``: the lake's location as ``storage.lake_location`` takes it (empty: the default)."""
    data_dir = Path(data_dir)
    raw = data_dir / "raw"
    if not raw.is_dir():
        return []
    ingested, explained = recorded_paths(open_lake(lake_location(data_dir, lake_setting)))
    found = []
    for path in entries_on_disk(raw, containment(data_dir)):
        rel = Path(path).relative_to(data_dir)
        if str(rel) not in ingested and not any(str(p) in explained for p in (rel, *rel.parents)):
            found.append(str(rel))
    return found


def unregistered_samples(data_dir: str | Path) -> list[tuple[str, str]]:
    """``(sample_id, technique)`` of every sample folder whose sample has no valid row in the registry."""
    data_dir = Path(data_dir)
    known, _ = registry.load_samples(data_dir / "registry")
    return sorted((sample_id, technique) for technique in TECHNIQUES
                  for sample_id in sample_folders(data_dir, technique)[0] if sample_id not in known)
