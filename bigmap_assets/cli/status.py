"""``bigmap status``: last runs, stale partitions, open ingest issues, unaccounted raw files and
unregistered samples of a data folder."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from tabulate import tabulate

from ..ingest.accounting import unaccounted_files, unregistered_samples
from ..warehouse import catalog, storage
from ..warehouse.lake import Lake
from .core import data_dir_arg, existing_data_folder

RECENT_RUNS = 10
LISTED_ISSUES = 20


def register(subparsers) -> None:
    p = subparsers.add_parser("status", help="last runs, stale partitions, open ingest issues, unaccounted raw files",
                              description="Health of a data folder: the Dagster instance's last runs, the sample "
                                          "partitions whose raw files are newer than their tables, the files "
                                          "that could not be used, the raw files neither ingested nor explained "
                                          "by an issue, the samples missing from the registry, and any warehouse "
                                          "part that cannot be read. Exit 1 when a run failed, a partition is "
                                          "stale, a file is unused or unaccounted, or a part is unreadable.")
    data_dir_arg(p)
    p.add_argument("--runs", type=int, default=RECENT_RUNS, help=f"how many recent runs to list (default {RECENT_RUNS})")
    p.set_defaults(func=cmd_status)


def dagster_home_of(data_dir: Path) -> Path:
    """``$DAGSTER_HOME``, else ``<data_dir>/.dagster`` (where ``bigmap materialize`` records its runs)."""
    return Path(os.environ.get("DAGSTER_HOME") or data_dir / ".dagster")


def recent_runs(home: Path, limit: int) -> list[dict]:
    """The newest ``limit`` runs recorded in the instance at ``home`` (empty when there is none)."""
    if not (home / "dagster.yaml").is_file():
        return []
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.get_run_records(limit=limit)
    return [
        {
            "job": r.dagster_run.job_name,
            "partition": _partitions(r.dagster_run.tags),
            "status": r.dagster_run.status.value,
            "started_utc": _utc(r.start_time),
            "seconds": round(r.end_time - r.start_time, 1) if r.start_time and r.end_time else None,
            "run_id": r.dagster_run.run_id[:8],
        }
        for r in records
    ]


def _partitions(tags: dict) -> str:
    """The run's partition, or the first and last of its range (a run over many partitions)."""
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return f"{start} .. {end}" if start and end else tags.get("dagster/partition", "")


def open_issues(warehouse_dir: Path) -> list[tuple]:
    """``(technique, sample_id, path, reason)`` of every file the last runs could not use."""
    if not (warehouse_dir / "lake").is_dir() and not storage.is_remote(storage.lake_location(warehouse_dir.parent)):
        return []
    return catalog.connect(warehouse_dir).execute(
        "SELECT technique, sample_id, path, reason FROM ingest_issues WHERE severity = 'error' "
        "ORDER BY technique, sample_id, path").fetchall()


def _utc(seconds: float | None) -> str:
    return "" if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def cmd_status(args) -> int:
    from ..defs.freshness import stale_tables

    data_dir = existing_data_folder(args, holding=("raw", "registry", "warehouse"))
    home = dagster_home_of(data_dir)
    runs = recent_runs(home, args.runs)
    print(f"data folder: {data_dir}\nDagster instance: {home}")
    print(f"\nlast {len(runs)} run(s):")
    print(tabulate([r.values() for r in runs], headers=list(runs[0]) if runs else [], tablefmt="simple")
          if runs else "  none recorded")

    stale = stale_tables(data_dir)
    partitions = sorted({(s.technique, s.sample_id) for s in stale})
    print(f"\nstale partitions (raw files newer than their tables, or never built): {len(partitions)}")
    for technique, sample_id in partitions:
        rows = [s for s in stale if (s.technique, s.sample_id) == (technique, sample_id)]
        built = [s for s in rows if s.table_mtime_second is not None]
        why = f"{rows[0].newest_raw_file} is newer than {', '.join(s.table for s in built)}" if built else "never built"
        print(f"  {sample_id}|{technique}: {why}")

    issues = open_issues(data_dir / "warehouse")
    print(f"\nopen ingest issues: {len(issues)}")
    for technique, sample_id, path, reason in issues[:LISTED_ISSUES]:
        print(f"  {path}: {reason}")
    if len(issues) > LISTED_ISSUES:
        print(f"  ... and {len(issues) - LISTED_ISSUES} more: see `bigmap issues`")
    unaccounted = unaccounted_files(data_dir)
    print(f"\nunaccounted raw files (neither ingested nor in ingest_issues): {len(unaccounted)}")
    for path in unaccounted[:LISTED_ISSUES]:
        print(f"  {path}")
    if len(unaccounted) > LISTED_ISSUES:
        print(f"  ... and {len(unaccounted) - LISTED_ISSUES} more")

    unregistered = unregistered_samples(data_dir)
    print(f"\nsamples not in the registry (times assumed UTC unless a file states its zone, no active mass): "
          f"{len(unregistered)}")
    for sample_id, technique in unregistered:
        print(f"  {sample_id}|{technique}")

    broken = Lake(data_dir / "warehouse" / "lake", record_checks=False).broken_parts()
    print(f"\nunreadable warehouse parts (left out of queries; the next run rebuilds them): {len(broken)}")
    for part in broken:
        print(f"  {part}")
    failed = sum(r["status"] == "FAILURE" for r in runs)
    return 1 if failed or partitions or issues or unaccounted or broken else 0
