"""``./dev ui`` as a user runs it: it serves the UI, and SIGTERM (or Ctrl-C) stops it and every process
it started within seconds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ProcessGroup, copy_cells, free_port, wait_for_http, write_instance_yaml

REPO = Path(__file__).resolve().parents[2]
STOP_WITHIN_SECOND = 10.0

pytestmark = pytest.mark.ops


def _processes_with_env(marker: str) -> list[int]:
    """PIDs of the processes whose environment holds ``marker`` (every process ./dev ui starts inherits it)."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_dev_ui_serves_then_stops_with_all_its_processes(example_data, tmp_path, signal_number):
    data_dir = copy_cells(example_data, tmp_path / "data", ["LNO-REF-A-01"])
    home = write_instance_yaml(tmp_path / "dagster_home")
    port = free_port()
    marker = f"DAGSTER_HOME={home}"
    env = {**os.environ, "DAGSTER_HOME": str(home), "BIGMAP_DATA_DIR": str(data_dir), "PORT": str(port),
           "BIGMAP_VENV": str(Path(sys.executable).parents[1])}
    ui = ProcessGroup.start([str(REPO / "dev"), "ui"], tmp_path / "ui.log", env, REPO)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", ui)
        assert len(_processes_with_env(marker)) >= 3  # ./dev, dagster dev, the webserver, the daemon, ...
        sent = time.monotonic()
        ui.process.send_signal(signal_number)
        while _processes_with_env(marker) and time.monotonic() - sent < 30:
            time.sleep(0.1)
        took = time.monotonic() - sent
        assert not _processes_with_env(marker), f"still running after {took:.0f} s:\n{ui.log()[-2000:]}"
        assert took < STOP_WITHIN_SECOND, ui.log()[-2000:]
        assert ui.process.wait(timeout=5) != 0
    finally:
        ui.stop(grace_second=5)
        for pid in _processes_with_env(marker):
            os.kill(pid, signal.SIGKILL)
