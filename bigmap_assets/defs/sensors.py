"""Sensors: new or changed raw files request runs for their partitions only (a sample joins a
technique's partitions with its first file of that technique, and leaves them, rows retracted, when
its folder is removed); a finished partition run refreshes the summaries and what depends on the
same sample."""

import hashlib
import json
import time

import dagster as dg

from ..ingest import registry, watch
from ..ingest.admission import TECHNIQUES, sample_folders
from ..warehouse.provenance import code_version
from . import partitions as partition_sets
from .partitions import partition_key, registered, sample_set
from .removal import removed, retract
from .resources import WarehouseResource
from .survey import PARTITION as SURVEY_PARTITION

# A sample's assets of the key technique read the value techniques' tables.
DEPENDENT_TECHNIQUES = {"cycling": ("xas", "d2b")}


def build_raw_file_sensor(jobs: dict) -> dg.SensorDefinition:
    @dg.sensor(name="raw_file_sensor", jobs=list(jobs.values()), minimum_interval_seconds=30,
               description="Watches raw/ and registry/: requests runs for changed sample partitions only.")
    def raw_file_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SensorResult:
        previous = json.loads(context.cursor) if context.cursor else {}
        found = watch.scan(warehouse.root, previous.get("files", {}), settle_seconds=warehouse.settle_seconds,
                           recorded=lambda kind, sample_id: _recorded(warehouse, kind, sample_id),
                           code_version=code_version())
        refused = {issue.path: issue.reason for issue in found.refused}
        for issue in found.refused:
            context.log.warning(f"{issue.path}: {issue.reason}")
        if found.unsettled:
            context.log.info(f"still being written, left for a later tick: {found.unsettled}")
        first_look = "samples" not in previous
        sample_rows = (_sample_row_hashes(warehouse) if found.changed_registry or first_look
                       else previous["samples"])
        partitions = set(found.changed_partitions)
        if found.changed_registry:  # a sample's registry row (mass, timezone...) feeds its partitions
            # On a first look the rows the warehouse was built with are unknown: every sample counts as changed.
            before = {} if first_look else previous["samples"]
            changed = {s for s in sample_rows.keys() | before.keys() if sample_rows.get(s) != before.get(s)}
            with_files = {watch.classify(p) for p in found.state}
            partitions |= {(t, s) for t in TECHNIQUES for s in changed if (t, s) in with_files}
        # a refusal that came or went is recorded by the run of where it lies: its partition, the surveys,
        # or (outside every sample folder) the summary run's raw_folder_layout
        # (on a first look, those the warehouse's ingest_issues already hold are not news)
        refused_before = previous["refused"] if "refused" in previous else _already_recorded(warehouse, refused)
        moved = {watch.classify(p) for p in refused.keys() | refused_before.keys()
                 if refused.get(p) != refused_before.get(p)}
        partitions |= {(kind, s) for kind, s in moved if kind in TECHNIQUES}
        changed_sources = {"registry": found.changed_registry or ("registry", None) in moved,
                           "survey": found.changed_surveys or ("survey", None) in moved,
                           "summary": ("unknown", None) in moved}
        known = _known_after_migration(context, warehouse)
        gone = removed(warehouse, known)
        requests = _retractions(context, warehouse, jobs, gone, known)
        on_disk = {t: set(sample_folders(warehouse.root, t)[0]) for t in TECHNIQUES}
        partitions = {(t, s) for t, s in partitions
                      if s not in gone.get(t, ()) and (s in known.get(t, ()) or s in on_disk.get(t, ()))}
        new_samples = {t: sorted({s for tt, s in partitions if tt == t} - known[t]) for t in TECHNIQUES}
        groups = _by_partition(found.state, refused)
        requests += [
            dg.RunRequest(
                run_key=f"{technique}:{sample_id}:{_fingerprint(groups, sample_rows, technique, sample_id)}",
                job_name=jobs[technique].name,
                partition_key=partition_key(sample_id, technique),
                tags={"bigmap/technique": technique},
            )
            for technique, sample_id in sorted(partitions) if technique in jobs
        ]
        for source, changed in changed_sources.items():
            if changed:
                job = jobs.get(source, jobs["summary"])
                requests.append(dg.RunRequest(
                    run_key=f"{source}:{_fingerprint(groups, sample_rows, source, '')}", job_name=job.name))
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=(
                [sample_set(t).build_add_request(ids) for t, ids in new_samples.items() if ids]
                + [sample_set(t).build_delete_request(ids) for t, ids in gone.items()]),
            cursor=json.dumps({"files": found.state, "samples": sample_rows, "refused": refused}, sort_keys=True),
        )

    return raw_file_sensor


