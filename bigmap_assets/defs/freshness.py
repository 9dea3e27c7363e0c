"""Freshness: a sample's tables must be newer than its newest raw file.

One partitioned asset check per technique table (``cycling_timeseries``, ``xas_scans``, ...):
it fails when the table's newest Parquet part for the sample was written before the newest
raw file under ``raw/<technique>/<sample_id>/`` was modified and that file's content is not
the one the last ingest recorded in ``raw_files`` (a file touched but unchanged is not news),
or when the table was never written.
``stale_tables`` is the same comparison over a whole data folder, for ``bigmap status``.
"""

from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import import_module
from pathlib import Path

import dagster as dg

from .. import schemas
from ..ingest.admission import TECHNIQUES, raw_files_of, sample_folders
from ..warehouse.lake import BrokenPart, Lake
from ..warehouse.storage import lake_location, open_lake
from ..warehouse.provenance import sha256_of
from .each_sample import check_each
from .partitions import partitions_for
from .resources import WarehouseResource


@dataclass(frozen=True)
class Freshness:
    """One table of one sample against the sample's newest raw file (times in seconds since the epoch, UTC)."""

    technique: str
    sample_id: str
    table: str
    newest_raw_file: str | None  # relative to the data folder
    newest_raw_mtime_second: float | None
    table_mtime_second: float | None  # None: never written
    content_changed: bool = True  # the raw files newer than the table differ from what the last ingest recorded

    @property
    def stale(self) -> bool:
        if self.newest_raw_mtime_second is None:
            return False
        if self.table_mtime_second is None:
            return True
        return self.table_mtime_second < self.newest_raw_mtime_second and self.content_changed


def technique_tables(technique: str) -> list[str]:
    """The per-sample tables of ``technique``: its inventory and every ``<technique>_*`` table split by sample."""
    return ["raw_files"] + [
        t.name for t in schemas.TABLES.values()
        if t.name.startswith(f"{technique}_") and "sample_id" in t.partitioned_by
    ]


def table_mtime_second(lake: Lake, table: str, technique: str, sample_id: str) -> float | None:
    """When the newest part of the sample's partition of ``table`` was written (None: never)."""
    keys = {"technique": technique, "sample_id": sample_id}
    partition = {k: keys[k] for k in schemas.TABLES[table].partitioned_by}
    return lake.modified_second(table, partition)


def _content_changed(data_dir: Path, lake: Lake, technique: str, sample_id: str, raw: list[Path],
                     since_second: float) -> bool:
    """Whether the raw files differ from the last ingest's record (only files modified since then are hashed)."""
    try:
        recorded = lake.read("raw_files", {"technique": technique, "sample_id": sample_id}, columns=["path", "sha256"])
    except BrokenPart:  # the record is damaged: rebuild
        return True
    known = dict(zip(recorded.column("path").to_pylist(), recorded.column("sha256").to_pylist())) if recorded else {}
    current = {str(p.relative_to(data_dir)): p for p in raw}
    if set(current) != set(known):
        return True
    return any(p.stat().st_mtime > since_second and sha256_of(p) != known[rel] for rel, p in current.items())


def freshness_of(data_dir: str | Path, technique: str, sample_id: str, table: str, lake_setting: str = "") -> Freshness:
    data_dir = Path(data_dir)
    lake = open_lake(lake_location(data_dir, lake_setting))
    raw = raw_files_of(data_dir, technique, sample_id)
    newest = max(raw, key=lambda p: p.stat().st_mtime, default=None)
    written = table_mtime_second(lake, table, technique, sample_id)
    newer = newest is not None and written is not None and newest.stat().st_mtime > written
    return Freshness(
        technique, sample_id, table,
        newest_raw_file=str(newest.relative_to(data_dir)) if newest else None,
        newest_raw_mtime_second=newest.stat().st_mtime if newest else None,
        table_mtime_second=written,
        content_changed=_content_changed(data_dir, lake, technique, sample_id, raw, written) if newer else True,
    )


def stale_tables(data_dir: str | Path) -> list[Freshness]:
    """Every (technique, sample, table) whose table is older than the sample's newest raw file, or missing."""
    found = []
    for technique in TECHNIQUES:
        sample_ids, _ = sample_folders(Path(data_dir), technique)
        for sample_id in sample_ids:
            for table in technique_tables(technique):
                state = freshness_of(data_dir, technique, sample_id, table)
                if state.stale:
                    found.append(state)
    return found


def _utc(seconds: float | None) -> str:
    return "never" if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="seconds")


def _build_check(technique: str, table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=table, name="newer_than_raw_files", partitions_def=partitions_for(technique),
                    description=f"{table} of the sample was written after its newest raw/{technique} file changed.")
    def newer_than_raw_files(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return check_each(context, lambda sample_id: newer(warehouse, sample_id))

    def newer(warehouse: WarehouseResource, sample_id: str) -> dg.AssetCheckResult:
        state = freshness_of(warehouse.root, technique, sample_id, table, warehouse.lake_location)
        return dg.AssetCheckResult(
            passed=not state.stale,
            metadata={
                "newest_raw_file": state.newest_raw_file or "none",
                "newest_raw_modified_utc": _utc(state.newest_raw_mtime_second),
                "table_written_utc": _utc(state.table_mtime_second),
            },
        )

    return newer_than_raw_files


def _asset_keys_of(technique: str) -> set[str]:
    """The keys of the technique's partitioned assets, when its Dagster module exists."""
    try:
        module = import_module(f"{__package__}.{technique}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__package__}.{technique}":
            raise
        return set()
    return {key.to_user_string() for a in module.ASSETS if a.partitions_def == partitions_for(technique) for key in a.keys}


ASSETS = []
CHECKS = [
    _build_check(technique, table)
    for technique in TECHNIQUES
    for table in technique_tables(technique)
    if table in _asset_keys_of(technique)
]
