"""Partitions: one dynamic dimension of sample IDs, crossed with the technique.

Each technique's assets are partitioned by ``sample_id x technique`` with the technique
dimension holding only their own technique, so every partition in the UI is one that
exists (``LNO-REF-A-01|cycling``), and the keys read the same for every technique.
"""

from __future__ import annotations

import dagster as dg

from ..ingest import TECHNIQUES

sample_partitions = dg.DynamicPartitionsDefinition(name="sample_id")

_BY_TECHNIQUE = {
    technique: dg.MultiPartitionsDefinition(
        {"sample_id": sample_partitions, "technique": dg.StaticPartitionsDefinition([technique])}
    )
    for technique in TECHNIQUES
}


def partitions_for(technique: str) -> dg.MultiPartitionsDefinition:
    return _BY_TECHNIQUE[technique]


def partition_key(sample_id: str, technique: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"sample_id": sample_id, "technique": technique})


def same_sample_from(upstream: str, downstream: str) -> dg.MultiPartitionMapping:
    """Map a ``downstream``-technique partition to the same sample's ``upstream``-technique partition."""
    return dg.MultiPartitionMapping({
        "sample_id": dg.DimensionPartitionMapping("sample_id", dg.IdentityPartitionMapping()),
        "technique": dg.DimensionPartitionMapping("technique", dg.StaticPartitionMapping({upstream: downstream})),
    })


def sample_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    """The sample ID of the run's partition (keys read ``<sample_id>|<technique>``)."""
    key = context.partition_key
    if isinstance(key, dg.MultiPartitionKey):
        return key.keys_by_dimension["sample_id"]
    return key.split("|")[0]
