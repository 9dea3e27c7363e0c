"""Runs that meet each other or a damaged warehouse: two ``materialize`` on one folder, a broken
Parquet part, temp files left by a killed run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import dagster as dg
import pytest

from bigmap_assets.defs.materialize import materialize_all
from bigmap_assets.warehouse.folder_lock import data_folder_lock
from bigmap_assets.warehouse import catalog
from bigmap_assets.warehouse.lake import Lake

from .conftest import copy_cells, write_instance_yaml

CELL = "LNO-REF-A-01"

pytestmark = pytest.mark.ops


def bigmap(*args: str, **popen) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    return subprocess.Popen([sys.executable, "-m", "bigmap_assets.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen)


def test_a_second_holder_of_the_folder_lock_waits_and_says_for_whom(tmp_path):
    lines = []
    with data_folder_lock(tmp_path, lines.append):
        waiter = subprocess.Popen(
            [sys.executable, "-c", "import sys, time; from pathlib import Path;"
             "from bigmap_assets.warehouse.folder_lock import data_folder_lock;"
             "lock = data_folder_lock(Path(sys.argv[1]), lambda line: print(line, flush=True));"
             "lock.__enter__(); print('got it', time.time(), flush=True)", str(tmp_path)],
            stdout=subprocess.PIPE, text=True)
        first = waiter.stdout.readline()
        released = time.time()
    rest = waiter.communicate(timeout=60)[0]
    assert lines == []
    assert first.startswith(f"waiting: bigmap materialize (pid {os.getpid()}, since ") and str(tmp_path) in first
    assert rest.startswith("got it") and float(rest.split()[2]) >= released


def test_two_materialize_at_once_on_a_fresh_folder_both_end_cleanly(example_data, tmp_path):
    data_dir = copy_cells(example_data, tmp_path / "data", [CELL])
    runs = [bigmap("materialize", "--data-dir", str(data_dir)) for _ in range(2)]
    outputs = [r.communicate(timeout=600)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], outputs
    assert sum("waiting: bigmap materialize (pid" in out for out in outputs) == 1
    assert all("Traceback" not in out for out in outputs)
    with dg.DagsterInstance.from_config(str(data_dir / ".dagster")) as instance:
        statuses = [r.dagster_run.status for r in instance.get_run_records()]
    assert statuses == [dg.DagsterRunStatus.SUCCESS] * 4  # a cycling run and a summary run each
    query = bigmap("sql", "SELECT count(*) FROM cycling_timeseries", "--data-dir", str(data_dir), "--format", "csv")
    assert query.communicate(timeout=120)[0].splitlines() == ["count_star()", "3042"]


def test_the_next_run_rebuilds_a_damaged_part_and_removes_stale_temp_files(example_data, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    data_dir = copy_cells(example_data, tmp_path / "data", [CELL])
    warehouse = data_dir / "warehouse"
    home = write_instance_yaml(data_dir / ".dagster")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert materialize_all(data_dir, instance=instance).succeeded
        lake = Lake(warehouse / "lake")
        good = {t: lake.read_every(t) for t in ("cycling_cycles", "cycling_soh", "raw_files")}
        damaged = [lake.parts("cycling_cycles", {"sample_id": CELL})[0],
                   lake.parts("raw_files", {"technique": "cycling", "sample_id": CELL})[0]]
        for path in damaged:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        stale = [warehouse / f".catalog.duckdb.{uuid.uuid4().hex}.tmp",
                 lake.root / "cycling_cycles" / f"sample_id={CELL}" / f".part-0.parquet.{uuid.uuid4().hex}.tmp"]
        stale.append(stale[0].with_name(stale[0].name + ".wal"))
        fresh = warehouse / f".catalog.duckdb.{uuid.uuid4().hex}.tmp"  # a run writing it right now
        for path in [*stale, fresh]:
            path.write_bytes(b"left behind")
        for path in stale:
            os.utime(path, (time.time() - 3600, time.time() - 3600))
        assert sorted(b.path for b in lake.broken_parts()) == sorted(damaged)

        lines = []
        assert materialize_all(data_dir, instance=instance, log=lines.append).succeeded
    assert sorted(line for line in lines if line.startswith("removed")) == sorted(
        f"removed {p} (left by an interrupted run)" for p in stale)
    assert not any(p.exists() for p in stale) and fresh.exists()
    assert lake.broken_parts() == []
    for table, rows in good.items():
        assert lake.read_every(table).equals(rows), table
    columns, rows = catalog.query(catalog.connect(warehouse), "SELECT count(*) FROM cycling_cycles")
    assert rows == [(good["cycling_cycles"].num_rows,)]
