"""The main job holds a bounded amount of a cell's time series: its peak memory does not grow with the file.

Measured in a subprocess (its own ``ru_maxrss``) with small batches, so that a file of a few
tens of MB spans many of them: the job runs over an 11 MB cell twice (the first run warms the
allocators up: +40 MiB on the second), then over a cell four times bigger, which may raise the
process's peak by less than 40 MiB (measured: 16 MiB). Holding the bigger cell's time series
(the timeseries check did), or its 15k per-cycle rows as Python dicts (the cycles step did),
would add over 100 MiB.
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
BATCH_ROWS = 5_000

JOB = """
import json, resource, sys, warnings
from pathlib import Path
warnings.simplefilter("ignore")
import dagster as dg
import pyarrow.parquet as pq
from bigmap_assets.ingest import cycling as cycling_ingest
from bigmap_assets.definitions import build_defs
from bigmap_assets.defs import cycling
from bigmap_assets.defs.partitions import partition_key, sample_set
from bigmap_assets.defs.resources import WarehouseResource
from bigmap_assets.science.cycling import _CycleTable

cycling_ingest.BATCH_ROWS = cycling.LAKE_BATCH_ROWS = {batch_rows}
_CycleTable.FINISHED_BATCH_ROWS = 1_000
instance = dg.DagsterInstance.ephemeral()
results = []
for data_dir in sys.argv[1:]:
    defs = build_defs(data_dir)
    resources = {{"warehouse": WarehouseResource(data_dir=data_dir, large_file_mb=1)}}  # every file streamed
    instance.add_dynamic_partitions(sample_set("cycling").name, ["CELL"])
    runs = [defs.resolve_job_def("cycling_job").execute_in_process(
                partition_key=partition_key("CELL", "cycling"), instance=instance, resources=resources),
            defs.resolve_job_def("summary_job").execute_in_process(instance=instance, resources=resources)]
    lake = Path(data_dir) / "warehouse" / "lake" / "cycling_timeseries" / "sample_id=CELL"
    results.append({{"ok": all(r.success for r in runs),
                     "rows": sum(pq.ParquetFile(p).metadata.num_rows for p in lake.glob("part-*.parquet")),
                     "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}})
print(json.dumps(results))
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


def test_peak_memory_of_the_job_does_not_grow_with_the_file(tmp_path):
    warm, _ = cell_folder(tmp_path / "warm", 20)
    small, small_rows = cell_folder(tmp_path / "small", 20)  # 11 MB, 77k rows
    big, big_rows = cell_folder(tmp_path / "big", 80)  # 44 MB, 309k rows, 62 batches
    done = subprocess.run([sys.executable, "-c", JOB.format(batch_rows=BATCH_ROWS), str(warm), str(small), str(big)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    _, second, third = json.loads(done.stdout.strip().splitlines()[-1])
    assert second["ok"] and third["ok"]
    assert (second["rows"], third["rows"]) == (small_rows, big_rows)
    assert third["peak_mib"] - second["peak_mib"] < 40, (second, third)


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
