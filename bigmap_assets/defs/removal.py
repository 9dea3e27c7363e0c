"""A sample folder removed from ``raw/<technique>/``: its partition goes, and so do its rows.

The sensor finds the samples of a technique's set that no longer have a folder (``removed``),
deletes their rows of that technique from the lake (``retract``: the technique's tables,
``raw_files``, ``ingest_issues``, the sample's exports and plots) and asks Dagster to delete the
partitions. A sample dropped from the registry keeps its partitions and rows: its runs record
the missing registry row in ``ingest_issues``.
"""

from __future__ import annotations

import shutil

from .. import schemas
from ..archive.facts import PLOTS
from ..ingest.admission import TECHNIQUES, sample_folders
from .freshness import technique_tables
from .resources import WarehouseResource


def removed(warehouse: WarehouseResource, registered: dict[str, set[str]]) -> dict[str, list[str]]:
    """``{technique: [sample_id]}`` registered for a technique whose folder under ``raw/<technique>/`` is gone.

    Nothing is gone while ``raw/`` itself is missing (an unmounted share) or ``raw/<technique>/`` cannot
    be listed: that is not a removal.
    """
    found = {}
    if not warehouse.raw_dir.is_dir():
        return found
    for technique in TECHNIQUES:
        on_disk, issues = sample_folders(warehouse.root, technique)
        if any(issue.path == f"raw/{technique}" for issue in issues):
            continue
        gone = sorted(registered.get(technique, set()) - set(on_disk))
        if gone:
            found[technique] = gone
    return found


def retract(warehouse: WarehouseResource, technique: str, sample_id: str) -> list[str]:
    """Delete the sample's rows of ``technique`` from the lake, and its exports and plots; the tables touched."""
    keys = {"technique": technique, "sample_id": sample_id}
    touched = []
    for table in [*technique_tables(technique), "ingest_issues"]:
        partition = {k: keys[k] for k in schemas.TABLES[table].partitioned_by}
        if warehouse.lake.part_count(table, partition):
            touched.append(table)
        warehouse.lake.delete(table, partition)
    shutil.rmtree(warehouse.warehouse_dir / "exports" / technique / sample_id, ignore_errors=True)
    for label in PLOTS.get(technique, ()):
        (warehouse.warehouse_dir / "plots" / technique / f"{sample_id}_{label}.png").unlink(missing_ok=True)
    return touched
