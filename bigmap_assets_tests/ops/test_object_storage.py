"""The example data materialised into a bucket of a local S3 server: the README's queries answer as from the local lake.

Cost against the local lake: ``benchmarks/lake_storage.py`` (figures in docs/operations.md § 6).
"""

from __future__ import annotations

import urllib.request

import dagster as dg
import pytest

from bigmap_assets.cli import main
from bigmap_assets.defs.materialize import materialize_all
from bigmap_assets.warehouse import catalog, storage
from bigmap_assets_tests.s3server import s3_endpoint, s3_lake  # noqa: F401 (fixtures)

from .conftest import copy_cells

pytestmark = pytest.mark.ops
CELLS = ["LNO-REF-A-01", "LNO-LTD-B-01"]
README_QUERIES = [
    "SELECT series, provider, checkup_index, mean_soh, std_soh FROM cycling_series ORDER BY 1, 2, 3",
    "SELECT sample_id, eol_cycle_count FROM cycling_soh WHERE end_of_life ORDER BY eol_cycle_count",
    "SELECT stage, count(*) FROM cycling_cycles GROUP BY stage ORDER BY stage",
    "SELECT technique, path, reason FROM ingest_issues ORDER BY path",
    """SELECT s.sample_id, s.series, max(s.checkup_index) AS checkups, min(s.soh) AS last_soh,
              any_value(s.eol_cycle_count) AS eol_cycle
       FROM cycling_soh s GROUP BY ALL ORDER BY eol_cycle, s.sample_id""",
    "SELECT sample_id, count(*), round(sum(voltage_volt), 6) FROM cycling_timeseries GROUP BY 1 ORDER BY 1",
]


def _materialize(data_dir) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        assert materialize_all(data_dir, instance=instance).succeeded


def _answers(data_dir) -> list:
    con = catalog.connect(data_dir / "warehouse")
    return [con.sql(query).fetchall() for query in README_QUERIES]


def test_the_example_data_in_a_bucket_answers_the_readme_queries_as_the_local_lake(
        example_data, tmp_path, s3_lake, s3_endpoint, monkeypatch, capsys):
    local_dir = copy_cells(example_data, tmp_path / "local", CELLS, at_second=1.7e9)
    remote_dir = copy_cells(example_data, tmp_path / "remote", CELLS, at_second=1.7e9)
    for data_dir in (local_dir, remote_dir):  # an unreadable file: a row in ingest_issues
        (data_dir / "raw" / "cycling" / CELLS[1] / "notes.mpt").write_text("EC-Lab ASCII FILE\nthis run was aborted\n")

    monkeypatch.delenv(storage.LAKE_ENV, raising=False)
    _materialize(local_dir)
    local_answers = _answers(local_dir)

    monkeypatch.setenv(storage.LAKE_ENV, s3_lake)
    _materialize(remote_dir)
    remote_answers = _answers(remote_dir)

    assert not (remote_dir / "warehouse" / "lake").exists()  # nothing of the lake on the local disk
    bucket, prefix = s3_lake.removeprefix("s3://").split("/", 1)
    listing = urllib.request.urlopen(f"{s3_endpoint}/{bucket}?list-type=2&prefix={prefix}/cycling_soh/_delta_log/").read()
    assert b"00000000000000000000.json" in listing  # a Delta table in the bucket
    assert all(local_answers)  # every query has rows
    assert [len(a) for a in local_answers[:3]] != [0, 0, 0]
    assert remote_answers == local_answers
    assert local_answers[3][0][1] == f"raw/cycling/{CELLS[1]}/notes.mpt"

    capsys.readouterr()
    assert main(["sql", README_QUERIES[1], "--data-dir", str(remote_dir), "--format", "csv"]) == 0  # `bigmap sql`
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "sample_id,eol_cycle_count" and len(printed) == len(local_answers[1]) + 1
