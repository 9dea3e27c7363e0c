"""Sensors: new or changed raw files request runs for their partitions only; a finished
partition run refreshes the summaries and what depends on the same sample."""

import json

import dagster as dg

from .. import watch
from ..ingest import TECHNIQUES
from .partitions import partition_key, sample_partitions
from .resources import WarehouseResource

# A sample's assets of the key technique read the value techniques' tables.
DEPENDENT_TECHNIQUES = {"cycling": ("xas",)}


def build_raw_file_sensor(jobs: dict) -> dg.SensorDefinition:
    @dg.sensor(name="raw_file_sensor", jobs=list(jobs.values()), minimum_interval_seconds=30,
               description="Watches raw/ and registry/: requests runs for changed sample partitions only.")
    def raw_file_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
        previous = json.loads(context.cursor) if context.cursor else {}
        found = watch.scan(warehouse.root, previous, settle_seconds=warehouse.settle_seconds)
        for issue in found.refused:
            context.log.warning(f"{issue.path}: {issue.reason}")
        if found.unsettled:
            context.log.info(f"still being written, left for a later tick: {found.unsettled}")
        known = set(context.instance.get_dynamic_partitions(sample_partitions.name))
        new_samples = sorted({s for _, s in found.changed_partitions} - known)
        requests = [
            dg.RunRequest(
                run_key=f"{technique}:{sample_id}:{_fingerprint(found.state, technique, sample_id)}",
                job_name=jobs[technique].name,
                partition_key=partition_key(sample_id, technique),
                tags={"bigmap/technique": technique},
            )
            for technique, sample_id in sorted(found.changed_partitions) if technique in jobs
        ]
        if found.changed_surveys or found.changed_registry:
            requests.append(dg.RunRequest(run_key=f"summary:{_fingerprint(found.state, 'summary', '')}",
                                          job_name=jobs["summary"].name))
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=[sample_partitions.build_add_request(new_samples)] if new_samples else [],
            cursor=json.dumps(found.state, sort_keys=True),
        )

    return raw_file_sensor


def _fingerprint(state: dict[str, list], technique: str, sample_id: str) -> str:
    """A short hash of the partition's file contents, so the same content never runs twice."""
    import hashlib

    if technique == "summary":
        items = sorted((p, v[2]) for p, v in state.items() if watch.classify(p)[0] in ("survey", "registry"))
    else:
        items = sorted((p, v[2]) for p, v in state.items() if watch.classify(p) == (technique, sample_id))
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def build_after_partition_sensor(jobs: dict) -> dg.SensorDefinition:
    partition_jobs = [jobs[t] for t in TECHNIQUES if t in jobs]

    @dg.run_status_sensor(
        name="after_partition_run", run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=partition_jobs, request_jobs=list(jobs.values()),
        description="After a sample's run: refresh the summaries, and rerun what reads that sample's tables.",
    )
    def after_partition_run(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
        run = context.dagster_run
        requests = [dg.RunRequest(run_key=f"summary-after-{run.run_id}", job_name=jobs["summary"].name)]
        technique = run.tags.get("bigmap/technique")
        key = run.tags.get("dagster/partition")
        if key and technique in DEPENDENT_TECHNIQUES:
            sample_id = key.split("|")[0]
            for dependent in DEPENDENT_TECHNIQUES[technique]:
                if dependent in jobs and (warehouse.raw_dir / dependent / sample_id).is_dir():
                    requests.append(dg.RunRequest(
                        run_key=f"{dependent}-after-{run.run_id}", job_name=jobs[dependent].name,
                        partition_key=partition_key(sample_id, dependent),
                    ))
        return requests

    return after_partition_run
