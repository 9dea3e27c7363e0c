"""What changed in a data folder since the last look (the sensor's logic, without Dagster).

State is a JSON-able dict ``{relative path: [size, mtime_ns, sha256]}``. A file is hashed
only when its size or mtime moved, and counted as changed only when its content did; a
file modified within ``settle_seconds`` is still being written and is left for later.
Files are found as the pipeline finds them (``ingest``): links out of the data folder, FIFOs
and refused folders are never opened, and come back in ``Scan.refused``.

A file missing from the previous state is compared with what the warehouse recorded for it
(``recorded``: its ``raw_files`` rows), so a first look over a built warehouse finds nothing
new, and a file the warehouse already holds in this content and code version is not news.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .admission import TECHNIQUES, Issue, files_in, layout_issues, sample_files, sample_folders
from ..warehouse.provenance import sha256_of

# (kind, sample_id or None) -> {relative path: (sha256, code_version)} as the warehouse recorded them
Recorded = Callable[[str, str | None], dict[str, tuple[str, str | None]]]


@dataclass
class Scan:
    state: dict[str, list]
    changed_partitions: set[tuple[str, str]] = field(default_factory=set)  # (technique, sample_id)
    changed_surveys: bool = False
    changed_registry: bool = False
    unsettled: list[str] = field(default_factory=list)
    refused: list[Issue] = field(default_factory=list)

    @property
    def anything_changed(self) -> bool:
        return bool(self.changed_partitions or self.changed_surveys or self.changed_registry)


def classify(rel: str) -> tuple[str, str | None]:
    """``(kind, sample_id)`` of a path relative to the data folder: kind is a technique, survey or registry."""
    parts = Path(rel).parts
    if parts[0] == "registry":
        return "registry", None
    if parts[1] == "survey":
        return "survey", None
    if parts[1] in TECHNIQUES and len(parts) >= 4:
        return parts[1], parts[2]
    return "unknown", None


def watched_files(data_dir: Path) -> tuple[list[Path], list[Issue]]:
    """Every file the pipeline reads (sample folders, ``raw/survey/``, ``registry/``) and what is refused
    under ``raw/`` (see ``ingest.layout_issues``) or in those folders."""
    files, refused = [], [i for issues in layout_issues(data_dir).values() for i in issues]
    for technique in TECHNIQUES:
        for sample_id in sample_folders(data_dir, technique)[0]:
            found, issues = sample_files(data_dir, technique, sample_id)
            files += found
            refused += issues
    for folder, kind in ((data_dir / "raw" / "survey", "survey"), (data_dir / "registry", "registry")):
        found, issues = files_in(data_dir, folder, kind, None)
        files += found
        refused += issues
    return files, refused


def scan(data_dir: str | Path, previous: dict[str, list], *, settle_seconds: float = 5.0,
         now: float | None = None, recorded: Recorded | None = None, code_version: str | None = None) -> Scan:
    data_dir = Path(data_dir)
    now = time.time() if now is None else now
    result = Scan(state={})
    seen: set[str] = set()
    records: dict[tuple[str, str | None], dict] = {}

    def recorded_as(rel: str, kind: str, sample_id: str | None) -> tuple[str, str | None] | None:
        if recorded is None:
            return None
        if (kind, sample_id) not in records:
            records[(kind, sample_id)] = recorded(kind, sample_id)
        return records[(kind, sample_id)].get(rel)

    files, result.refused = watched_files(data_dir)
    for path in files:
        rel = str(path.relative_to(data_dir))
        kind, sample_id = classify(rel)
        seen.add(rel)
        stat = path.stat()
        old = previous.get(rel)
        if old and old[0] == stat.st_size and old[1] == stat.st_mtime_ns:
            result.state[rel] = old
            continue
        if now - stat.st_mtime < settle_seconds:
            result.unsettled.append(rel)
            if old:
                result.state[rel] = old
            continue
        digest = sha256_of(path)
        result.state[rel] = [stat.st_size, stat.st_mtime_ns, digest]
        if old:
            if old[2] != digest:
                _mark(result, kind, sample_id)
        elif not _same_as_recorded(recorded_as(rel, kind, sample_id), digest, code_version):
            _mark(result, kind, sample_id)
    for rel in set(previous) - seen:  # removed files change their partition too
        kind, sample_id = classify(rel)
        _mark(result, kind, sample_id)
    for (kind, sample_id), files in records.items():  # and so do files recorded but no longer there
        if set(files) - seen:
            _mark(result, kind, sample_id)
    return result


def _same_as_recorded(record: tuple[str, str | None] | None, digest: str, code_version: str | None) -> bool:
    """The warehouse holds this content, processed by this code version (a record without one: any)."""
    return record is not None and record[0] == digest and record[1] in (None, "", code_version)


def _mark(result: Scan, kind: str, sample_id: str | None) -> None:
    if kind == "registry":
        result.changed_registry = True
    elif kind == "survey":
        result.changed_surveys = True
    elif kind in TECHNIQUES and sample_id:
        result.changed_partitions.add((kind, sample_id))