def _known_after_migration(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dict[str, set[str]]:
    """Each technique's registered samples, once an instance's old single set is moved (see ``partitions``)."""
    moves = partition_sets.legacy_moves(context.instance, warehouse.root,
                                    has_rows=lambda technique, sample_id: bool(_recorded(warehouse, technique, sample_id)))
    if moves:
        partition_sets.apply(context.instance, moves)
        context.log.info(f"moved the sample_id partitions into the technique sets: "
                         f"{ {m.partitions_def_name: len(m.partition_keys) for m in moves} }")
    return {t: registered(context.instance, t) for t in TECHNIQUES}


def _retractions(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, jobs: dict,
                 gone: dict[str, list[str]], known: dict[str, set[str]]) -> list[dg.RunRequest]:
    """Retract the rows of the samples whose folder is gone; runs for the summaries and for what read them."""
    requests = []
    stamp = time.time_ns()  # a removal happens once per registration: never deduplicated with an earlier one
    for technique, sample_ids in gone.items():
        for sample_id in sample_ids:
            tables = retract(warehouse, technique, sample_id)
            context.log.warning(f"raw/{technique}/{sample_id} is gone: partition {sample_id}|{technique} removed, "
                                f"its rows retracted from {', '.join(tables) or 'no table'}")
            for dependent in DEPENDENT_TECHNIQUES.get(technique, ()):
                if dependent in jobs and sample_id in known.get(dependent, set()) - set(gone.get(dependent, ())):
                    requests.append(dg.RunRequest(
                        run_key=f"{dependent}:{sample_id}:after-removal-of-{technique}:{stamp}",
                        job_name=jobs[dependent].name, partition_key=partition_key(sample_id, dependent),
                        tags={"bigmap/technique": dependent}))
    if gone:
        requests.append(dg.RunRequest(run_key=f"summary:after-removal:{stamp}", job_name=jobs["summary"].name))
    return requests


# The raw_files partition of the files that belong to no sample.
RECORDED_PARTITIONS = {"registry": "registry", "survey": SURVEY_PARTITION}


def _recorded(warehouse: WarehouseResource, kind: str, sample_id: str | None) -> dict[str, tuple[str, str | None]]:
    """``{path: (sha256, code_version)}`` of one partition's ``raw_files`` rows (empty when never built)."""
    partition = {"technique": kind, "sample_id": sample_id or RECORDED_PARTITIONS.get(kind, "")}
    table = warehouse.lake.read("raw_files", partition, columns=["path", "sha256", "code_version"])
    if table is None:
        return {}
    rows = zip(table.column("path").to_pylist(), table.column("sha256").to_pylist(),
               table.column("code_version").to_pylist())
    return {path: (sha256, version) for path, sha256, version in rows}


def _already_recorded(warehouse: WarehouseResource, refused: dict[str, str]) -> dict[str, str]:
    """The refusals whose path the warehouse's ``ingest_issues`` already holds."""
    recorded = set()
    for partition in warehouse.lake.partitions("ingest_issues") if refused else []:
        issues = warehouse.lake.read("ingest_issues", partition, columns=["path"])
        recorded |= set(issues.column("path").to_pylist()) if issues is not None else set()
    return {path: reason for path, reason in refused.items() if path in recorded}


def _sample_row_hashes(warehouse: WarehouseResource) -> dict[str, str]:
    samples, _ = registry.load_samples(warehouse.registry_dir)
    return {s: hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:16]
            for s, row in samples.items()}


def _by_partition(state: dict[str, list], refused: dict[str, str]) -> dict[tuple, tuple[list, list]]:
    """Every watched file ``(path, sha256)`` and refusal ``(path, reason)`` under its ``watch.classify``
    (``(kind, sample_id)``), sorted: classified once per tick, not once per partition."""
    groups: dict[tuple, tuple[list, list]] = {}
    for path, values in state.items():
        groups.setdefault(watch.classify(path), ([], []))[0].append((path, values[2]))
    for path, reason in refused.items():
        groups.setdefault(watch.classify(path), ([], []))[1].append((path, reason))
    return {key: (sorted(files), sorted(refusals)) for key, (files, refusals) in groups.items()}


def _fingerprint(groups: dict[tuple, tuple[list, list]], sample_rows: dict[str, str], kind: str,
                 sample_id: str) -> str:
    """A short hash of what a run reads (its files' contents, what it refuses, its registry row), so it never
    runs twice for it. ``kind`` ``summary``: what lies outside every sample folder. ``groups``: ``_by_partition``."""
    if kind in ("registry", "survey", "summary"):
        files, refusals = groups.get(("unknown" if kind == "summary" else kind, None), ([], []))
        items = [*files, *refusals]
    else:
        files, refusals = groups.get((kind, sample_id), ([], []))
        items = [*files, *refusals, ("registry", sample_rows.get(sample_id))]
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def build_after_partition_sensor(jobs: dict) -> dg.SensorDefinition:
    partition_jobs = [jobs[t] for t in TECHNIQUES if t in jobs]

    @dg.run_status_sensor(
        name="after_partition_run", run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=partition_jobs, request_jobs=list(jobs.values()),
        description="After a sample's run: refresh the summaries, and rerun what reads that sample's tables.",
    )
    def after_partition_run(context: dg.RunStatusSensorContext):
        run = context.dagster_run
        requests = [dg.RunRequest(run_key=f"summary-after-{run.run_id}", job_name=jobs["summary"].name)]
        technique = run.tags.get("bigmap/technique")
        key = run.tags.get("dagster/partition")
        if key and technique in DEPENDENT_TECHNIQUES:
            sample_id = key.split("|")[0]
            for dependent in DEPENDENT_TECHNIQUES[technique]:
                if dependent in jobs and sample_id in registered(context.instance, dependent):
                    requests.append(dg.RunRequest(
                        run_key=f"{dependent}-after-{run.run_id}", job_name=jobs[dependent].name,
                        partition_key=partition_key(sample_id, dependent),
                    ))
        return requests

    return after_partition_run
