"""Views that stay quick over many parts: plain scans over whole tables, same answers, few footers opened."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bigmap_assets.warehouse import catalog
from bigmap_assets.warehouse.lake import Lake

SAMPLES = ("S1", "S2", "S3")


def _timeseries(sample_id: str, n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({"sample_id": [sample_id] * n, "test_time_second": np.arange(n, dtype=float),
                     "voltage_volt": 3.0 + rng.random(n), "current_ampere": rng.normal(0.0, 1e-3, n),
                     "cycle_count": np.arange(n) // 7, "step_type": rng.choice(["CC_CHG", "CC_DCH", "REST"], n)})


@pytest.fixture()
def warehouse(tmp_path):
    """Three cells' time series (the first in two parts) and their SoH rows."""
    lake = Lake(tmp_path / "warehouse" / "lake")
    for seed, sample in enumerate(SAMPLES):
        table = _timeseries(sample, 50 + 10 * seed, seed)
        if seed == 0:
            lake.write_growing("cycling_timeseries", [table.slice(0, 30)], lambda t=table: t.slice(30),
                               {"sample_id": sample}, state={})
        else:
            lake.write("cycling_timeseries", table, {"sample_id": sample})
        lake.write("cycling_soh", pa.table({"sample_id": [sample] * 2, "checkup_index": [0, 1],
                                            "soh": [1.0, 0.9 - seed / 100]}), {"sample_id": sample})
    return tmp_path / "warehouse"


QUERIES = (
    "SELECT sample_id, count(*), max(voltage_volt), round(sum(current_ampere), 12) FROM cycling_timeseries GROUP BY 1 ORDER BY 1",
    "SELECT step_type, cycle_count, round(avg(voltage_volt), 12) FROM cycling_timeseries GROUP BY ALL ORDER BY ALL",
    "SELECT * FROM cycling_timeseries WHERE sample_id = 'S2' ORDER BY test_time_second",
    "SELECT * FROM cycling_soh ORDER BY sample_id, checkup_index",
    "SELECT count(*) FROM cycling_cycles",
)


def _view_sql(con: duckdb.DuckDBPyConnection, name: str) -> str:
    return con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [name]).fetchall()[0][0]


def test_views_over_whole_tables_skip_union_by_name_and_answer_as_before(warehouse):
    lake = Lake(warehouse / "lake")
    assert {"cycling_timeseries", "cycling_soh", "cycling_cycles"} <= set(catalog.whole_tables(lake))
    fast = catalog.connect(warehouse)
    careful = duckdb.connect()
    assert catalog.create_views(careful, lake) == []  # no table known whole: union_by_name everywhere
    assert "union_by_name" not in _view_sql(fast, "cycling_timeseries")
    assert "union_by_name" in _view_sql(careful, "cycling_timeseries")
    for query in QUERIES:
        assert catalog.query(fast, query) == (careful.sql(query).columns, careful.sql(query).fetchall()), query
    assert catalog.query(fast, QUERIES[0])[1][0][:2] == ("S1", 50)  # both parts of the grown cell
    published = duckdb.connect(str(catalog.refresh(warehouse)), read_only=True)
    assert "union_by_name" not in _view_sql(published, "cycling_timeseries")
    for query in QUERIES:
        assert published.sql(query).fetchall() == careful.sql(query).fetchall(), query


def test_a_part_of_an_older_version_written_after_the_refresh_reads_with_nulls(warehouse):
    catalog.refresh(warehouse)
    assert "cycling_timeseries" in catalog.read_state(warehouse)
    lake = Lake(warehouse / "lake")
    path = lake.write("cycling_timeseries", _timeseries("S4", 5, 4), {"sample_id": "S4"})
    pq.write_table(pq.read_table(path).drop_columns(["step_type"]), path)  # as an older version wrote it
    con = catalog.connect(warehouse)
    assert "union_by_name" in _view_sql(con, "cycling_timeseries")
    rows = catalog.query(con, "SELECT sample_id, count(*), count(step_type) FROM cycling_timeseries GROUP BY 1 ORDER BY 1")
    assert rows[1] == [("S1", 50, 50), ("S2", 60, 60), ("S3", 70, 70), ("S4", 5, 0)]
    catalog.refresh(warehouse)
    assert "cycling_timeseries" not in catalog.read_state(warehouse) and "cycling_soh" in catalog.read_state(warehouse)


def test_only_the_parts_changed_since_the_last_check_are_opened(warehouse, monkeypatch):
    monkeypatch.setattr(catalog, "CHECK_MARGIN_SECOND", 0.0)
    opened = []
    check = catalog._holds_every_column
    monkeypatch.setattr(catalog, "_holds_every_column", lambda path, expected: opened.append(path) or check(path, expected))
    catalog.refresh(warehouse)
    assert len(opened) == 2 * len(SAMPLES) + 1  # every part once: three soh, four time series
    opened.clear()
    catalog.connect(warehouse)
    catalog.refresh(warehouse)
    assert opened == []
    Lake(warehouse / "lake").write("cycling_soh", pa.table({"sample_id": ["S2"], "checkup_index": [0], "soh": [1.0]}),
                                   {"sample_id": "S2"})
    con = catalog.connect(warehouse)
    assert [p.split("/lake/")[1] for p in opened] == ["cycling_soh/sample_id=S2/part-0.parquet"]
    assert catalog.query(con, "SELECT count(*) FROM cycling_soh")[1] == [(5,)]


def test_reruns_of_a_partition_keep_its_part_count_bounded(tmp_path):
    lake = Lake(tmp_path)
    partition = {"sample_id": "S1"}
    for rerun in range(10):
        table = _timeseries("S1", 20 + rerun, rerun)
        lake.write_growing("cycling_timeseries", [table.slice(0, 10)], lambda t=table: t.slice(10), partition, state={})
        assert lake.part_count("cycling_timeseries", partition) == 2
        lake.write("cycling_soh", pa.table({"sample_id": ["S1"], "checkup_index": [0]}), partition)
        assert lake.part_count("cycling_soh", partition) == 1
    assert lake.read("cycling_timeseries", partition).num_rows == 29


def test_a_connection_for_one_query_makes_the_views_it_names_and_answers_alike(warehouse):
    assert catalog.tables_named_in('SELECT * FROM "CYCLING_SOH" s JOIN samples USING (sample_id)') == {"cycling_soh",
                                                                                                       "samples"}
    assert catalog.tables_named_in("SHOW TABLES") is None and catalog.tables_named_in("SELECT 1") is None
    query = "SELECT sample_id, max(soh) FROM Cycling_SoH GROUP BY 1 ORDER BY 1"
    narrow = catalog.connect(warehouse, for_query=query)
    views = narrow.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    assert views == [("cycling_soh",)]
    assert catalog.query(narrow, query) == catalog.query(catalog.connect(warehouse), query)
    assert catalog.query(narrow, query)[1] == [("S1", 1.0), ("S2", 1.0), ("S3", 1.0)]
    every = catalog.connect(warehouse, for_query="SHOW TABLES")
    assert len(catalog.query(every, "SHOW TABLES")[1]) == len(catalog.schemas.TABLES)
