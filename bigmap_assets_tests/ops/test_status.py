"""``bigmap status``: runs from the instance, stale partitions, open ingest issues."""

from __future__ import annotations

import argparse
import os
import time

import dagster as dg

from bigmap_assets.cli import status
from bigmap_assets.defs.materialize import materialize_all

from .conftest import copy_cells, write_instance_yaml

CELLS = ["LNO-REF-A-01", "LNO-LTD-B-01"]


def run_status(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bigmap")
    status.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_status_lists_runs_stale_partitions_and_issues(example_data, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    data_dir = copy_cells(example_data, tmp_path / "data", CELLS)
    (data_dir / "raw" / "cycling" / CELLS[1] / "notes.mpt").write_text("EC-Lab ASCII FILE\nthis run was aborted\n")

    assert run_status(["status", "--data-dir", str(data_dir)]) == 1
    before = capsys.readouterr().out
    assert "none recorded" in before and "stale partitions (raw files newer than their tables, or never built): 2" in before
    assert f"{CELLS[0]}|cycling: never built" in before

    home = write_instance_yaml(data_dir / ".dagster")  # where `bigmap materialize` records its runs
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert materialize_all(data_dir, instance=instance).succeeded
    capsys.readouterr()

    assert run_status(["status", "--data-dir", str(data_dir)]) == 1  # the unreadable file is an open issue
    after = capsys.readouterr().out
    assert "last 2 run(s):" in after and after.count("SUCCESS") == 2  # one run over both cells, the summary
    assert f"{CELLS[0]}|cycling" in after and f"{CELLS[1]}|cycling" in after and "summary_job" in after
    assert "stale partitions (raw files newer than their tables, or never built): 0" in after
    assert "open ingest issues: 1" in after and f"raw/cycling/{CELLS[1]}/notes.mpt" in after

    newer = data_dir / "raw" / "cycling" / CELLS[0] / f"{CELLS[0]}_C01.mpt"
    newer.write_bytes(newer.read_bytes() + b"\n")  # new content, written later
    later = time.time() + 60
    os.utime(newer, (later, later))
    run_status(["status", "--data-dir", str(data_dir), "--runs", "1"])
    touched = capsys.readouterr().out
    assert "last 1 run(s):" in touched
    assert "stale partitions (raw files newer than their tables, or never built): 1" in touched
    assert f"{CELLS[0]}|cycling: raw/cycling/{CELLS[0]}/{CELLS[0]}_C01.mpt is newer than raw_files, cycling_timeseries" in touched
