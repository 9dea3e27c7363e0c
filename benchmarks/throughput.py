"""Throughput of many small partitions, serially and in parallel, and the sensor's latency.

    python benchmarks/throughput.py [--partitions 200] [--workers 2] [--rows 500] [--skip dask]

Makes ``--partitions`` small cells (one generated EC-Lab file cut to ``--rows`` data rows,
copied under new sample IDs) in a temporary folder, then materialises every ``cycling_job``
partition against a persistent SQLite instance, four ways, each over all the partitions,
printed side by side:

* serial: one process, ``execute_in_process`` (what ``bigmap materialize`` does);
* parallel runs: ``--workers`` processes each running whole partitions in process (what the
  run queue does with ``max_concurrent_runs``);
* multiprocess executor: ``--workers`` processes each launching runs with ``execute_job`` and
  Dagster's multiprocess executor (each step in a subprocess forked from a forkserver that has
  the project preloaded);
* Dask executor: the same, with dagster-dask's executor on one ``distributed.LocalCluster`` of
  ``--workers`` worker processes shared by every run.

The load average before and after is printed: the machine may be shared.

The sensor latency is measured without the daemon's waits: a file lands, one sensor tick,
the requested run, then a DuckDB query sees the rows. The daemon adds up to the sensor's
``minimum_interval_seconds`` and the resource's ``settle_seconds`` on top (printed).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

warnings.filterwarnings("ignore")

import dagster as dg  # noqa: E402

from bigmap_assets.definitions import build_defs  # noqa: E402
from bigmap_assets.defs.jobs import forkserver_run_config, reconstructable_job_on_executor  # noqa: E402
from bigmap_assets.defs.resources import WarehouseResource  # noqa: E402
from bigmap_assets.simulate import cycling as cycling_generator  # noqa: E402
from bigmap_assets.simulate import registry as registry_generator  # noqa: E402
from bigmap_assets.warehouse import catalog  # noqa: E402

TEMPLATE_CELL = "LNO-REF-A-02"
QUIET = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def small_cells(root: Path, count: int, rows: int) -> list[str]:
    """``count`` cells, each one EC-Lab file cut to its header plus ``rows`` data rows."""
    registry_generator.generate(root)
    source_root = root / "template"
    cycling_generator.generate(source_root, seed=0)
    lines = next((source_root / "raw" / "cycling" / TEMPLATE_CELL).glob("*_C01.mpt")).read_text(encoding="latin-1").splitlines(True)
    header = int(lines[1].split(":")[1])
    text = "".join(lines[: header + rows])
    shutil.rmtree(source_root)
    ids = [f"BENCH-{i:04d}" for i in range(count)]
    past = time.time() - 600
    for sample_id in ids:
        path = root / "raw" / "cycling" / sample_id / f"{sample_id}_C01.mpt"
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="latin-1")
        os.utime(path, (past, past))
    return ids


def fresh_copy(source: Path, target: Path, home: Path, ids: list[str]) -> Path:
    shutil.copytree(source, target / "data", copy_function=shutil.copy2)
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("cycling_samples", ids)
    return target / "data"


def run_chunk(data_dir: str, home: str, keys: list[str], executor: str, run_config: dict) -> int:
    """Materialise ``keys`` one after the other from this process; returns how many runs succeeded.

    ``executor`` "in_process" runs each partition with ``execute_in_process``; "multiprocess" or
    "dask" launch it with ``execute_job`` through that executor.
    """
    with dg.DagsterInstance.from_config(home) as instance:
        if executor == "in_process":
            job = build_defs(data_dir).resolve_job_def("cycling_job")
            return sum(job.execute_in_process(partition_key=k, instance=instance, run_config=QUIET,
                                              raise_on_error=False).success for k in keys)
        job = reconstructable_job_on_executor(data_dir, "cycling_job", executor)
        done = 0
        for key in keys:
            with dg.execute_job(job, instance, run_config={**run_config, **QUIET},
                                tags={"dagster/partition": key}) as result:
                done += result.success
        return done


def run_from_processes(data_dir: Path, home: Path, keys: list[str], workers: int, executor: str,
                       run_config: dict | None = None) -> int:
    """``keys`` split over ``workers`` launching processes (spawned: runs launched from threads of one
    process deadlocked), each running its share with ``run_chunk``."""
    chunks = [keys[i::workers] for i in range(workers)]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return sum(pool.map(run_chunk, [str(data_dir)] * workers, [str(home)] * workers, chunks,
                            [executor] * workers, [run_config or {}] * workers))


def sensor_latency(data_dir: Path, home: Path, template: Path) -> dict[str, float]:
    """Seconds from a file landing to its rows being queryable, without the daemon's waits."""
    defs = build_defs(str(data_dir))
    sensor = defs.resolve_sensor_def("raw_file_sensor")
    warehouse = WarehouseResource(data_dir=str(data_dir), settle_seconds=0)
    timings = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        cursor = sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse})).cursor
        landed = time.perf_counter()
        target = data_dir / "raw" / "cycling" / "BENCH-NEW" / "BENCH-NEW_C01.mpt"
        target.parent.mkdir(parents=True)
        shutil.copy(template, target)
        tick = sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse}))
        timings["sensor tick"] = time.perf_counter() - landed
        instance.add_dynamic_partitions("cycling_samples", tick.dynamic_partitions_requests[0].partition_keys)
        (request,) = tick.run_requests
        started = time.perf_counter()
        defs.resolve_job_def(request.job_name).execute_in_process(partition_key=request.partition_key,
                                                                  instance=instance, run_config=QUIET)
        timings["run"] = time.perf_counter() - started
        queried = time.perf_counter()
        rows = catalog.connect(data_dir / "warehouse").execute(
            "SELECT count(*) FROM cycling_timeseries WHERE sample_id = 'BENCH-NEW'").fetchone()[0]
        timings["query"] = time.perf_counter() - queried
        assert rows > 0
        timings["total"] = time.perf_counter() - landed
    sensor_def = defs.resolve_sensor_def("raw_file_sensor")
    timings["daemon adds up to"] = sensor_def.minimum_interval_seconds + WarehouseResource(data_dir=".").settle_seconds
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="launching processes (and Dask workers)")
    parser.add_argument("--rows", type=int, default=500, help="data rows per partition's file")
    parser.add_argument("--skip", action="append", default=[], choices=("serial", "parallel", "multiprocess", "dask"))
    args = parser.parse_args(argv)

    import distributed

    with tempfile.TemporaryDirectory(prefix="bigmap-throughput-") as tmp:
        tmp = Path(tmp)
        ids = small_cells(tmp / "source", args.partitions, args.rows)
        keys = [f"{s}|cycling" for s in ids]
        print(f"{len(keys)} partitions of {args.rows} rows, {args.workers} workers, {os.cpu_count()} cores, "
              f"load average {load_average()}")
        results = []

        def measure(name: str, run) -> None:
            if name in args.skip:
                return
            data_dir = fresh_copy(tmp / "source", tmp / name, tmp / name / "home", ids)
            home = tmp / name / "home"
            start = time.perf_counter()
            ok = run(data_dir, home)
            seconds = time.perf_counter() - start
            results.append((name, ok))
            print(f"  {name:<14} {ok:>4}/{len(keys)} ok  {seconds:8.1f} s  {len(keys) / seconds:6.2f} partitions/s"
                  f"  {seconds / len(keys):6.2f} s/partition", flush=True)

        measure("serial", lambda d, h: run_chunk(str(d), str(h), keys, "in_process", {}))
        measure("parallel", lambda d, h: run_from_processes(d, h, keys, args.workers, "in_process"))
        measure("multiprocess", lambda d, h: run_from_processes(d, h, keys, args.workers, "multiprocess",
                                                                forkserver_run_config()))
        if "dask" not in args.skip:
            with distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                          dashboard_address=None) as cluster:
                config = {"execution": {"config": {"cluster": {"existing": {"address": cluster.scheduler_address}}}}}
                measure("dask", lambda d, h: run_from_processes(d, h, keys, args.workers, "dask", config))

        data_dir = fresh_copy(tmp / "source", tmp / "latency", tmp / "latency" / "home", ids[:1])
        template = tmp / "source" / "raw" / "cycling" / ids[0] / f"{ids[0]}_C01.mpt"
        latency = sensor_latency(data_dir, tmp / "latency" / "home", template)
        print("sensor latency, file landed -> rows queryable: " +
              ", ".join(f"{k} {v:.2f} s" for k, v in latency.items()))
        print(f"load average {load_average()}")
    return 0 if all(ok == len(keys) for _, ok in results) else 1


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1, 5, 15 min)"


if __name__ == "__main__":
    sys.exit(main())
