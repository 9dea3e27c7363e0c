"""The README's sensor command, as a user runs it: ``./dev sensor start`` turns the sensor on in the
code location that ``./dev ui`` loads (workspace.yaml), and the daemon then ticks it. Over a
warehouse that is already built, the first tick requests no run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import InstigatorType

from bigmap_assets.defs.materialize import materialize_all

from .conftest import ProcessGroup, copy_cells, write_instance_yaml

REPO = Path(__file__).resolve().parents[2]
CELLS = ["LNO-REF-A-01", "LNO-LTD-B-01"]
TICK_WAIT_SECOND = 120

pytestmark = pytest.mark.ops


def _sensor_state(instance: dg.DagsterInstance, name: str):
    states = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
              if s.instigator_name == name]
    return states[0] if states else None


def test_dev_sensor_start_ticks_in_the_ui_code_location_and_requests_nothing_over_a_built_warehouse(
        example_data, tmp_path, monkeypatch):
    data_dir = copy_cells(example_data, tmp_path / "data", CELLS)
    home = write_instance_yaml(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert materialize_all(data_dir).succeeded
    env = {**os.environ, "DAGSTER_HOME": str(home), "BIGMAP_DATA_DIR": str(data_dir),
           "BIGMAP_VENV": str(Path(sys.executable).parents[1])}

    started = subprocess.run([str(REPO / "dev"), "sensor", "start"], cwd=REPO, env=env, capture_output=True,
                             text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        state = _sensor_state(instance, "raw_file_sensor")
        assert state is not None and state.status.value == "RUNNING"
        location = state.origin.repository_origin.code_location_origin.location_name
        assert location == "bigmap_assets"  # the location named in workspace.yaml, which ./dev ui loads
        assert _sensor_state(instance, "after_partition_run").status.value == "RUNNING"

    daemon = ProcessGroup.start([str(Path(sys.executable).with_name("dagster-daemon")), "run", "-w",
                                 str(REPO / "workspace.yaml")], tmp_path / "daemon.log", env, REPO)
    try:
        ticks = []
        deadline = time.monotonic() + TICK_WAIT_SECOND
        while not ticks and time.monotonic() < deadline:
            time.sleep(1)
            with dg.DagsterInstance.from_config(str(home)) as instance:
                ticks = [t for t in instance.get_ticks(state.instigator_origin_id, state.selector_id)
                         if t.status.value in ("SUCCESS", "SKIPPED", "FAILURE")]
        assert ticks, f"no sensor tick within {TICK_WAIT_SECOND} s:\n{daemon.log()[-3000:]}"
        assert ticks[-1].status.value == "SKIPPED", ticks[-1]  # nothing new: no run requested
        assert ticks[-1].run_ids == []
    finally:
        daemon.stop()
