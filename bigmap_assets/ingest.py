"""Reading the raw files of one (technique, sample) partition, without Dagster.

Every file under ``<data-dir>/raw/<technique>/<sample_id>/`` is hashed and read; a file
that cannot be used becomes an ``Issue`` (never an exception past this module), and
the inventory of what was seen becomes ``raw_files`` rows.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from . import schemas
from .errors import UnreadableFile
from .readers import metadata_of, read
from .warehouse.lake import check_partition_value
from .warehouse.provenance import code_version, sha256_of, stamp

TECHNIQUES = ("cycling", "d2b", "xas")


def default_data_dir() -> str:
    """``$BIGMAP_DATA_DIR``, else ``data/`` in the working directory (the example set in a checkout)."""
    return os.environ.get("BIGMAP_DATA_DIR") or str(Path.cwd() / "data")


@dataclass(frozen=True)
class Issue:
    """One thing that could not be used, and why."""

    path: str
    technique: str
    reason: str
    sample_id: str | None = None
    location: str | None = None
    severity: str = "error"
    sha256: str | None = None


@dataclass
class ReadFile:
    path: str  # relative to the data folder
    sha256: str
    table: pa.Table  # provenance columns stamped; reader metadata in the schema

    @property
    def metadata(self) -> dict:
        return metadata_of(self.table)


@dataclass
class PartitionFiles:
    technique: str
    sample_id: str
    files: list[ReadFile] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    inventory: list[dict] = field(default_factory=list)


def is_raw_file(path: Path) -> bool:
    """Data files only: hidden files, editor backups and temp files are not raw data."""
    name = path.name
    return path.is_file() and not name.startswith((".", "~$")) and not name.endswith(("~", ".tmp", ".part"))


def raw_files_of(data_dir: Path, technique: str, sample_id: str) -> list[Path]:
    folder = Path(data_dir) / "raw" / technique / sample_id
    return sorted(p for p in folder.rglob("*") if is_raw_file(p)) if folder.is_dir() else []


def sample_folders(data_dir: Path, technique: str) -> tuple[list[str], list[Issue]]:
    """Sample IDs that have a folder under ``raw/<technique>/``; unsafe names become issues."""
    base = Path(data_dir) / "raw" / technique
    ids, issues = [], []
    for folder in sorted(base.iterdir()) if base.is_dir() else []:
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            ids.append(check_partition_value(folder.name))
        except ValueError as exc:
            issues.append(Issue(str(folder.relative_to(data_dir)), technique, f"sample folder refused: {exc}"))
    return ids, issues


Accept = Callable[[dict], str | None]
Opener = Callable[[Path], tuple[pa.Table | None, dict]]  # (whole table, or None when left to stream; metadata)


@dataclass
class AdmittedFile:
    """A raw file that read and belongs in the partition's tables."""

    rel: str  # relative to the data folder
    path: Path
    size_byte: int
    sha256: str
    metadata: dict
    table: pa.Table | None  # provenance stamped; None when the opener left the file to be streamed


def read_whole(path: Path) -> tuple[pa.Table, dict]:
    table = read(path)
    return table, metadata_of(table)


def admit_files(data_dir: str | Path, technique: str, sample_id: str, *, open_file: Opener = read_whole,
                accept: Accept | None = None) -> tuple[list[AdmittedFile], PartitionFiles]:
    """Hash and open every raw file of one partition: the files admitted, and the partition's issues and inventory.

    ``accept(metadata)`` may return a reason to refuse a file that read fine but does not
    belong in this technique's tables (e.g. an impedance file among cycling files).
    """
    data_dir = Path(data_dir)
    result = PartitionFiles(technique, sample_id)
    admitted = []
    for path in raw_files_of(data_dir, technique, sample_id):
        rel = str(path.relative_to(data_dir))
        stat = path.stat()
        digest = sha256_of(path)
        entry = {
            "path": rel, "technique": technique, "sample_id": sample_id, "size_byte": stat.st_size,
            "modified_time": datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc),
            "code_version": code_version(), "sha256": digest,
        }
        try:
            table, meta = open_file(path)
        except UnreadableFile as exc:
            result.issues.append(Issue(rel, technique, exc.reason, sample_id, exc.location, sha256=digest))
            result.inventory.append({**entry, "status": "issue"})
            continue
        entry.update(reader=meta.get("format"), row_count=table.num_rows if table is not None else None)
        refusal = meta.get("technique") != technique and (
            f"a {meta.get('technique')} file ({meta.get('format')}) in the {technique} folder")
        refusal = refusal or (accept(meta) if accept else None)
        if refusal:
            result.issues.append(Issue(rel, technique, f"not used: {refusal}", sample_id, sha256=digest))
            result.inventory.append({**entry, "status": "issue"})
            continue
        for warning in meta.get("warnings", []):
            result.issues.append(Issue(rel, technique, warning, sample_id, severity="warning", sha256=digest))
        stamped = stamp(table, rel, digest) if table is not None else None
        admitted.append(AdmittedFile(rel, path, stat.st_size, digest, meta, stamped))
        result.inventory.append({**entry, "status": "ok"})
    return admitted, result


def read_partition(data_dir: str | Path, technique: str, sample_id: str, accept: Accept | None = None) -> PartitionFiles:
    """Hash and read every raw file of one partition whole (see ``admit_files``)."""
    admitted, result = admit_files(data_dir, technique, sample_id, accept=accept)
    result.files = [ReadFile(a.rel, a.sha256, a.table) for a in admitted]
    return result


def issues_table(issues: list[Issue]) -> pa.Table:
    """``ingest_issues`` rows for ``issues``, stamped with this code version."""
    rows = [{**issue.__dict__, "code_version": code_version()} for issue in issues]
    return _conform("ingest_issues", rows)


def inventory_table(inventory: list[dict]) -> pa.Table:
    return _conform("raw_files", inventory)


def _conform(table_name: str, rows: list[dict]) -> pa.Table:
    schema = schemas.TABLES[table_name]
    return schema.conform(pa.Table.from_pylist(rows)) if rows else schema.arrow_schema().empty_table()
