"""Queries over a fleet-sized warehouse: 1,000 cells x 100 k rows through ``bigmap sql`` and ``catalog.query``.

    python benchmarks/query_scale.py [--cells 1000] [--rows 100000] [--work-dir /tmp/bigmap-query-scale]
                                     [--workers 2] [--repeat 3] [--baseline SRC] [--rebuild] [--delete]

Builds the warehouse under ``--work-dir`` (outside the repository; reused by later runs with
the same ``--cells`` and ``--rows``, ``--rebuild`` makes it again, ``--delete`` removes it at
the end). Each cell is a simulated BIG-MAP protocol (``simulate.cycling``: formation,
check-ups, ageing to 80 % SoH), its recorded points interpolated to exactly ``--rows`` points,
and run through the pipeline's own code without Dagster:
as the EC-Lab reader's canonical table (no ``.mpt`` is written: the lake is what is measured),
``ingest.cycling.ingest_timeseries`` into the lake (``cycling_timeseries``
as a run stores it), ``raw_files`` and ``ingest_issues`` as a run records them, cycles from
``science.cycling.iter_cycles``, SoH from ``science.soh``; then the fleet's ``samples``,
``cycling_series`` and ``sample_overview``. ``--workers`` processes build the cells. ``catalog.refresh`` then publishes
the catalog.

Every query of the README's bash blocks (``bigmap sql ...``), the query of its Python block
(over ``catalog.duckdb``) and full time-series aggregates are then timed, best and median of
``--repeat``:

- CLI: ``bigmap sql QUERY --data-dir DIR`` in a new process each time (interpreter start,
  imports, the connection's views, the query, the output), with the process's peak RSS (counted by GNU
  ``time`` when ``/usr/bin/time`` exists);
- in process, in a child process whose peak RSS is reported: the first ``catalog.connect``
  (no ``catalog.json`` yet), ``catalog.refresh`` twice (the second finds ``catalog.json``), then
  ``catalog.connect`` (every view; timed once per round) and ``catalog.query``;
- catalog file: ``duckdb.connect(catalog.duckdb, read_only=True)`` and the query, as the
  README's Python block does.

``--baseline SRC`` times another version's ``bigmap_assets`` (``SRC/bigmap_assets``, e.g.
``git archive main bigmap_assets | tar -x -C SRC``) in turns with this one, over the same lake
(its own catalog under ``--work-dir/baseline``).

The part files of every table (per partition: min, median, max; and in total) and the load
average before and after are printed: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from targets import record

REPO = Path(__file__).resolve().parents[1]
BIGMAP = Path(sys.executable).with_name("bigmap")
GNU_TIME = "/usr/bin/time" if Path("/usr/bin/time").is_file() else None  # counts a CLI process's peak memory
SUMMARY_TARGET_SECOND = 0.5
TIMESERIES_TARGET_SECOND = 10.0
SERIES_CODES = {"REF": "no LiTDI", "LTD": "dried LiTDI", "LTW": "non-dried LiTDI"}
BATCHES_PER_PROVIDER = 5
BUILD_STATE = "build.json"


# --- the warehouse -------------------------------------------------------------------------------

def fleet(cells: int) -> list:
    """``cells`` registry samples: three series x two providers x five batches, masses 9.5-10.7 mg."""
    from bigmap_assets.simulate.samples import PROVIDERS, Sample

    samples = []
    for index in range(cells):
        code = list(SERIES_CODES)[index % 3]
        provider_code = "AB"[(index // 3) % 2]
        provider = PROVIDERS[provider_code]
        samples.append(Sample(
            sample_id=f"FLEET-{code}-{provider_code}-{index:04d}", provider=provider["name"],
            batch=f"{provider['batch']}-{index // 6 % BATCHES_PER_PROVIDER}", series=SERIES_CODES[code],
            chemistry="LiNiO2||graphite", active_mass_mg=round(9.5 + 1.2 * ((index * 7919) % 1000) / 1000, 2),
            timezone=provider["timezone"], role="ageing"))
    return samples


def densified(arrays: dict, rows: int) -> dict:
    """The simulated recording with points inserted between recorded ones, ``rows`` points in all.

    Inserted points take the time and voltage interpolated linearly, and the current, step and
    control mode of the recorded point that ends their interval; the interval's charge is shared
    equally among them, so capacities and cycles are those of the recording.
    """
    import numpy as np

    n = arrays["time_s"].size
    extra = rows - n
    if extra < 0:
        raise ValueError(f"the simulated cell has {n} points, more than --rows {rows}")
    counts = np.full(n - 1, extra // (n - 1) + 1)
    counts[: extra % (n - 1)] += 1
    end = np.repeat(np.arange(1, n), counts)
    start = end - 1
    share = np.repeat(counts, counts)
    position = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1
    fraction = position / share

    def interpolated(name):
        return arrays[name][start] + fraction * (arrays[name][end] - arrays[name][start])

    inserted = {"time_s": interpolated("time_s"), "voltage": interpolated("voltage"),
                "current_a": arrays["current_a"][end], "dq_mah": arrays["dq_mah"][end] / share,
                "step_id": arrays["step_id"][end], "mode": arrays["mode"][end]}
    return {name: np.concatenate([arrays[name][:1], values]) for name, values in inserted.items()}


def reader_table(sample, points: dict, start_local) -> tuple:
    """The cell's points as the EC-Lab reader's canonical table (metadata attached, provenance stamped),
    and its ``raw_files`` entry; no file is written (the lake is what is measured)."""
    import datetime as dt
    import hashlib

    import numpy as np
    import pyarrow as pa

    from bigmap_assets.readers import attach_metadata
    from bigmap_assets.schemas.cycling import READER_COLUMNS
    from bigmap_assets.warehouse.provenance import code_version, stamp

    rel = f"raw/cycling/{sample.sample_id}/{sample.sample_id}_C01.mpt"
    digest = hashlib.sha256()
    for values in points.values():
        digest.update(np.ascontiguousarray(values).tobytes() if values.dtype != object else str(values).encode())
    dq_ah = points["dq_mah"] / 1000
    table = pa.table({
        "test_time_second": points["time_s"], "voltage_volt": points["voltage"], "current_ampere": points["current_a"],
        "step_id": points["step_id"].astype(np.int64), "control_mode": pa.array(points["mode"].tolist(), pa.string()),
        "vendor_cycle_number": pa.nulls(len(dq_ah), pa.int64()),
        "charging_capacity_ah": np.cumsum(np.where(dq_ah > 0, dq_ah, 0.0)),
        "discharging_capacity_ah": np.cumsum(np.where(dq_ah < 0, -dq_ah, 0.0)),
        "temperature_celsius": pa.nulls(len(dq_ah), pa.float64()),
    }, schema=pa.schema([(c.name, c.type) for c in READER_COLUMNS]))
    metadata = {"format": "eclab_mpt", "technique": "cycling", "measurement_kind": "cycling", "instrument": "VMP3",
                "start_time_local": start_local.isoformat(timespec="milliseconds"), "techniques": ["GCPL"],
                "source_file": rel, "warnings": []}
    table = stamp(attach_metadata(table, metadata), rel, digest.hexdigest())
    entry = {"path": rel, "technique": "cycling", "sample_id": sample.sample_id, "size_byte": table.nbytes,
             "modified_time": dt.datetime.now(dt.timezone.utc), "code_version": code_version(),
             "sha256": digest.hexdigest(), "reader": "eclab_mpt", "row_count": table.num_rows, "status": "ok"}
    return table, metadata, entry


def build_cells(data_dir: str, samples: list, first_index: int, rows: int) -> int:
    """Simulate, ingest and summarise ``samples`` as a run does (no Dagster); returns rows stored."""
    import datetime as dt

    import numpy as np
    import pyarrow as pa

    from bigmap_assets.ingest.cycling import CyclingSource, ingest_timeseries
    from bigmap_assets.ingest.admission import inventory_table, issues_table
    from bigmap_assets.science.cycling import SUMMARY_COLUMNS, iter_cycles
    from bigmap_assets.science.soh import SOH_COLUMNS, attach_registry, state_of_health
    from bigmap_assets.simulate.cycling import FIRST_START_LOCAL, make_cell, run_protocol
    from bigmap_assets.warehouse.lake import Lake
    from bigmap_assets.warehouse.provenance import code_version

    lake = Lake(Path(data_dir) / "warehouse" / "lake")
    version = code_version()

    def stamped(table: pa.Table) -> pa.Table:
        column = pa.array([version] * table.num_rows, pa.string())
        return table.set_column(table.column_names.index("code_version"), "code_version", column)

    stored = 0
    for offset, sample in enumerate(samples):
        index = first_index + offset
        rng = np.random.default_rng([15, index])
        cell = make_cell(sample, rng)
        points = densified(run_protocol(cell, rng)[0], rows)
        table, metadata, entry = reader_table(sample, points, FIRST_START_LOCAL + dt.timedelta(hours=index))
        source = CyclingSource(entry["path"], Path(data_dir) / entry["path"], entry["size_byte"], entry["sha256"],
                               metadata, table)
        report = ingest_timeseries(lake, [source], sample_id=sample.sample_id, timezone=sample.timezone)
        partition = {"sample_id": sample.sample_id}
        lake.write("raw_files", inventory_table([entry]), {"technique": "cycling", **partition})
        lake.write("ingest_issues", issues_table([]), {"technique": "cycling", **partition})
        pieces = lake.iter_tables("cycling_timeseries", partition, columns=list(SUMMARY_COLUMNS))
        cycles = iter_cycles(pieces, active_mass_g=sample.active_mass_mg / 1000)
        lake.write_tables("cycling_cycles", (stamped(c) for c in cycles), partition)
        cycles = lake.read("cycling_cycles", partition, columns=list(SOH_COLUMNS))
        soh = attach_registry(state_of_health(cycles), {"series": sample.series, "provider": sample.provider,
                                                       "batch": sample.batch})
        lake.write("cycling_soh", stamped(soh), partition)
        stored += report.rows
    return stored


def build(data_dir: Path, cells: int, rows: int, workers: int) -> dict:
    """The whole warehouse under ``data_dir``: cells in ``workers`` processes, then the fleet's tables."""
    from dataclasses import asdict

    import pyarrow as pa

    from bigmap_assets.schemas import TABLES
    from bigmap_assets.science.overview import sample_overview
    from bigmap_assets.science.soh import series_statistics
    from bigmap_assets.warehouse.lake import Lake
    from bigmap_assets.warehouse.provenance import code_version

    shutil.rmtree(data_dir, ignore_errors=True)
    samples = fleet(cells)
    started = time.perf_counter()
    chunk = 10
    with ProcessPoolExecutor(workers) as pool:
        jobs = [pool.submit(build_cells, str(data_dir), samples[i:i + chunk], i, rows)
                for i in range(0, cells, chunk)]
        stored = 0
        for done, job in enumerate(jobs, 1):
            stored += job.result()
            if done % 10 == 0 or done == len(jobs):
                seconds = time.perf_counter() - started
                print(f"  {min(done * chunk, cells):,} cells, {stored:,} rows in {seconds:.0f} s", flush=True)
    cell_seconds = time.perf_counter() - started
    lake = Lake(data_dir / "warehouse" / "lake")
    version = code_version()
    registry = TABLES["samples"].conform(pa.Table.from_pylist(
        [{**asdict(s), "code_version": version} for s in samples]))
    lake.write("samples", registry)
    soh = lake.read_every("cycling_soh")
    series = series_statistics(soh)
    lake.write("cycling_series", series.set_column(series.column_names.index("code_version"), "code_version",
                                                   pa.array([version] * series.num_rows, pa.string())))
    lake.write("sample_overview", sample_overview(registry, raw_files=lake.read_every("raw_files"),
                                                  cycling_cycles=lake.read_every("cycling_cycles"), cycling_soh=soh))
    return {"cells": cells, "rows": rows, "stored_rows": stored, "cell_seconds": round(cell_seconds, 1),
            "seconds": round(time.perf_counter() - started, 1), "workers": workers}


