"""Which partitions ``bigmap materialize`` leaves as they are: nothing they are built from has changed.

A sample's partition of a technique is unchanged when

* its ``raw_files`` record lists exactly the files now under ``raw/<technique>/<sample_id>/``, none
  pending, each with the size and modification time it has now (a file whose time alone changed
  is hashed: same SHA-256, same file), all processed by this code version (``code_version``);
* no registry file was modified after that record was written (a registry row feeds every table);
* the partition's archive bundle, the last asset of the technique's job, was written after that
  record: the last build of the partition went through every step;
* every part of the partition's tables reads (its footer and schema; a local lake);
* for D2B and XAS, aligned with the cell's potential: the sample's cycling partition is unchanged
  as well, and was not rebuilt after this record.

Deciding costs a ``stat`` per file, a Parquet footer per table and one small Parquet read per
partition, no hashing unless a modification time moved. The nightly schedules still rebuild every partition.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

from ..archive.bundle import bundle_dir
from ..ingest.admission import sample_files
from .. import schemas
from ..warehouse.lake import BrokenPart, Lake
from ..warehouse.provenance import code_version, sha256_of
from .freshness import technique_tables
from .resources import WarehouseResource
from .samples import registry_signature

ALIGNED_WITH_CYCLING = ("d2b", "xas")


def changed_samples(warehouse: WarehouseResource, technique: str, sample_ids: Iterable[str],
                    cycling_changed: set[str] = frozenset()) -> list[str]:
    """The samples of ``sample_ids`` (in order) whose ``technique`` partition must be built again."""
    registry_second = max((mtime_ns / 1e9 for _, _, mtime_ns, _ in registry_signature(warehouse.registry_dir)), default=0.0)
    return [s for s in sample_ids if not _unchanged(warehouse, technique, s, registry_second, cycling_changed)]


def _unchanged(warehouse: WarehouseResource, technique: str, sample_id: str, registry_second: float,
               cycling_changed: set[str]) -> bool:
    lake, partition = warehouse.lake, {"technique": technique, "sample_id": sample_id}
    recorded_second = lake.modified_second("raw_files", partition)
    if recorded_second is None or registry_second > recorded_second:
        return False
    if _bundle_second(warehouse, sample_id, technique) < recorded_second:
        return False
    if technique in ALIGNED_WITH_CYCLING and (
            sample_id in cycling_changed
            or (lake.modified_second("raw_files", {"technique": "cycling", "sample_id": sample_id}) or 0.0)
            > recorded_second):
        return False
    if isinstance(lake, Lake) and any(
            lake.broken_parts(t, {k: partition[k] for k in schemas.TABLES[t].partitioned_by})
            for t in technique_tables(technique)):
        return False
    try:
        record = lake.read("raw_files", partition,
                           columns=["path", "size_byte", "modified_time", "sha256", "status", "code_version"])
    except BrokenPart:
        return False
    return record is not None and _same_files(warehouse.root, technique, sample_id, record.to_pylist())


def _bundle_second(warehouse: WarehouseResource, sample_id: str, technique: str) -> float:
    """When the partition's archive bundle was last written (0 when never)."""
    folder = bundle_dir(warehouse.warehouse_dir, sample_id, technique)
    try:
        return max((p.stat().st_mtime for p in folder.iterdir() if p.is_file()), default=0.0)
    except OSError:
        return 0.0


def _same_files(data_dir: Path, technique: str, sample_id: str, rows: list[dict]) -> bool:
    current = {str(p.relative_to(data_dir)): p for p in sample_files(data_dir, technique, sample_id)[0]}
    if set(current) != {r["path"] for r in rows}:
        return False
    version = code_version()
    for row in rows:
        if row["status"] == "pending" or row["code_version"] != version:
            return False
        path = current[row["path"]]
        stat = path.stat()
        if stat.st_size != row["size_byte"]:
            return False
        if datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc) != row["modified_time"] and \
                sha256_of(path) != row["sha256"]:
            return False
    return True
