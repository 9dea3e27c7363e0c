"""Every ``bigmap`` subcommand given bad input: one line on stderr naming what and why, exit status 2,
no traceback, no stray warning, nothing on stdout, nothing created."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from bigmap_assets.cli import build_parser, main
from bigmap_assets.warehouse.lake import Lake

REPO_DATA = Path(__file__).resolve().parents[1] / "data"
CYCLING_FILE = next((REPO_DATA / "raw" / "cycling").glob("*/*.mpt"))


@pytest.fixture()
def place(tmp_path, monkeypatch) -> dict[str, Path]:
    """Bad inputs of every kind, and a small warehouse to query (and no archive instance configured)."""
    monkeypatch.delenv("BIGMAP_ARCHIVE_URL", raising=False)
    (tmp_path / "folder").mkdir()
    (tmp_path / "empty.dat").write_bytes(b"")
    (tmp_path / "garbage.mpr").write_bytes(b"\x00\x01not a cycler file" * 100)
    (tmp_path / "empty.xye").write_text("")
    (tmp_path / "words.xye").write_text("# a diffractogram?\nangle intensity\nten twenty\n")
    (tmp_path / "file.txt").write_text("not a data folder\n")
    lake = Lake(tmp_path / "built" / "warehouse" / "lake")
    lake.write("cycling_timeseries", pa.table({"sample_id": ["S1"], "test_time_second": [0.0], "voltage_volt": [3.0],
                                               "current_ampere": [0.0]}), {"sample_id": "S1"})
    return {"tmp": tmp_path, "built": tmp_path / "built"}


def bad_inputs(p: dict[str, Path]) -> dict[str, list[list[str]]]:
    tmp, built = str(p["tmp"]), str(p["built"])
    return {
        "read": [["read", f"{tmp}/missing.mpt"], ["read", f"{tmp}/folder"], ["read", f"{tmp}/empty.dat"],
                 ["read", f"{tmp}/garbage.mpr"], ["read", str(CYCLING_FILE), "-o", f"{tmp}/out.xlsx"],
                 ["read", str(CYCLING_FILE), "-o", f"{tmp}/no/such/folder/out.parquet"], ["read"]],
        "materialize": [["materialize", "--data-dir", f"{tmp}/missing"], ["materialize", "--data-dir", f"{tmp}/file.txt"],
                        ["materialize", "--data-dir", f"{tmp}/folder"]],
        "sql": [["sql", "SELEC 1", "--data-dir", built], ["sql", "SELECT * FROM no_such_table", "--data-dir", built],
                ["sql", "SELECT no_such_column FROM cycling_timeseries", "--data-dir", built],
                ["sql", "SELECT 1", "--data-dir", f"{tmp}/missing"], ["sql", "SELECT 1", "--format", "xml"]],
        "issues": [["issues", "--data-dir", f"{tmp}/missing"], ["issues", "--data-dir", f"{tmp}/file.txt"],
                   ["issues", "--format", "xml"]],
        "status": [["status", "--data-dir", f"{tmp}/missing"], ["status", "--data-dir", f"{tmp}/file.txt"],
                   ["status", "--runs", "many"]],
        "xas normalise": [["xas", "normalise", str(CYCLING_FILE)], ["xas", "normalise", f"{tmp}/missing.txt"],
                          ["xas", "normalise", f"{tmp}/empty.dat"]],
        "d2b reduce": [["d2b", "reduce", f"{tmp}/empty.dat", "-o", f"{tmp}/out.xye"],
                       ["d2b", "reduce", str(CYCLING_FILE), "-o", f"{tmp}/out.xye"],
                       ["d2b", "reduce", f"{tmp}/missing.nxs", "-o", f"{tmp}/out.xye"],
                       ["d2b", "reduce", f"{tmp}/garbage.mpr", "-o", f"{tmp}/out.txt"]],
        "d2b compare": [["d2b", "compare", f"{tmp}/empty.xye", f"{tmp}/empty.xye"],
                        ["d2b", "compare", f"{tmp}/words.xye", f"{tmp}/words.xye"],
                        ["d2b", "compare", f"{tmp}/missing.xye", f"{tmp}/empty.xye"]],
        "archive validate": [["archive", "validate", "--data-dir", f"{tmp}/missing"],
                             ["archive", "validate", "--data-dir", built, "--sample", "S1"],
                             ["archive", "validate", "--technique", "nmr"]],
        "archive upload": [["archive", "upload", "--data-dir", built], ["archive", "upload", "--technique", "nmr"]],
        "": [["no-such-command"], []],
    }


def leaf_commands(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    """Every runnable subcommand, as words (``"d2b reduce"``); aliases count once."""
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        return {prefix.strip()}
    found, seen = set(), set()
    for name, sub in subparsers[0].choices.items():
        if id(sub) not in seen:
            seen.add(id(sub))
            found |= leaf_commands(sub, f"{prefix}{name} ")
    return found


def test_every_subcommand_has_bad_input_cases(place):
    assert leaf_commands(build_parser()) <= set(bad_inputs(place))


def test_bad_input_gives_one_line_exit_2_and_creates_nothing(place, capsys):
    before = sorted(p.relative_to(place["tmp"]) for p in place["tmp"].rglob("*"))
    for command, cases in bad_inputs(place).items():
        for argv in cases:
            try:
                status = main(argv)
            except SystemExit as exc:  # argparse refusing the words themselves
                status = exc.code
            out, err = capsys.readouterr()
            where = f"bigmap {' '.join(argv)}"
            assert status == 2, f"{where}: exit {status}\n{err}"
            assert out == "", f"{where}: printed {out!r}"
            assert err.count("\n") == 1 and err.startswith("bigmap") and "error: " in err, f"{where}: {err!r}"
            assert "Traceback" not in err and "Warning" not in err, f"{where}: {err!r}"
    after = sorted(p.relative_to(place["tmp"]) for p in place["tmp"].rglob("*"))
    assert after == before


@pytest.mark.parametrize("words", [["d2b", "compare", "{tmp}/empty.xye", "{tmp}/empty.xye"],
                                   ["xas", "normalise", str(CYCLING_FILE)],
                                   ["status", "--data-dir", "{tmp}/missing"]])
def test_the_installed_command_prints_no_warning_or_traceback(place, words):
    argv = [w.format(tmp=place["tmp"]) for w in words]
    done = subprocess.run([sys.executable, "-m", "bigmap_assets.cli", *argv], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("bigmap: error: "), done.stderr
