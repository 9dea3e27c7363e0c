"""Every command and snippet of the README runs as written, against the example data.

``./dev demo`` builds a copy of ``data/`` (BIGMAP_DATA_DIR points it there); then each
``bigmap`` command of the README's bash blocks and each python block runs in the folder that
holds that copy as ``data/``, as a user in a checkout would run them. Commands that start
servers or the suite itself have tests of their own (named below).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
TESTED_ELSEWHERE = {
    "./dev test": "this suite",
    "./dev ui": "ops/test_dev_ui.py",
}
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def readme_blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README.read_text()) if lang == language]


def shell_commands(block: str) -> list[str]:
    """The commands of a bash block, a command spanning lines while its quotes are open, comments dropped."""
    commands, pending = [], ""
    for line in block.splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            words = shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        if words:
            commands.append(shlex.join(words))
        pending = ""
    return commands


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory) -> Path:
    """A folder holding ``data/``: the example data, built by ``./dev demo``."""
    root = tmp_path_factory.mktemp("readme")
    for part in ("raw", "registry"):
        shutil.copytree(REPO / "data" / part, root / "data" / part)
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    env |= {"BIGMAP_DATA_DIR": str(root / "data"), "BIGMAP_VENV": str(Path(sys.executable).parents[1])}
    demo = subprocess.run([str(REPO / "dev"), "demo"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "cycling_timeseries" in demo.stdout and "Traceback" not in demo.stderr
    assert "Warning" not in demo.stderr, demo.stderr  # no library notices in the demo's output
    return root


def readme_commands() -> list[str]:
    return [c for block in readme_blocks("bash") for c in shell_commands(block)]


def test_the_readme_has_commands_and_snippets():
    commands = readme_commands()
    assert "./dev demo" in commands and sum(c.startswith("bigmap sql") for c in commands) >= 8
    assert readme_blocks("python")


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs_as_written(user_folder, command):
    if command in TESTED_ELSEWHERE:
        pytest.skip(f"tested by {TESTED_ELSEWHERE[command]}")
    if command == "./dev demo":
        return  # it built user_folder
    words = shlex.split(command)
    assert words[0] == "bigmap", f"the README runs {words[0]!r}: teach this test how to run it"
    env = {k: v for k, v in os.environ.items() if k not in ("BIGMAP_DATA_DIR", "DAGSTER_HOME")}
    done = subprocess.run([str(Path(sys.executable).with_name("bigmap")), *words[1:]], cwd=user_folder, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "(0 rows)" not in done.stdout and len(done.stdout.splitlines()) >= 2, done.stdout


@pytest.mark.parametrize("snippet", readme_blocks("python"))
def test_readme_python_snippet_runs_as_written(user_folder, snippet):
    done = subprocess.run([sys.executable, "-c", snippet], cwd=user_folder, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert len(done.stdout.splitlines()) >= 5, done.stdout


def test_the_tables_section_lists_every_table_once():
    from bigmap_assets import schemas
    from bigmap_assets.definitions import defs  # noqa: F401  (registers every table's schema)

    section = README.read_text().split("## Tables", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    listed = [name for cell in rows for name in re.findall(r"`(\w+)`", cell)]
    assert sorted(listed) == sorted(schemas.TABLES)
