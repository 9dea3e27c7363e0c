"""The main job holds a bounded amount of a cell's time series: its memory does not grow with the file.

The job (the cycling job, then the summary job) runs in its own process over a cell of 11 MB
(77k rows) and, beside it, over one four times bigger, with 1,000-row batches so that both
files span many of them (and more than pyarrow's CSV read-ahead of 32 blocks). Each process
records, every 2 ms, the peak of Python objects alive since the last record (``tracemalloc``)
and the bytes held in Arrow buffers, and keeps each step's peak (between its start and end
events). Resident memory is too coarse for this: allocators keep pages, and it moves by tens
of MiB from run to run.

Measured: the archive step reading the time series whole would grow by 88 MiB of Arrow; holding
the per-cycle rows as Python objects (as it did) grew it by 4.2 MiB of Python and 3.6 MiB of Arrow.
The steps grow by 1.4 MiB at most (measured): the SoH step reads the cycle columns it needs
whole, and its plot's points are collected later.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "data" / "raw" / "cycling" / "LNO-LTD-B-02" / "LNO-LTD-B-02_C01.mpt"
BATCH_ROWS = 1_000
GROWTH_LIMIT_MIB = 2.0

JOB = """
import json, sys, threading, time, tracemalloc, warnings
warnings.simplefilter("ignore")
import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pathlib import Path
from bigmap_assets.ingest import cycling as cycling_ingest
from bigmap_assets.definitions import build_defs
from bigmap_assets.defs import cycling
from bigmap_assets.defs.partitions import partition_key, sample_set
from bigmap_assets.defs.resources import WarehouseResource
from bigmap_assets.science.cycling import _CycleTable

cycling_ingest.BATCH_ROWS = cycling.LAKE_BATCH_ROWS = {batch_rows}
_CycleTable.FINISHED_BATCH_ROWS = 1_000
data_dir = sys.argv[1]
instance = dg.DagsterInstance.ephemeral()
defs = build_defs(data_dir)
resources = {{"warehouse": WarehouseResource(data_dir=data_dir, large_file_mb=1)}}  # every file streamed
instance.add_dynamic_partitions(sample_set("cycling").name, ["CELL"])

samples = np.full((500_000, 3), np.nan)  # time, Python MiB (peak since the row before), Arrow MiB; made before tracing
done = threading.Event()
def sample():
    for row in samples:
        if done.is_set():
            return
        time.sleep(0.002)
        row[:] = time.time(), tracemalloc.get_traced_memory()[1] / 2**20, pa.total_allocated_bytes() / 2**20
        tracemalloc.reset_peak()  # the next row holds the peak since this one
sampler = threading.Thread(target=sample)
tracemalloc.start()
sampler.start()
runs = [defs.resolve_job_def("cycling_job").execute_in_process(
            partition_key=partition_key("CELL", "cycling"), instance=instance, resources=resources),
        defs.resolve_job_def("summary_job").execute_in_process(instance=instance, resources=resources)]
done.set()
sampler.join()
tracemalloc.stop()

started = {{}}
for record in instance.get_event_records(dg.EventRecordsFilter(event_type=dg.DagsterEventType.STEP_START)):
    started[(record.event_log_entry.run_id, record.event_log_entry.step_key)] = record.event_log_entry.timestamp
steps = {{}}
for record in instance.get_event_records(dg.EventRecordsFilter(event_type=dg.DagsterEventType.STEP_SUCCESS)):
    entry = record.event_log_entry
    during = samples[(samples[:, 0] >= started[(entry.run_id, entry.step_key)]) & (samples[:, 0] <= entry.timestamp)]
    steps[entry.step_key] = during[:, 1:].max(axis=0).tolist() if len(during) else None
lake = Path(data_dir) / "warehouse" / "lake" / "cycling_timeseries" / "sample_id=CELL"
print(json.dumps({{"ok": all(r.success for r in runs), "steps": steps,
                   "rows": sum(pq.ParquetFile(p).metadata.num_rows for p in lake.glob("part-*.parquet"))}}))
"""


def cell_folder(root: Path, copies: int) -> tuple[Path, int]:
    """A data folder whose one cell holds SOURCE's data rows ``copies`` times; (folder, data rows)."""
    lines = SOURCE.read_bytes().splitlines(keepends=True)
    header_count = int(lines[1].split(b":")[1])
    header, body = lines[:header_count], lines[header_count:]
    target = root / "raw" / "cycling" / "CELL" / "CELL_C01.mpt"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"".join(header) + b"".join(body) * copies)
    return root, len(body) * copies


