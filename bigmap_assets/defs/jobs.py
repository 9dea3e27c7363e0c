"""Jobs: one per technique over its sample partitions, one for the cross-sample summaries, and
any of them on another executor (multiprocess, Dask)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import dagster as dg

from ..ingest.admission import TECHNIQUES
from .partitions import partitions_for

if TYPE_CHECKING:
    from dagster._core.definitions.reconstruct import ReconstructableJob


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


# What a step's subprocess needs, imported once by the multiprocess executor's forkserver: the project
# and the parts of Dagster an instance loads lazily (SQLite storage, compute logs). A step's process
# then starts in about 0.3 s instead of 2-3 s (spawn) or 1-1.4 s (forkserver with the project only).
FORKSERVER_PRELOAD = ("bigmap_assets.definitions", "dagster._core.instance.factory",
                      "dagster._core.storage.sqlite_storage", "dagster._core.storage.local_compute_log_manager")


def job_on_executor(data_dir: str, job_name: str, executor: str) -> dg.JobDefinition:
    """The project's ``job_name`` over ``data_dir``, its steps run by another executor, assets unchanged.

    ``executor`` is ``"multiprocess"`` (each step in a subprocess of the run) or ``"dask"`` (each
    step a task on a dask.distributed cluster; needs dagster-dask). Runs that cross processes need
    it reconstructable: see ``reconstructable_job_on_executor``.
    """
    from ..definitions import build_defs  # definitions imports this module

    if executor == "dask":
        from dagster_dask import dask_executor as executor_def
    elif executor == "multiprocess":
        executor_def = dg.multiprocess_executor
    else:
        raise ValueError(f"unknown executor {executor!r}: use 'multiprocess' or 'dask'")
    base = build_defs(data_dir)
    defs = dg.Definitions(assets=base.assets, asset_checks=base.asset_checks, jobs=base.jobs,
                          resources=base.resources, executor=executor_def)
    return defs.resolve_job_def(job_name)


def reconstructable_job_on_executor(data_dir: str, job_name: str, executor: str) -> ReconstructableJob:
    """``job_on_executor`` as a job every step process (or Dask worker) rebuilds from its arguments,
    for ``dg.execute_job(..., instance)`` with a persistent instance."""
    return dg.build_reconstructable_job(__name__, job_on_executor.__name__, (str(data_dir), job_name, executor))


def forkserver_run_config() -> dict:
    """Run config for the multiprocess executor: step processes forked from a forkserver that has
    already imported ``FORKSERVER_PRELOAD`` (one forkserver per launching process, reused by its runs)."""
    return {"execution": {"config": {"start_method": {"forkserver": {"preload_modules": list(FORKSERVER_PRELOAD)}}}}}
