"""Jobs: one per technique over its sample partitions, and one for the cross-sample summaries."""

from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from ..ingest import TECHNIQUES
from .partitions import partitions_for


def technique_assets(assets: Sequence[dg.AssetsDefinition], technique: str) -> list[dg.AssetsDefinition]:
    return [a for a in assets if a.partitions_def == partitions_for(technique)]


def summary_assets(assets: Sequence[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    return [a for a in assets if a.partitions_def is None]


def build_jobs(assets: Sequence[dg.AssetsDefinition]) -> dict[str, dg.UnresolvedAssetJobDefinition]:
    jobs = {}
    for technique in TECHNIQUES:
        members = technique_assets(assets, technique)
        if members:
            jobs[technique] = dg.define_asset_job(
                f"{technique}_job", selection=dg.AssetSelection.assets(*members),
                description=f"Every {technique} asset of one sample partition.",
                tags={"bigmap/technique": technique},
            )
    groups = {a.group_names_by_key[k] for a in assets for k in a.keys}
    for source in ("registry", "survey"):
        if source in groups:
            jobs[source] = dg.define_asset_job(
                f"{source}_job", selection=dg.AssetSelection.groups(source).downstream(),
                description=f"The {source} tables and every cross-sample table that reads them.",
                tags={"bigmap/technique": source},
            )
    jobs["summary"] = dg.define_asset_job(
        "summary_job", selection=dg.AssetSelection.assets(*summary_assets(assets)),
        description="Cross-sample tables: series statistics, registry, surveys, overview.",
        tags={"bigmap/technique": "summary"},
    )
    return jobs
