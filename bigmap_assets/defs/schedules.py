"""The nightly reprocessing of everything: one run per technique over all its partitions (the assets'
single-run backfill policy), then the summary run."""

import dagster as dg

from ..ingest.admission import TECHNIQUES, sample_folders
from .partitions import every_partition_tags, partition_key, registered
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
                 description=f"Reprocesses every {technique} partition that has raw files, in one run.")
    def nightly(context: dg.ScheduleEvaluationContext, warehouse: WarehouseResource):
        on_disk, _ = sample_folders(warehouse.root, technique)
        known = registered(context.instance, technique)
        date = f"{context.scheduled_execution_time:%Y-%m-%d}"
        if set(on_disk) - known:
            context.log.info(f"left for the sensor to register first: {sorted(set(on_disk) - known)}")
        wanted = [s for s in on_disk if s in known]
        if wanted and set(wanted) == known:
            return [dg.RunRequest(run_key=f"nightly-{date}-{technique}",
                                  tags=every_partition_tags(context.instance, technique))]
        # some registered sample lost its folder (the sensor retracts it): each of the others in a run of its own
        return [dg.RunRequest(run_key=f"nightly-{date}-{technique}-{s}", partition_key=partition_key(s, technique))
                for s in wanted]

    return nightly
