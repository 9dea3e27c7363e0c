"""Runs that meet each other or a damaged warehouse: two ``materialize`` on one folder, a broken
Parquet part, temp files left by a killed run."""

from __future__ import annotations

import os
import random
import signal
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
KILLS = 2

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
    # the first a cycling run and a summary run; the second, finding the cell unchanged, a summary run
    assert statuses == [dg.DagsterRunStatus.SUCCESS] * 3
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


def test_a_kill_while_dagster_creates_its_instance_leaves_none_and_the_next_run_makes_it_whole(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    killed_mid_creation = subprocess.run(
        [sys.executable, "-c", "import os, signal, sys; from pathlib import Path; import dagster as dg;"
         "from bigmap_assets.defs.materialize import ensure_dagster_home;"
         "dg.DagsterInstance.all_instigator_state = lambda self: os.kill(os.getpid(), signal.SIGKILL);"
         "ensure_dagster_home(Path(sys.argv[1]))", str(tmp_path)], env=env)
    assert killed_mid_creation.returncode == -signal.SIGKILL
    assert not (tmp_path / ".dagster").exists()
    assert len(list(tmp_path.glob(".dagster.partial-*"))) == 1

    finish = ("import sys; from pathlib import Path; import dagster as dg;"
              "from bigmap_assets.defs.materialize import ensure_dagster_home;"
              "home = ensure_dagster_home(Path(sys.argv[1]));"
              "instance = dg.DagsterInstance.from_config(str(home));"
              "instance.add_dynamic_partitions('cycling_samples', ['LNO-REF-A-01']);"
              "print(instance.get_dynamic_partitions('cycling_samples'))")
    made_whole = subprocess.run([sys.executable, "-c", finish, str(tmp_path)], env=env, capture_output=True, text=True)
    assert made_whole.stdout == "['LNO-REF-A-01']\n", made_whole.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".dagster"]


def lake_tables(data_dir) -> dict:
    from bigmap_assets import schemas

    lake = Lake(data_dir / "warehouse" / "lake")
    return {name: lake.read_every(name) for name in schemas.TABLES}


def test_kill_9_at_random_moments_leaves_a_readable_warehouse_and_the_rerun_equals_a_clean_run(
        example_data, tmp_path, pinned_code_version):
    settled = 1_780_000_000.0  # both folders' raw files carry the same times
    clean_dir = copy_cells(example_data, tmp_path / "clean", [CELL], settled)
    started = time.monotonic()
    clean = bigmap("materialize", "--data-dir", str(clean_dir))
    assert clean.wait(timeout=600) == 0, clean.stdout.read()
    clean_second = time.monotonic() - started

    data_dir = copy_cells(example_data, tmp_path / "killed", [CELL], settled)
    rng = random.Random(9)
    for _ in range(KILLS):
        run = bigmap("materialize", "--data-dir", str(data_dir), start_new_session=True)
        time.sleep(rng.uniform(0.3, 0.9) * clean_second)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait(timeout=60)
        assert Lake(data_dir / "warehouse" / "lake").broken_parts() == []  # no half-written part is visible
        if (data_dir / "warehouse" / "lake").is_dir():
            query = bigmap("sql", "SELECT count(*) FROM raw_files", "--data-dir", str(data_dir))
            assert query.wait(timeout=120) == 0, query.stdout.read()
    rerun = bigmap("materialize", "--data-dir", str(data_dir))
    assert rerun.wait(timeout=600) == 0, rerun.stdout.read()

    expected, got = lake_tables(clean_dir), lake_tables(data_dir)
    for name, table in expected.items():
        assert (got[name] is None) == (table is None), name
        if table is not None:
            assert got[name].equals(table), name


@pytest.fixture()
def small_disk(tmp_path):
    """A 700 KiB tmpfs (the raw files of one cell take 450 KiB); ``grow()`` gives it room."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=700k", "tmpfs", str(disk)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.strip()}): needs root")

    def grow() -> None:
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)

    try:
        yield disk, grow
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_full_disk_fails_the_run_cleanly_and_the_next_run_with_space_completes(example_data, tmp_path, small_disk):
    disk, grow = small_disk
    data_dir = copy_cells(example_data, disk / "data", [CELL])
    home = write_instance_yaml(tmp_path / "home")  # the instance elsewhere: the warehouse meets the full disk
    env_home = {**os.environ, "DAGSTER_HOME": str(home)}
    full = subprocess.run([sys.executable, "-m", "bigmap_assets.cli", "materialize", "--data-dir", str(data_dir)],
                          env=env_home, capture_output=True, text=True, timeout=600)
    assert full.returncode == 1
    assert "FAILED cycling_job" in full.stdout and "No space left on device" in full.stdout + full.stderr
    assert "Traceback" not in full.stderr
    lake = Lake(data_dir / "warehouse" / "lake")
    assert lake.broken_parts() == []  # what was published reads; what did not fit was never renamed into place
    assert not [p for p in (data_dir / "warehouse").rglob("*.tmp")]

    grow()
    rerun = subprocess.run([sys.executable, "-m", "bigmap_assets.cli", "materialize", "--data-dir", str(data_dir)],
                           env=env_home, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert lake.broken_parts() == []
    assert catalog.query(catalog.connect(data_dir / "warehouse"), "SELECT count(*) FROM cycling_timeseries")[1] == [(3042,)]
