"""Every raw file accounted for, through Dagster: refused folders, stray files, links out, a FIFO and an
unregistered cell all land in ingest_issues, and the accounting check passes (and fails when it should)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from bigmap_assets.cli import main
from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.materialize import QUIET, materialize_all
from bigmap_assets.defs.resources import WarehouseResource
from bigmap_assets.warehouse import catalog

REPO_DATA = Path(__file__).resolve().parents[2] / "data"
CELL = "LNO-REF-A-01"
UNREGISTERED = "LNO-NEW-01"


@pytest.fixture()
def hostile(tmp_path) -> Path:
    """One registered cell, one unregistered, and everything the walker must refuse."""
    if not (REPO_DATA / "raw" / "cycling" / CELL).is_dir():
        pytest.skip("example data not generated (python -m bigmap_assets.simulate --data-dir data)")
    data = tmp_path / "data"
    secret = tmp_path / "outside" / "secret.mpt"
    secret.parent.mkdir()
    secret.write_text("not for the warehouse\n")
    shutil.copytree(REPO_DATA / "registry", data / "registry")
    cycling = data / "raw" / "cycling"
    continuation = REPO_DATA / "raw" / "cycling" / CELL / f"{CELL}_C01_continuation.mpt"  # the smaller file
    for folder in (CELL, UNREGISTERED, "bad id;drop", "cell 7 (copy)", "LNO-ÜNI-01", "..."):
        (cycling / folder).mkdir(parents=True)
        shutil.copy(continuation, cycling / folder / "c.mpt")
    shutil.copy(continuation, cycling / "stray.mpt")
    os.symlink(secret.parent, cycling / "EVIL")
    os.symlink(secret, cycling / CELL / "passwd.mpt")
    os.symlink("loop", cycling / CELL / "loop")
    os.mkfifo(cycling / CELL / "pipe.mpt")
    (data / "raw" / "notes.txt").write_text("stray\n")
    return data


def _issues_csv(data: Path, capsys) -> list[dict]:
    capsys.readouterr()
    assert main(["issues", "--all", "--data-dir", str(data), "--format", "csv"]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_every_refusal_reaches_ingest_issues_and_the_check_passes(hostile, capsys):
    with dg.instance_for_test() as instance:
        report = materialize_all(hostile, instance=instance)
        assert report.succeeded and report.unaccounted == []
        assert [(job, ok) for job, _, ok in report.runs] == [("cycling_job", True), ("summary_job", True)]  # one run
        assert report.runs[0][1] == "...".join(f"{s}|cycling" for s in sorted([CELL, UNREGISTERED]))

        rows = _issues_csv(hostile, capsys)
        errors = {r["path"]: (r["technique"], r["sample_id"], r["reason"]) for r in rows if r["severity"] == "error"}
        assert set(errors) == {f"raw/cycling/{n}" for n in ("bad id;drop", "cell 7 (copy)", "LNO-ÜNI-01", "...",
                                                            "stray.mpt", "EVIL")} | {
            f"raw/cycling/{CELL}/{n}" for n in ("passwd.mpt", "loop", "pipe.mpt")} | {"raw/notes.txt"}
        assert errors["raw/cycling/bad id;drop"] == ("cycling", "", "sample folder refused: 'bad id;drop' is not a "
                                                     "sample ID: use letters, digits, '.', '_' and '-' only; its 1 "
                                                     "file(s) are not read")
        assert errors["raw/notes.txt"][:2] == ("raw", "")
        assert errors[f"raw/cycling/{CELL}/pipe.mpt"] == ("cycling", CELL, "not read: a FIFO (named pipe), not a "
                                                                         "regular file")
        assert errors["raw/cycling/EVIL"][2].endswith("outside the data folder: not followed")
        warnings = {(r["sample_id"], r["path"], r["reason"]) for r in rows if r["severity"] == "warning"}
        assert (UNREGISTERED, f"raw/cycling/{UNREGISTERED}/c.mpt", "not in the registry: timezone assumed UTC") \
            in warnings

        con = catalog.connect(hostile / "warehouse")
        paths = [p for (p,) in con.execute("SELECT path FROM raw_files WHERE technique = 'cycling'").fetchall()]
        assert set(paths) == {f"raw/cycling/{CELL}/c.mpt", f"raw/cycling/{UNREGISTERED}/c.mpt"}  # nothing
        # behind a link out was hashed

        # a file that lands after the partition runs: the next summary run's check names it
        late = hostile / "raw" / "cycling" / CELL / "late.mpt"
        late.write_text("arrived late\n")
        summary = build_defs(str(hostile)).resolve_job_def("summary_job").execute_in_process(
            instance=instance, run_config=QUIET)
        [evaluation] = [e for e in summary.get_asset_check_evaluations()
                        if e.check_name == "every_raw_file_accounted_for"]
        assert not evaluation.passed and evaluation.metadata["files"].value == [f"raw/cycling/{CELL}/late.mpt"]

    capsys.readouterr()
    assert main(["status", "--data-dir", str(hostile)]) == 1
    out = capsys.readouterr().out
    assert "unaccounted raw files (neither ingested nor in ingest_issues): 1" in out
    assert f"  raw/cycling/{CELL}/late.mpt" in out
    assert "samples not in the registry (times assumed UTC unless a file states its zone, no active mass): 1" in out
    assert f"  {UNREGISTERED}|cycling" in out


def test_the_sensor_requests_the_runs_that_record_a_new_refusal(hostile):
    defs = build_defs(str(hostile))
    sensor = defs.resolve_sensor_def("raw_file_sensor")
    warehouse = WarehouseResource(data_dir=str(hostile), settle_seconds=0)
    then = time.time() - 60
    for path in (hostile / "raw").rglob("*"):
        if not path.is_symlink() and not path.is_fifo():
            os.utime(path, (then, then))
    with dg.instance_for_test() as instance:
        first = sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse}))
        assert "summary_job" in {r.job_name for r in first.run_requests}
        instance.add_dynamic_partitions("cycling_samples", [CELL, UNREGISTERED])
        quiet = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources={"warehouse": warehouse}))
        assert quiet.run_requests == []

        os.mkfifo(hostile / "raw" / "cycling" / UNREGISTERED / "second.pipe")
        (hostile / "raw" / "cycling" / "another bad name").mkdir()
        second = sensor(dg.build_sensor_context(instance=instance, cursor=quiet.cursor, resources={"warehouse": warehouse}))
        assert sorted((r.job_name, str(r.partition_key)) for r in second.run_requests) == [
            ("cycling_job", f"{UNREGISTERED}|cycling"), ("summary_job", "None")]