# --- the queries ----------------------------------------------------------------------------------

def readme_queries() -> tuple[list[list[str]], list[str]]:
    """The README's ``bigmap sql`` commands (argument lists after ``bigmap sql``) and its Python block's queries."""
    text = (REPO / "README.md").read_text()
    blocks = re.findall(r"^```(\w+)\n(.*?)^```", text, re.S | re.M)
    commands, pending = [], ""
    for line in (line for lang, body in blocks if lang == "bash" for line in body.splitlines()):
        pending = f"{pending}\n{line}" if pending else line
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        pending = ""
        if words[:2] == ["bigmap", "sql"]:
            commands.append(words[2:])
    python = [body for lang, body in blocks if lang == "python" and "catalog.duckdb" in body]
    snippets = [q for body in python for q in re.findall(r'con\.sql\("""(.*?)"""\)', body, re.S)]
    return commands, snippets


def timeseries_queries(sample_id: str) -> dict[str, str]:
    """Aggregates over the whole time series, and one cell's."""
    return {
        "per cell: points, max voltage, charge passed": (
            "SELECT sample_id, count(*) AS points, max(voltage_volt) AS max_voltage_volt, "
            "max(charging_capacity_ah) AS charge_ah FROM cycling_timeseries GROUP BY sample_id ORDER BY sample_id"),
        "per step type: points, mean voltage, mean |current|": (
            "SELECT step_type, count(*) AS points, avg(voltage_volt) AS mean_voltage_volt, "
            "avg(abs(current_ampere)) AS mean_current_ampere FROM cycling_timeseries GROUP BY step_type ORDER BY 1"),
        "rows of the time series": "SELECT count(*) FROM cycling_timeseries",
        "one cell, per cycle": (
            "SELECT cycle_count, max(voltage_volt) AS max_voltage_volt, min(voltage_volt) AS min_voltage_volt "
            f"FROM cycling_timeseries WHERE sample_id = '{sample_id}' GROUP BY cycle_count ORDER BY 1"),
    }


