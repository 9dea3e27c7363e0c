"""Operations fixtures: generated example data, free ports, process groups, a private PostgreSQL.

Tests that start servers or browsers carry the ``ops`` marker (``-m "not ops"`` leaves
them out); they still run in the default test command.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from bigmap_assets.simulate import cycling as cycling_generator
from bigmap_assets.simulate import registry as registry_generator

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SETTLED_AGO_SECOND = 120.0


def pytest_configure(config):
    config.addinivalue_line("markers", "ops: starts servers, browsers or worker clusters (slower; deselect with -m 'not ops')")


@pytest.fixture(scope="session")
def example_data(tmp_path_factory) -> Path:
    """The generated registry and cycling files (12 cells), made once per test session."""
    root = tmp_path_factory.mktemp("example-data")
    registry_generator.generate(root)
    cycling_generator.generate(root, seed=0)
    return root


def settle(folder: Path, at_second: float | None = None) -> None:
    """Set every file's mtime into the past (default: two minutes ago), as if written long ago.

    The sensor skips files still being written; a fixed ``at_second`` makes two copies identical.
    """
    then = time.time() - SETTLED_AGO_SECOND if at_second is None else at_second
    for path in folder.rglob("*"):
        os.utime(path, (then, then))


def copy_cells(example_data: Path, target: Path, cells: list[str], at_second: float | None = None) -> Path:
    """A data folder with the registry and the raw cycling files of ``cells``, settled."""
    shutil.copytree(example_data / "registry", target / "registry")
    for cell in cells:
        shutil.copytree(example_data / "raw" / "cycling" / cell, target / "raw" / "cycling" / cell)
    settle(target, at_second)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_instance_yaml(home: Path, extra: str = "") -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n" + extra)
    return home


@dataclass
class ProcessGroup:
    """A command started in its own session, so SIGTERM reaches every process it spawns."""

    process: subprocess.Popen
    log_path: Path

    @classmethod
    def start(cls, command: list[str], log_path: Path, env: dict[str, str], cwd: Path) -> ProcessGroup:
        log = open(log_path, "wb")
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                   start_new_session=True)
        log.close()
        return cls(process, log_path)

    def members(self) -> list[int]:
        """PIDs still in the group (zombies excluded)."""
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            state, pgid = fields[0], int(fields[2])
            if pgid == self.process.pid and state != "Z":
                alive.append(int(stat.parent.name))
        return alive

    def stop(self, grace_second: float = 30.0) -> list[int]:
        """SIGTERM to the group, and to any process that joins it while it stops (``dagster dev`` may restart
        its code server as it shuts down); wait, SIGKILL leftovers; returns the PIDs that needed SIGKILL."""
        signalled = set(self.members())
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return []
        deadline = time.monotonic() + grace_second
        while time.monotonic() < deadline and self.members():
            for pid in set(self.members()) - signalled:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                signalled.add(pid)
            self.process.poll()
            time.sleep(0.2)
        leftovers = self.members()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        return leftovers

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_for_http(url: str, process: ProcessGroup, timeout_second: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_second
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(f"server exited with {process.process.returncode}:\n{process.log()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout_second} s:\n{process.log()[-3000:]}")


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str
    db_name: str

    @property
    def env(self) -> dict[str, str]:
        """The variables ``deploy/dagster.yaml`` reads."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": self.db_name}


def _as_postgres_user(command: list[str]) -> list[str]:
    """initdb refuses to run as root: run the server tools as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@pytest.fixture()
def postgres_server() -> Postgres:
    """A private PostgreSQL server on 127.0.0.1 and a free port, in a temp folder; stopped and removed after."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL server binaries absent ({PG_BIN}); install Debian's postgresql")
    folder = Path(tempfile.mkdtemp(prefix="bigmap-pg-"))  # under /tmp, so the postgres user can reach it
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    run = dict(check=True, capture_output=True, text=True)
    subprocess.run(_as_postgres_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", "bigmap", "--auth=trust", "-E", "UTF8"]), **run)
    subprocess.run(_as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
                                      "-o", f"-h 127.0.0.1 -p {port} -k {folder}", "start"]), **run)
    try:
        subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "bigmap", "-d", "postgres",
                        "-c", "CREATE DATABASE dagster"], **run)
        yield Postgres("127.0.0.1", port, "bigmap", "dagster")
    finally:
        subprocess.run(_as_postgres_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def pinned_code_version(tmp_path, monkeypatch):
    """The bare package version as the code-version stamp, in this process and in the ones it starts.

    Rows are stamped with the git commit; runs in other processes must stamp the same value as
    runs in this one, whatever this process cached before and wherever HEAD moves meanwhile.
    """
    from bigmap_assets.warehouse.provenance import code_version

    monkeypatch.setenv("GIT_DIR", str(tmp_path / "no-repository"))
    code_version.cache_clear()
    yield code_version()
    code_version.cache_clear()
