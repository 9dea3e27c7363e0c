"""``bigmap sql`` is a read-only door: each way the issue found to write or tamper through it is refused."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from bigmap_assets.cli import main
from bigmap_assets.warehouse import catalog
from bigmap_assets.warehouse.lake import Lake


def _timeseries(sample_id: str, n: int) -> pa.Table:
    return pa.table({"sample_id": [sample_id] * n, "test_time_second": [float(i) for i in range(n)],
                     "voltage_volt": [3.5] * n, "current_ampere": [1e-3] * n})


@pytest.fixture()
def data_dir(tmp_path):
    lake = Lake(tmp_path / "warehouse" / "lake")
    lake.write("cycling_timeseries", _timeseries("S1", 4), {"sample_id": "S1"})
    lake.write("cycling_timeseries", _timeseries("S2", 3), {"sample_id": "S2"})
    catalog.refresh(tmp_path / "warehouse")
    return tmp_path


def sql(data_dir, query: str, *extra: str) -> int:
    return main(["sql", query, "--data-dir", str(data_dir), "--format", "csv", *extra])


def count(data_dir) -> int:
    return catalog.query(catalog.connect(data_dir / "warehouse"), "SELECT count(*) FROM cycling_timeseries")[1][0][0]


def lake_files(data_dir) -> list[str]:
    return sorted(str(p.relative_to(data_dir)) for p in (data_dir / "warehouse").rglob("*") if p.is_file())


def test_copy_to_any_file_is_refused(data_dir, tmp_path_factory, capsys):
    target = tmp_path_factory.mktemp("outside") / "leak.csv"
    assert sql(data_dir, f"COPY (SELECT * FROM cycling_timeseries) TO '{target}'") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "only queries can be run on the warehouse, not COPY" in err
    assert not target.exists()


def test_copy_into_a_lake_partition_folder_is_refused_even_behind_a_query(data_dir, capsys):
    before = lake_files(data_dir)
    folder = data_dir / "warehouse" / "lake" / "cycling_timeseries" / "sample_id=S1"
    for statement in (f"COPY (SELECT * FROM range(1000)) TO '{folder}/part-9.parquet'",
                      f"SELECT 1; COPY (SELECT * FROM range(1000)) TO '{folder}/part-9.parquet'",
                      f"EXPLAIN ANALYZE COPY (SELECT * FROM range(1000)) TO '{folder}/part-9.parquet'"):
        assert sql(data_dir, statement) == 2
        assert "not COPY" in capsys.readouterr().err
    assert lake_files(data_dir) == before and count(data_dir) == 7


def test_attaching_the_catalog_to_replace_a_view_is_refused(data_dir, capsys):
    published = data_dir / "warehouse" / catalog.CATALOG_NAME
    before = published.read_bytes()
    attach = f"ATTACH '{published}' AS c; CREATE OR REPLACE VIEW c.cycling_timeseries AS SELECT 1 AS x"
    assert sql(data_dir, attach) == 2
    assert "not ATTACH" in capsys.readouterr().err
    assert sql(data_dir, "CREATE OR REPLACE VIEW cycling_timeseries AS SELECT 1 AS x") == 2
    assert "not CREATE" in capsys.readouterr().err
    assert published.read_bytes() == before
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM cycling_timeseries").fetchone() == (7,)


def test_the_connection_reads_only_the_lake_and_its_settings_are_locked(data_dir, tmp_path_factory):
    con = catalog.connect(data_dir / "warehouse")
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"ATTACH '{data_dir / 'warehouse' / catalog.CATALOG_NAME}'")
    with pytest.raises(duckdb.PermissionException):
        con.execute("SELECT * FROM read_csv('/etc/passwd')")
    with pytest.raises(duckdb.InvalidInputException, match="locked"):
        con.execute("SET enable_external_access = true")
    outside = tmp_path_factory.mktemp("outside") / "x.csv"
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"COPY (SELECT 1) TO '{outside}'")
    assert not outside.exists()


def check_allow_files(data_dir, folder, capsys) -> None:
    """``--allow-files`` lets a query read the analyst's own file in ``folder`` and still write nothing there."""
    own = folder / "cells.csv"
    own.write_text("sample_id,label\nS1,reference\n")
    query = (f"SELECT t.sample_id, c.label, count(*) AS n FROM cycling_timeseries t "
             f"JOIN read_csv('{own}') c USING (sample_id) GROUP BY ALL")
    assert sql(data_dir, query) == 2
    assert "Permission Error" in capsys.readouterr().err
    assert sql(data_dir, query, "--allow-files") == 0
    assert capsys.readouterr().out.splitlines() == ["sample_id,label,n", "S1,reference,4"]
    assert sql(data_dir, f"COPY (SELECT 1) TO '{folder / 'out.csv'}'", "--allow-files") == 2
    assert not (folder / "out.csv").exists()


def test_allow_files_reads_the_analysts_own_files_and_still_writes_nothing(data_dir, tmp_path_factory, capsys):
    check_allow_files(data_dir, tmp_path_factory.mktemp("analyst"), capsys)


def test_queries_of_every_kind_still_run(data_dir, capsys):
    for query in ("DESCRIBE cycling_timeseries", "SUMMARIZE cycling_timeseries", "SHOW TABLES",
                  "EXPLAIN SELECT count(*) FROM cycling_timeseries", "FROM cycling_timeseries LIMIT 1",
                  "WITH t AS (SELECT * FROM cycling_timeseries) SELECT count(*) FROM t"):
        assert sql(data_dir, query) == 0, query
    capsys.readouterr()
    assert sql(data_dir, "SELEC 1") == 2
    err = capsys.readouterr().err
    assert err.startswith("bigmap: error: Parser Error") and err.count("\n") == 1
