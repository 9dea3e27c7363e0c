"""``bigmap sql`` on a lake in an S3 bucket (moto) is the same read-only door as on a local lake:
nothing written to the bucket or to files, no file or bucket read through SQL, settings locked."""

from __future__ import annotations

import re
import urllib.request

import duckdb
import pytest

pytest.importorskip("deltalake", reason="deltalake is a main dependency")

from bigmap_assets.warehouse import catalog, storage  # noqa: E402
from bigmap_assets.warehouse.delta_lake import DeltaLake  # noqa: E402
from bigmap_assets_tests.s3server import s3_endpoint, s3_lake  # noqa: E402,F401 (fixtures)
from bigmap_assets_tests.warehouse.test_sql_door import _timeseries, check_allow_files, count, sql  # noqa: E402


@pytest.fixture()
def data_dir(s3_lake, tmp_path, monkeypatch):
    lake = DeltaLake(s3_lake)
    lake.write("cycling_timeseries", _timeseries("S1", 4), {"sample_id": "S1"})
    lake.write("cycling_timeseries", _timeseries("S2", 3), {"sample_id": "S2"})
    monkeypatch.setenv(storage.LAKE_ENV, s3_lake)
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def bucket_keys(s3_endpoint: str, s3_lake: str) -> list[str]:
    bucket = s3_lake.removeprefix("s3://").split("/")[0]
    listing = urllib.request.urlopen(f"{s3_endpoint}/{bucket}?list-type=2").read().decode()
    return sorted(re.findall(r"<Key>(.*?)</Key>", listing))


def test_queries_answer_from_the_bucket(data_dir, capsys):
    assert sql(data_dir, "SELECT sample_id, count(*) AS n FROM cycling_timeseries GROUP BY 1 ORDER BY 1") == 0
    assert capsys.readouterr().out.splitlines() == ["sample_id,n", "S1,4", "S2,3"]


def test_copy_into_the_lake_or_to_a_file_is_refused(data_dir, s3_endpoint, s3_lake, tmp_path, capsys):
    before = bucket_keys(s3_endpoint, s3_lake)
    assert any(key.startswith("lake/cycling_timeseries/") for key in before)
    target = f"{s3_lake}/cycling_timeseries/sample_id=S1/part-9.parquet"
    for statement in (f"COPY (SELECT * FROM range(1000)) TO '{target}'",
                      f"SELECT 1; COPY (SELECT * FROM range(1000)) TO '{target}'",
                      f"EXPLAIN ANALYZE COPY (SELECT * FROM range(1000)) TO '{target}'",
                      f"COPY (SELECT * FROM cycling_timeseries) TO '{tmp_path / 'leak.csv'}'"):
        assert sql(data_dir, statement) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "only queries can be run on the warehouse, not COPY" in err
    assert bucket_keys(s3_endpoint, s3_lake) == before and count(data_dir) == 7
    assert not (tmp_path / "leak.csv").exists()


def test_attach_create_and_settings_are_refused(data_dir, tmp_path, capsys):
    for statement, kind in ((f"ATTACH '{tmp_path / 'c.duckdb'}' AS c", "ATTACH"),
                            ("CREATE OR REPLACE VIEW cycling_timeseries AS SELECT 1 AS x", "CREATE"),
                            ("SET enable_external_access = true", "SET"), ("INSTALL httpfs", "LOAD"),
                            ("LOAD httpfs", "LOAD")):
        assert sql(data_dir, statement) == 2, statement
        assert f"not {kind}" in capsys.readouterr().err
    assert not (tmp_path / "c.duckdb").exists() and count(data_dir) == 7


def test_the_connection_itself_reads_and_writes_nothing_and_is_locked(data_dir, s3_endpoint, s3_lake, tmp_path):
    """The same routes on the connection ``catalog.connect`` hands out, without the query-only check."""
    before = bucket_keys(s3_endpoint, s3_lake)
    con = catalog.connect(data_dir / "warehouse")
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"COPY (SELECT 1 AS x) TO '{tmp_path / 'x.csv'}'")
    with pytest.raises(duckdb.Error):  # no S3 through DuckDB: no extension may be loaded, no file system reached
        con.execute(f"COPY (SELECT 1 AS x) TO '{s3_lake}/cycling_timeseries/sample_id=S1/part-9.parquet'")
    with pytest.raises(duckdb.Error):
        con.execute(f"SELECT * FROM read_parquet('{s3_lake}/cycling_timeseries/*/*.parquet')")
    with pytest.raises(duckdb.PermissionException):
        con.execute("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"ATTACH '{tmp_path / 'c.duckdb'}' AS c")
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        con.execute("SET enable_external_access = true")
    with pytest.raises(duckdb.Error):
        con.execute("LOAD httpfs")
    assert con.execute("SELECT count(*) FROM cycling_timeseries").fetchone() == (7,)
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "c.duckdb").exists()
    assert bucket_keys(s3_endpoint, s3_lake) == before


def test_allow_files_reads_the_analysts_own_files_and_still_writes_nothing(data_dir, tmp_path, capsys):
    check_allow_files(data_dir, tmp_path, capsys)
