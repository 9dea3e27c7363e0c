"""The main job: every asset over a data folder, run through Dagster and recorded in its instance.

One ``materialize`` at a time per data folder: a second one waits for the first
(``warehouse.folder_lock``), so the instance is created once and runs never race.

A technique's changed partitions are shared among ``partitions.workers()`` processes (one per
core) when there are enough of them to pay for a process start (``partitions.shares``): each
process runs its share as runs over ranges of consecutive partitions, all recorded in the same
instance.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb

from ..ingest.admission import TECHNIQUES, sample_folders
from ..ingest.allocator import keep_freed_memory
from ..warehouse import catalog, storage
from ..warehouse.folder_lock import data_folder_lock
from . import event_log, partitions
from .partitions import partition_key, range_tags, registered, sample_set
from .removal import removed, retract
from .resources import WarehouseResource
from .unchanged import changed_samples

INSTANCE_YAML = "telemetry:\n  enabled: false\n"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SUMMARY_TABLES = ("raw_files", "ingest_issues", "cycling_timeseries", "cycling_cycles", "cycling_soh",
                  "cycling_series", "d2b_diffractograms", "xas_scans", "xas_spectra", "xas_echem",
                  "survey_answers", "sample_overview")


@dataclass
class Report:
    runs: list[tuple[str, str, bool]] = field(default_factory=list)  # (job, partition, success)
    refused: list[str] = field(default_factory=list)
    unaccounted: list[str] = field(default_factory=list)  # raw files neither ingested nor in ingest_issues

    @property
    def succeeded(self) -> bool:
        return all(ok for _, _, ok in self.runs)


def ensure_dagster_home(data_dir: Path) -> Path:
    """``$DAGSTER_HOME``, or ``<data_dir>/.dagster`` created whole, with telemetry off.

    The default home is built in a staging folder beside it and renamed into place, so a run
    killed while Dagster creates its SQLite databases leaves no half-made instance behind
    (the next run removes the staging folder and starts again). Call under the folder lock.
    """
    explicit = os.environ.get("DAGSTER_HOME")
    home = Path(explicit) if explicit else data_dir / ".dagster"
    if not explicit and not home.is_dir():
        _create_home(home)
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _create_home(home: Path) -> None:
    for stale in home.parent.glob(f"{home.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{home.name}.partial-", dir=home.parent))
    (staging / "dagster.yaml").write_text(INSTANCE_YAML)
    with dg.DagsterInstance.from_config(str(staging)) as instance:  # creates every storage's database
        instance.get_runs(limit=1)
        instance.get_dynamic_partitions("bigmap_instance_check")
        instance.all_instigator_state()
    os.rename(staging, home)


def materialize_all(data_dir: Path, *, instance: dg.DagsterInstance | None = None,
                    log: Callable[[str], None] = lambda line: None, every_partition: bool = False,
                    processes: int | None = None) -> Report:
    """Run every technique job over the sample folders whose partition changed (``unchanged``; all of
    them with ``every_partition``), one run per range of consecutive partitions, then the summary job;
    print row counts.

    ``processes`` (default ``partitions.workers()``) share the partitions of a technique
    (``partitions.shares``); an ephemeral ``instance`` keeps them all in this process.
    Waits for a ``materialize`` already running on the same folder, and starts by removing
    temp files that a killed run left in the warehouse.
    """
    data_dir = Path(data_dir).resolve()
    processes = partitions.workers() if processes is None else processes
    with data_folder_lock(data_dir, log):
        for path in catalog.remove_stale_temp_files(data_dir / "warehouse"):
            log(f"removed {path} (left by an interrupted run)")
        if instance is not None:
            return _run_jobs(data_dir, instance, log, every_partition, 1 if instance.is_ephemeral else processes)
        with event_log.bulk_instance(ensure_dagster_home(data_dir)) as instance:
            return _run_jobs(data_dir, instance, log, every_partition, processes)


def _run_jobs(data_dir: Path, instance: dg.DagsterInstance, log: Callable[[str], None],
              every_partition: bool, processes: int) -> Report:
    from ..definitions import build_defs

    defs = build_defs(str(data_dir))
    report = Report()
    job_names = {j.name for j in defs.jobs}
    warehouse = WarehouseResource(data_dir=str(data_dir))
    _sync_sample_sets(instance, warehouse, log)
    changed: dict[str, set[str]] = {"cycling": set()}
    for technique in TECHNIQUES:
        if f"{technique}_job" not in job_names:
            continue
        sample_ids, refused = sample_folders(data_dir, technique)
        report.refused += [f"{i.path}: {i.reason}" for i in refused]
        instance.add_dynamic_partitions(sample_set(technique).name, sample_ids)
        job = defs.resolve_job_def(f"{technique}_job")
        wanted = sample_ids if every_partition else changed_samples(warehouse, technique, sample_ids, changed["cycling"])
        changed[technique] = set(wanted)
        if len(wanted) < len(sample_ids):
            log(f"{technique}: {len(sample_ids) - len(wanted)} of {len(sample_ids)} partitions unchanged, left as they are")
        shares = partitions.shares(instance, technique, set(wanted), processes)
        if len(shares) > 1:
            log(f"{technique}: {len(wanted)} partitions shared by {len(shares)} processes")
        _run_shares(data_dir, job, instance, technique, shares, report, log)
    summary = defs.resolve_job_def("summary_job").execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET,
                                                                     tags={"bigmap/launched_by": "bigmap materialize"})
    _record(report, log, "summary_job", "", summary.success)
    for line in report.refused:
        log(f"refused {line}")
    for evaluation in summary.get_asset_check_evaluations():
        if evaluation.check_name == "every_raw_file_accounted_for":
            report.unaccounted = evaluation.metadata["files"].value
            log("every raw file is ingested or has an ingest issue" if evaluation.passed else
                f"{evaluation.metadata['unaccounted_files'].value} raw file(s) neither ingested nor in ingest_issues: "
                f"{', '.join(report.unaccounted)}")
    _print_counts(data_dir / "warehouse", log)
    return report


def _run_shares(data_dir: Path, job: dg.JobDefinition, instance: dg.DagsterInstance, technique: str,
                shares: list[list[tuple[str, str]]], report: Report, log: Callable[[str], None]) -> None:
    """The first share in this process, each other one in a worker process started afresh (``spawn``: no
    thread or open database of this one carried over), all at once. A worker that dies has its share run here."""
    if len(shares) <= 1:
        for first, last in (shares[0] if shares else []):
            _run_range(job, instance, technique, first, last, report, log)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(len(shares) - 1, mp_context=context) as pool:
        futures = [pool.submit(_run_share_apart, str(data_dir), instance.get_ref(), technique, share)
                   for share in shares[1:]]
        for first, last in shares[0]:
            _run_range(job, instance, technique, first, last, report, log)
        for future, share in zip(futures, shares[1:]):
            try:
                runs, lines = future.result()
            except Exception as exc:  # noqa: BLE001 - the worker died (killed, out of memory): its share is run here
                log(f"a worker process ended without finishing ({type(exc).__name__}: {exc}); running its partitions here")
                for first, last in share:
                    _run_range(job, instance, technique, first, last, report, log)
                continue
            for line in lines:
                log(line)
            report.runs += runs


def _run_share_apart(data_dir: str, instance_ref, technique: str, share: list[tuple[str, str]]) -> tuple[list, list[str]]:
    """In a worker process: ``share``'s ranges of ``technique`` partitions, recorded in the instance of
    ``instance_ref``; returns the runs (job, partitions, success) and the lines to log."""
    from ..definitions import build_defs

    keep_freed_memory()
    warnings.simplefilter("ignore")
    report, lines = Report(), []
    job = build_defs(data_dir).resolve_job_def(f"{technique}_job")
    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        for first, last in share:
            _run_range(job, instance, technique, first, last, report, lines.append)
    return report.runs, lines


def _run_range(job: dg.JobDefinition, instance: dg.DagsterInstance, technique: str, first: str, last: str,
               report: Report, log: Callable[[str], None]) -> None:
    """One run over the ``technique`` partitions from ``first`` to ``last`` (one partition: a run of its
    own, as the sensor launches); when a run over several fails, each of them alone, to single out the failure."""
    tags = {"bigmap/technique": technique, "bigmap/launched_by": "bigmap materialize"}
    if first != last:
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=QUIET,
                                        tags=range_tags(technique, first, last) | tags)
        _record(report, log, job.name, f"{partition_key(first, technique)}...{partition_key(last, technique)}",
                result.success)
        if result.success:
            return
        log(f"running the {technique} partitions one by one to single out the failure")
    samples = instance.get_dynamic_partitions(sample_set(technique).name)
    for sample_id in samples[samples.index(first):samples.index(last) + 1]:
        key = partition_key(sample_id, technique)
        result = job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False, run_config=QUIET,
                                        tags=tags)
        _record(report, log, job.name, str(key), result.success)


def _record(report: Report, log: Callable[[str], None], job: str, partitions: str, success: bool) -> None:
    report.runs.append((job, partitions, success))
    log(f"{'ok    ' if success else 'FAILED'} {job} {partitions}")


def _sync_sample_sets(instance: dg.DagsterInstance, warehouse: WarehouseResource, log: Callable[[str], None]) -> None:
    """Move an old instance's single sample set (see ``partitions``), and drop the samples whose folder is gone
    (rows retracted), as the sensor does."""
    lake = warehouse.lake
    partitions.apply(instance, partitions.legacy_moves(
        instance, warehouse.root, has_rows=lambda t, s: bool(lake.part_count("raw_files", {"technique": t, "sample_id": s}))))
    for technique, sample_ids in removed(warehouse, {t: registered(instance, t) for t in TECHNIQUES}).items():
        for sample_id in sample_ids:
            retract(warehouse, technique, sample_id)
            instance.delete_dynamic_partition(sample_set(technique).name, sample_id)
            log(f"removed {sample_id}|{technique}: raw/{technique}/{sample_id} is gone, its rows retracted")


def _print_counts(warehouse: Path, log: Callable[[str], None]) -> None:
    location = storage.lake_location(warehouse.parent)
    if not storage.is_remote(location):  # on object storage, views over the Delta tables (object_catalog)
        try:
            path = catalog.refresh(warehouse, warn=log, gather=True)
        except (OSError, duckdb.Error) as exc:  # a full disk, say: the previous catalog stays in place
            log(f"catalog not published: {str(exc).splitlines()[0]}")
            return
    log(f"warehouse: {location}")
    if not storage.is_remote(location):
        log(f"catalog:   {path}  (query with: bigmap sql \"SELECT ...\")")
    con = catalog.connect(warehouse)
    for table in SUMMARY_TABLES:
        try:
            n = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        except duckdb.CatalogException:  # a technique not part of this build
            continue
        log(f"  {table:<22} {n:>10} rows")
    issues = con.execute("SELECT count(*) FROM ingest_issues WHERE severity = 'error'").fetchone()[0]
    if issues:
        log(f"{issues} file(s) could not be used: see `bigmap issues`")
