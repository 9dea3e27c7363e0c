"""The nightly reprocessing of everything: runs over ranges of a technique's partitions (the assets'
single-run backfill policy), one per share of the fleet so that the runs' processes use every core
(``partitions.shares``), then the summary run."""

import dagster as dg

from ..ingest.admission import TECHNIQUES, sample_folders
from .partitions import partition_key, range_tags, registered, shares, workers
from .resources import WarehouseResource

NIGHTLY_CRON = "0 2 * * *"


def build_nightly_schedules(jobs: dict) -> list[dg.ScheduleDefinition]:
    schedules = []
    for technique in (t for t in TECHNIQUES if t in jobs):
        schedules.append(_nightly_partitions(technique, jobs[technique]))

    @dg.schedule(name="nightly_summary", job=jobs["summary"], cron_schedule="0 4 * * *", execution_timezone="UTC",
                 description="Rebuilds the cross-sample tables after the nightly partition runs.")
    def nightly_summary(context: dg.ScheduleEvaluationContext):
        return dg.RunRequest(run_key=f"nightly-summary-{context.scheduled_execution_time:%Y-%m-%d}")

    return [*schedules, nightly_summary]


def _nightly_partitions(technique: str, job) -> dg.ScheduleDefinition:
    @dg.schedule(name=f"nightly_{technique}", job=job, cron_schedule=NIGHTLY_CRON, execution_timezone="UTC",
                 description=f"Reprocesses every {technique} partition that has raw files, in runs over ranges of them: "
                             f"the fleet shared among as many runs as the machine has cores (BIGMAP_WORKERS).")
    def nightly(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
        on_disk, _ = sample_folders(warehouse.root, technique)
        known = registered(context.instance, technique)
        date = f"{context.scheduled_execution_time:%Y-%m-%d}"
        if set(on_disk) - known:
            context.log.info(f"left for the sensor to register first: {sorted(set(on_disk) - known)}")
        # a registered sample whose folder is gone (the sensor retracts it) is left out: the ranges go round it
        ranges = [r for share in shares(context.instance, technique, set(on_disk) & known, workers()) for r in share]
        return [_request(f"nightly-{date}-{technique}" + (f"-{first}...{last}" if len(ranges) > 1 else ""),
                         technique, first, last) for first, last in ranges]

    return nightly


def _request(run_key: str, technique: str, first: str, last: str) -> dg.RunRequest:
    """A run over the partitions from sample ``first`` to ``last``; over one partition, a run of that partition."""
    if first == last:
        return dg.RunRequest(run_key=run_key, partition_key=partition_key(first, technique))
    return dg.RunRequest(run_key=run_key, tags=range_tags(technique, first, last))
