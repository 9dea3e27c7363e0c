"""Reading the raw files of one (technique, sample) partition, without Dagster.

Every file under ``<data-dir>/raw/<technique>/<sample_id>/`` is hashed and read; a file
that cannot be used becomes an ``Issue`` (never an exception past this module), and
the inventory of what was seen becomes ``raw_files`` rows. What is not read at all (a
refused folder name, a file outside a sample folder, a link out of the data folder, a
FIFO; see ``raw_tree``) is an ``Issue`` too, so every entry under ``raw/`` is accounted for.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa

from .. import schemas
from .errors import UnreadableFile
from .raw_tree import WARNING, containment, entry_problem, files_below, kind_of, not_data, walk
from ..warehouse.lake import SAFE_VALUE
from ..warehouse.provenance import code_version, sha256_of, stamp

TECHNIQUES = ("cycling", "d2b", "xas")
RAW_FOLDERS = (*TECHNIQUES, "survey")
# The ingest_issues partition of what lies outside any sample folder: a name no sample folder may take,
# which DuckDB reads back as a NULL sample_id.
NO_SAMPLE = "__HIVE_DEFAULT_PARTITION__"


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
        from ..readers import metadata_of  # imported on use: what lists or queries needs no reader

        return metadata_of(self.table)


@dataclass
class PartitionFiles:
    technique: str
    sample_id: str
    files: list[ReadFile] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    inventory: list[dict] = field(default_factory=list)


def relative(data_dir: Path, path: Path) -> str:
    return str(Path(path).relative_to(data_dir))


def sample_name_problem(name: str) -> str | None:
    """Why a folder under ``raw/<technique>/`` cannot be a sample ID, or None."""
    if name.startswith("."):
        return f"{name!r} is a hidden folder (name starts with '.')"
    if name == NO_SAMPLE:
        return f"{name!r} is a reserved name"
    if not SAFE_VALUE.match(name):
        return f"{name!r} is not a sample ID: use letters, digits, '.', '_' and '-' only"
    return None


def sample_folders(data_dir: Path, technique: str) -> tuple[list[str], list[Issue]]:
    """Sample IDs that have a folder under ``raw/<technique>/``, and an issue for everything else there
    (refused folder names, files outside a sample folder, links out of the data folder, FIFOs...)."""
    data_dir = Path(data_dir)
    base = data_dir / "raw" / technique
    if not os.path.lexists(base):
        return [], []
    inside = containment(data_dir)
    mode, problem = entry_problem(base, inside)
    if problem or not stat.S_ISDIR(mode):
        return [], [Issue(relative(data_dir, base), technique, problem or "not a folder: nothing in it is read")]
    ids, issues = [], []
    try:
        entries = sorted(os.scandir(base), key=lambda e: e.name)
    except OSError as exc:
        return [], [Issue(relative(data_dir, base), technique, f"folder cannot be listed: {exc.strerror}")]
    for entry in entries:
        path = Path(entry.path)
        rel = relative(data_dir, path)
        mode, problem = entry_problem(path, inside)
        if problem:
            issues.append(Issue(rel, technique, problem))
        elif stat.S_ISDIR(mode):
            refused = sample_name_problem(entry.name)
            if refused:
                issues.append(Issue(rel, technique, f"sample folder refused: {refused}; "
                                                    f"its {files_below(path)} file(s) are not read"))
            else:
                ids.append(entry.name)
        elif not_data(entry.name):
            issues.append(Issue(rel, technique, f"not read: {not_data(entry.name)}", severity=WARNING))
        elif stat.S_ISREG(mode):
            issues.append(Issue(rel, technique, f"not in a sample folder: not read (put it in "
                                                f"raw/{technique}/<sample_id>/)"))
        else:
            issues.append(Issue(rel, technique, f"not read: {kind_of(mode)}, not a regular file"))
    return ids, issues


def layout_issues(data_dir: Path) -> dict[str, list[Issue]]:
    """Issues of everything under ``raw/`` outside the sample folders and ``raw/survey/``, by technique
    folder (``raw``: entries directly under ``raw/`` that are not a technique folder)."""
    data_dir = Path(data_dir)
    raw = data_dir / "raw"
    found = {"raw": [], **{technique: sample_folders(data_dir, technique)[1] for technique in TECHNIQUES}}
    inside = containment(data_dir)
    try:
        entries = sorted(os.scandir(raw), key=lambda e: e.name) if raw.is_dir() else []
    except OSError as exc:
        return {**found, "raw": [Issue("raw", "raw", f"folder cannot be listed: {exc.strerror}")]}
    for entry in entries:
        if entry.name in RAW_FOLDERS:
            continue  # the technique folders above, raw/survey/ by the survey reader
        path = Path(entry.path)
        rel = relative(data_dir, path)
        mode, problem = entry_problem(path, inside)
        if problem:
            found["raw"].append(Issue(rel, "raw", problem))
        elif not_data(entry.name):
            what = "folder" if stat.S_ISDIR(mode) else "file"
            found["raw"].append(Issue(rel, "raw", f"not read: {not_data(entry.name, what)}", severity=WARNING))
        elif stat.S_ISDIR(mode):
            found["raw"].append(Issue(rel, "raw", f"not a technique folder ({', '.join(RAW_FOLDERS)}): "
                                                  f"its {files_below(path)} file(s) are not read"))
        elif stat.S_ISREG(mode):
            found["raw"].append(Issue(rel, "raw", "not in a technique folder: not read (put it in "
                                                  "raw/<technique>/<sample_id>/ or raw/survey/)"))
        else:
            found["raw"].append(Issue(rel, "raw", f"not read: {kind_of(mode)}, not a regular file"))
    return found


def files_in(data_dir: Path, folder: Path, technique: str, sample_id: str | None) -> tuple[list[Path], list[Issue]]:
    """The raw data files under ``folder`` (see ``raw_tree.walk``) and an issue for each entry refused there."""
    data_dir = Path(data_dir)
    if not os.path.lexists(folder):
        return [], []
    inside = containment(data_dir)
    mode, problem = entry_problem(folder, inside)
    if problem or not stat.S_ISDIR(mode):
        return [], [Issue(relative(data_dir, folder), technique, problem or "not a folder: not read", sample_id)]
    listing = walk(folder, inside)
    issues = [Issue(relative(data_dir, r.path), technique, r.reason, sample_id, severity=r.severity)
              for r in listing.refused]
    return listing.files, issues


def sample_files(data_dir: Path, technique: str, sample_id: str) -> tuple[list[Path], list[Issue]]:
    """The raw files of one sample folder, and what is refused in it (links out, FIFOs, hidden files...)."""
    return files_in(data_dir, Path(data_dir) / "raw" / technique / sample_id, technique, sample_id)


def raw_files_of(data_dir: Path, technique: str, sample_id: str) -> list[Path]:
    return sample_files(data_dir, technique, sample_id)[0]


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
    from ..readers import metadata_of, read

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
    paths, result.issues = sample_files(data_dir, technique, sample_id)
    for path in paths:
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
