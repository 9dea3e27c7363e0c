"""Partitions: one dynamic set of sample IDs per technique, crossed with the technique.

Each technique's assets are partitioned by ``sample_id x technique``: the ``sample_id``
dimension is that technique's own set (``cycling_samples``, ``d2b_samples``, ``xas_samples``),
holding exactly the samples with files under ``raw/<technique>/``, and the technique dimension
holds only the technique. So every partition in the UI is one that exists, and keys read the
same for every technique: ``LNO-REF-A-01|cycling``.

Instances built before this split hold one set, ``sample_id``, for all techniques:
``legacy_moves`` says how to move it (the sensor and ``bigmap materialize`` apply it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from ..ingest.admission import TECHNIQUES, sample_folders

LEGACY_SET = "sample_id"  # the single set of sample IDs that instances built before the split hold
WORKERS_ENV = "BIGMAP_WORKERS"  # processes sharing a technique's partitions; default: one per core
MIN_PARTITIONS_PER_SHARE = 40  # a run's process takes 3-5 s to start, the time of about 15 small cells

SAMPLE_SETS = {technique: dg.DynamicPartitionsDefinition(name=f"{technique}_samples") for technique in TECHNIQUES}

_BY_TECHNIQUE = {
    technique: dg.MultiPartitionsDefinition(
        {"sample_id": SAMPLE_SETS[technique], "technique": dg.StaticPartitionsDefinition([technique])}
    )
    for technique in TECHNIQUES
}


def partitions_for(technique: str) -> dg.MultiPartitionsDefinition:
    return _BY_TECHNIQUE[technique]


def sample_set(technique: str) -> dg.DynamicPartitionsDefinition:
    """The dynamic partitions of the samples that have ``technique`` files."""
    return SAMPLE_SETS[technique]


def partition_key(sample_id: str, technique: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"sample_id": sample_id, "technique": technique})


def same_sample_from(upstream: str, downstream: str) -> dg.MultiPartitionMapping:
    """Map a ``downstream``-technique partition to the same sample's ``upstream``-technique partition
    (none when the sample has no ``upstream`` files: the asset then reads an empty table)."""
    return dg.MultiPartitionMapping({
        "sample_id": dg.DimensionPartitionMapping("sample_id", dg.IdentityPartitionMapping()),
        "technique": dg.DimensionPartitionMapping("technique", dg.StaticPartitionMapping({upstream: downstream})),
    })


def sample_of_key(key: str) -> str:
    """The sample ID of a partition key (``<sample_id>|<technique>``)."""
    if isinstance(key, dg.MultiPartitionKey):
        return key.keys_by_dimension["sample_id"]
    return key.split("|")[0]


def registered(instance: dg.DagsterInstance, technique: str) -> set[str]:
    return set(instance.get_dynamic_partitions(SAMPLE_SETS[technique].name))


def range_tags(technique: str, first: str, last: str) -> dict[str, str]:
    """Tags of one run over the ``technique`` partitions from sample ``first`` to sample ``last`` (in the
    order Dagster holds the samples); the assets' single-run backfill policy lets one run materialise them all."""
    return {"dagster/asset_partition_range_start": str(partition_key(first, technique)),
            "dagster/asset_partition_range_end": str(partition_key(last, technique))}


def contiguous_ranges(instance: dg.DagsterInstance, technique: str, sample_ids: set[str]) -> list[tuple[str, str]]:
    """``sample_ids`` as ``(first, last)`` runs of consecutive registered samples, in the order Dagster holds them."""
    ranges: list[list[str]] = []
    previous_in = False
    for sample_id in instance.get_dynamic_partitions(SAMPLE_SETS[technique].name):
        inside = sample_id in sample_ids
        if inside and previous_in:
            ranges[-1][1] = sample_id
        elif inside:
            ranges.append([sample_id, sample_id])
        previous_in = inside
    return [(first, last) for first, last in ranges]


def workers() -> int:
    """Processes that share a technique's partitions in a build of many: ``$BIGMAP_WORKERS``, or one per core."""
    setting = os.environ.get(WORKERS_ENV, "").strip()
    if not setting:
        return os.cpu_count() or 1
    if not setting.isdigit() or int(setting) < 1:
        raise ValueError(f"{WORKERS_ENV}={setting!r}: give a whole number of processes, 1 or more")
    return int(setting)


def shares(instance: dg.DagsterInstance, technique: str, sample_ids: set[str], count: int) -> list[list[tuple[str, str]]]:
    """``sample_ids`` cut into at most ``count`` shares of consecutive registered samples, each of at
    least ``MIN_PARTITIONS_PER_SHARE`` (one share when there are fewer), for runs in parallel processes;
    each share as its ``contiguous_ranges``. Empty when ``sample_ids`` holds no registered sample."""
    ordered = [s for s in instance.get_dynamic_partitions(SAMPLE_SETS[technique].name) if s in sample_ids]
    if not ordered:
        return []
    size = -(-len(ordered) // max(1, min(count, len(ordered) // MIN_PARTITIONS_PER_SHARE)))
    return [contiguous_ranges(instance, technique, set(ordered[start:start + size]))
            for start in range(0, len(ordered), size)]


def legacy_moves(instance: dg.DagsterInstance, data_dir: str | Path,
                 has_rows: Callable[[str, str], bool] = lambda technique, sample_id: False) -> list:
    """Requests that move an old instance's single ``sample_id`` set into the technique sets.

    A sample joins a technique's set when it has a folder under ``raw/<technique>/`` or the
    warehouse holds rows of it for that technique (``has_rows``: then the removal of its folder
    is handled as any other); the old set is emptied. Partition keys read the same, so the
    history of every partition carries over. No requests once moved.
    """
    legacy = instance.get_dynamic_partitions(LEGACY_SET)
    if not legacy:
        return []
    requests = []
    for technique in TECHNIQUES:
        on_disk = set(sample_folders(Path(data_dir), technique)[0])
        moved = sorted(s for s in legacy if s in on_disk or has_rows(technique, s))
        if moved:
            requests.append(SAMPLE_SETS[technique].build_add_request(moved))
    requests.append(dg.DynamicPartitionsDefinition(name=LEGACY_SET).build_delete_request(list(legacy)))
    return requests


def apply(instance: dg.DagsterInstance, requests: list) -> None:
    """Apply dynamic-partition requests to ``instance`` now (as the daemon does after a sensor tick)."""
    for request in requests:
        if isinstance(request, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(request.partitions_def_name, key)