def cli_seconds(args: list[str], data_dir: Path, code: Path | None = None) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, lines of output) of one ``bigmap sql`` process (``code``: another source tree)."""
    env = {k: v for k, v in os.environ.items() if k not in ("BIGMAP_LAKE", "BIGMAP_DATA_DIR", "PYTHONPATH")}
    env |= {"PYTHONPATH": str(code)} if code else {}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as peak:
        # the peak is counted by GNU time, started small: a process started straight from this one would
        # count this one's own peak too (Linux charges the launching process's size to its exec)
        timer = [GNU_TIME, "-f", "%M", "-o", peak.name] if GNU_TIME else []
        started = time.perf_counter()
        process = subprocess.Popen([*timer, str(BIGMAP), "sql", *args, "--data-dir", str(data_dir)], env=env,
                                   stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode:
            raise RuntimeError(f"bigmap sql {args[0]!r} failed: {err.read().decode().strip()}")
        lines = out.read().count(b"\n")
        kib = float(peak.read().split()[-1]) if GNU_TIME else float("nan")
    return seconds, kib / 1024, lines


def in_process(data_dir: str, queries: list[str], repeat: int) -> dict:
    """In a child: the first ``catalog.connect`` (no ``catalog.json``), ``catalog.refresh``, then ``repeat`` rounds of
    ``catalog.connect`` and ``catalog.query``, and of queries over ``catalog.duckdb``; seconds, and the peak RSS."""
    import resource

    import duckdb

    from bigmap_assets.warehouse import catalog

    warehouse = Path(data_dir) / "warehouse"
    (warehouse / "catalog.json").unlink(missing_ok=True)
    started = time.perf_counter()
    catalog.connect(warehouse).close()
    first_connect = time.perf_counter() - started
    started = time.perf_counter()
    catalog.refresh(warehouse)
    refresh = time.perf_counter() - started
    started = time.perf_counter()
    catalog.refresh(warehouse)  # as after a run that wrote a few partitions: nothing changed since the last
    refresh_again = time.perf_counter() - started
    connect, runs, file_runs = [], {q: [] for q in queries}, {q: [] for q in queries}
    for _ in range(repeat):
        started = time.perf_counter()
        con = catalog.connect(warehouse)
        connect.append(time.perf_counter() - started)
        for query in queries:
            started = time.perf_counter()
            catalog.query(con, query)
            runs[query].append(time.perf_counter() - started)
        con.close()
        for query in queries:
            started = time.perf_counter()
            con = duckdb.connect(str(warehouse / catalog.CATALOG_NAME), read_only=True)
            con.sql(query).fetchall()
            con.close()
            file_runs[query].append(time.perf_counter() - started)
    return {"first_connect": first_connect, "refresh": refresh, "refresh_again": refresh_again, "connect": connect, "query": runs,
            "catalog_file": file_runs, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_in_process(work_dir: Path, data_dir: Path, queries: list[str], repeat: int, code: Path | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("BIGMAP_LAKE", "BIGMAP_DATA_DIR", "PYTHONPATH")}
    env |= {"PYTHONPATH": str(code)} if code else {}
    child = subprocess.run([sys.executable, __file__, "--work-dir", str(work_dir), "--repeat", str(repeat),
                            "--in-process", json.dumps({"data_dir": str(data_dir), "queries": queries})],
                           capture_output=True, text=True, env=env)
    if child.returncode:
        raise RuntimeError(child.stderr[-2000:])
    return json.loads(child.stdout)


def baseline_folder(work_dir: Path, data_dir: Path) -> Path:
    """A data folder for the baseline code: its own catalog, the same lake (a link)."""
    folder = work_dir / "baseline" / "data"
    shutil.rmtree(folder.parent, ignore_errors=True)
    (folder / "warehouse").mkdir(parents=True)
    (folder / "warehouse" / "lake").symlink_to(data_dir / "warehouse" / "lake")
    return folder


def part_counts(lake_root: Path) -> dict[str, list[int]]:
    """Part files per partition, per table."""
    from bigmap_assets.schemas import TABLES
    from bigmap_assets.warehouse.lake import Lake

    lake = Lake(lake_root)
    counts = {}
    for name, table in TABLES.items():
        partitions = lake.partitions(name) if table.partitioned_by else ([{}] if lake.parts(name) else [])
        if partitions:
            counts[name] = [lake.part_count(name, p or None) for p in partitions]
    return counts


def summary(values: list[float]) -> str:
    return f"{min(values):6.2f} {statistics.median(values):6.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--rows", type=int, default=100_000, help="points per cell")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bigmap-query-scale"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", type=Path,
                        help="a source tree holding another bigmap_assets (e.g. `git archive main` unpacked): "
                             "timed in turns with this one over the same lake")
    parser.add_argument("--rebuild", action="store_true", help="build the warehouse again even if it exists")
    parser.add_argument("--delete", action="store_true", help="remove the work folder at the end")
    parser.add_argument("--in-process", help=argparse.SUPPRESS)  # the child that times catalog.query
    args = parser.parse_args()
    if args.in_process:
        job = json.loads(args.in_process)
        print(json.dumps(in_process(job["data_dir"], job["queries"], args.repeat)))
        return 0

    data_dir = args.work_dir / "data"
    state_file = args.work_dir / BUILD_STATE
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} cores")
    state = json.loads(state_file.read_text()) if state_file.is_file() else {}
    if args.rebuild or (state.get("cells"), state.get("rows")) != (args.cells, args.rows):
        print(f"building {args.cells:,} cells x {args.rows:,} rows under {data_dir} ({args.workers} workers)")
        state = build(data_dir, args.cells, args.rows, args.workers)
        state_file.write_text(json.dumps(state))
    print(f"warehouse: {state['cells']:,} cells, {state['stored_rows']:,} rows in cycling_timeseries "
          f"(built in {state['seconds']} s, {state['workers']} workers)")

    counts = part_counts(data_dir / "warehouse" / "lake")
    print("\npart files per partition (min / median / max) and in total:")
    for name, per in sorted(counts.items()):
        print(f"  {name:22s} {len(per):5,} partitions  {min(per)} / {statistics.median(per):g} / {max(per)}  "
              f"total {sum(per):,}")
    print(f"  all tables: {sum(sum(per) for per in counts.values()):,} part files")

    commands, snippets = readme_queries()
    timed = [(c, SUMMARY_TARGET_SECOND) for c in commands]
    timed += [([q, "--format", "csv"], TIMESERIES_TARGET_SECOND) for q in timeseries_queries(fleet(1)[0].sample_id).values()]
    queries = [c[0] for c, _ in timed] + snippets
    codes = {"this": (None, data_dir)}
    if args.baseline:
        codes["baseline"] = (args.baseline.resolve(), baseline_folder(args.work_dir, data_dir))
    inner = {name: run_in_process(args.work_dir, folder, queries, args.repeat, code)
             for name, (code, folder) in codes.items()}
    for name, result in inner.items():
        print(f"\n{name} code, in process: first catalog.connect (no catalog.json) {result['first_connect']:.2f} s, "
              f"catalog.refresh {result['refresh']:.2f} s, again {result['refresh_again']:.2f} s, "
              f"catalog.connect best / median {summary(result['connect'])} s; "
              f"peak RSS {result['peak_mib']:.0f} MiB")

    names = list(codes)
    print(f"\nseconds, best and median of {args.repeat} (CLI: `bigmap sql` process, new each time, codes in turns; "
          "in process: catalog.query on a connection made beforehand; file: a query over catalog.duckdb, connect included)")
    print(f"{'query':60s} {'target':>6s} | " + " | ".join(
        f"{n} CLI   best median  MiB | {n} in-proc  file" for n in names))
    slowest: dict[float, tuple[float, str]] = {}  # target -> (median seconds, query) of the slowest query
    for command, target in timed:
        runs = {n: [] for n in names}
        for _ in range(args.repeat):
            for name, (code, folder) in codes.items():
                runs[name].append(cli_seconds(command, folder, code))
        median = statistics.median(r[0] for r in runs["this"])
        slowest[target] = max(slowest.get(target, (0.0, "")), (median, " ".join(command[0].split())))
        cells = []
        for name in names:
            seconds = [r[0] for r in runs[name]]
            cells.append(f"{'':{len(name) + 4}s}{summary(seconds)} {max(r[1] for r in runs[name]):4.0f} | "
                         f"{'':{len(name)}s} {min(inner[name]['query'][command[0]]):7.3f} "
                         f"{min(inner[name]['catalog_file'][command[0]]):5.2f}")
        print(f"{' '.join(command[0].split())[:60]:60s} {target:5.1f}s | " + " | ".join(cells))
    for snippet in snippets:
        cells = [f"{'':{len(n) + 4}s}{'':18s} | {'':{len(n)}s} {min(inner[n]['query'][snippet]):7.3f} "
                 f"{min(inner[n]['catalog_file'][snippet]):5.2f}" for n in names]
        print(f"{'README python: ' + ' '.join(snippet.split())[:45]:60s} {SUMMARY_TARGET_SECOND:5.1f}s | "
              + " | ".join(cells))
    for target, (seconds, query) in slowest.items():
        kind = "summary query" if target == SUMMARY_TARGET_SECOND else "time-series aggregate"
        record(f"slowest {kind} over {state['stored_rows']:,} rows (bigmap sql, median of {args.repeat})", seconds,
               target, "s", note=query[:70])
    print(f"\nload average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    if args.delete:
        shutil.rmtree(args.work_dir, ignore_errors=True)
        print(f"removed {args.work_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