def test_no_step_of_the_job_holds_more_of_a_bigger_file(tmp_path):
    small, small_rows = cell_folder(tmp_path / "small", 20)  # 11 MB, 77k rows
    big, big_rows = cell_folder(tmp_path / "big", 80)  # 44 MB, 309k rows
    jobs = [subprocess.Popen([sys.executable, "-c", JOB.format(batch_rows=BATCH_ROWS), str(folder)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for folder in (small, big)]
    results = []
    for job in jobs:
        out, err = job.communicate()
        assert job.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    small_run, big_run = results
    assert small_run["ok"] and big_run["ok"]
    assert (small_run["rows"], big_run["rows"]) == (small_rows, big_rows)
    assert set(small_run["steps"]) == set(big_run["steps"]) and "cycling_archive" in big_run["steps"]
    grown = {step: (round(big[0] - small[0], 2), round(big[1] - small[1], 2))
             for step, small in small_run["steps"].items() if small and (big := big_run["steps"][step])}
    assert len(grown) == len(small_run["steps"])  # every step was sampled in both runs
    assert {step: growth for step, growth in grown.items() if max(growth) >= GROWTH_LIMIT_MIB} == {}, grown


def test_streamed_steps_give_the_tables_of_the_in_memory_path(tmp_path, monkeypatch):
    """Ingest streamed in 500-row batches, cycles summarised from 700-row lake pieces and written 3 rows at a
    time, SoH from the stored columns: exactly the tables of build_timeseries/summarise_cycles on the whole file."""
    from bigmap_assets import read
    from bigmap_assets.ingest.cycling import ingest_timeseries, read_sources
    from bigmap_assets.science.cycling import (SUMMARY_COLUMNS, _CycleTable, build_timeseries, iter_cycles,
                                               summarise_cycles)
    from bigmap_assets.science.soh import SOH_COLUMNS, state_of_health
    from bigmap_assets.warehouse.lake import Lake
    from bigmap_assets.warehouse.provenance import stamp

    data_dir, rows = cell_folder(tmp_path, 3)
    sources, _ = read_sources(data_dir, "CELL", large_file_bytes=1)
    assert [s.table for s in sources] == [None]  # streamed
    lake = Lake(tmp_path / "lake")
    assert ingest_timeseries(lake, sources, sample_id="CELL", timezone="Europe/Paris", batch_rows=500).rows == rows
    stored = lake.read("cycling_timeseries", {"sample_id": "CELL"})

    source = sources[0]
    whole = build_timeseries([stamp(read(source.path, canonical_only=True), source.rel, source.sha256)],
                             sample_id="CELL", timezone="Europe/Paris")
    assert stored.num_rows == whole.num_rows == rows
    for name in whole.column_names:  # capacities continued across batches: equal to rounding
        if pa.types.is_floating(whole.field(name).type):
            np.testing.assert_allclose(stored.column(name).to_numpy(), whole.column(name).to_numpy(), rtol=1e-12,
                                       atol=1e-12, err_msg=name)
        else:
            assert stored.column(name).equals(whole.column(name)), name

    monkeypatch.setattr(_CycleTable, "FINISHED_BATCH_ROWS", 3)
    pieces = lake.iter_tables("cycling_timeseries", {"sample_id": "CELL"}, columns=list(SUMMARY_COLUMNS), batch_rows=700)
    lake.write_tables("cycling_cycles", iter_cycles(pieces, active_mass_g=0.01), {"sample_id": "CELL"})
    cycles = lake.read("cycling_cycles", {"sample_id": "CELL"})
    expected = summarise_cycles(stored, active_mass_g=0.01)
    assert cycles.num_rows == expected.num_rows > 500
    assert cycles.equals(expected.select(cycles.column_names).cast(cycles.schema))
    soh = state_of_health(lake.read("cycling_cycles", {"sample_id": "CELL"}, columns=list(SOH_COLUMNS)))
    assert soh.num_rows > 20 and soh.equals(state_of_health(expected))


def test_files_beyond_the_held_budget_are_read_again_into_the_same_series(tmp_path):
    """A cell's whole-read tables are kept up to ``held_bytes`` in all; the others are read again at their turn."""
    from bigmap_assets import read
    from bigmap_assets.ingest.cycling import ingest_timeseries, read_sources
    from bigmap_assets.warehouse.lake import Lake

    data_dir = REPO / "data"
    held, _ = read_sources(data_dir, "LNO-REF-A-01")
    first_bytes = read(held[0].path, canonical_only=True).nbytes  # what the budget counts: before stamping
    partly, _ = read_sources(data_dir, "LNO-REF-A-01", held_bytes=first_bytes)
    none, files = read_sources(data_dir, "LNO-REF-A-01", held_bytes=0)
    assert len(held) == 2 and all(s.table is not None for s in held)
    assert [s.table is not None for s in partly] == [True, False]
    assert [s.table for s in none] == [None, None] and not any(s.streamed for s in none)
    assert [row["row_count"] for row in files.inventory] == [None, None]

    stored = []
    for name, sources in (("held", held), ("partly", partly), ("none", none)):
        lake = Lake(tmp_path / name)
        ingest_timeseries(lake, sources, sample_id="LNO-REF-A-01", timezone="Europe/Paris")
        stored.append(lake.read("cycling_timeseries", {"sample_id": "LNO-REF-A-01"}))
    assert stored[0].num_rows == sum(s.table.num_rows for s in held) > 0
    assert stored[1].equals(stored[0]) and stored[2].equals(stored[0])
