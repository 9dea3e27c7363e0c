"""The views a refresh records, reused by a connection while the parts and the code are those they were
made over: the same answers as views made from the parts, and never reused after a change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from bigmap_assets.warehouse import catalog, door
from bigmap_assets.warehouse.lake import Lake

from .test_catalog_scale import QUERIES, SAMPLES, _timeseries


@pytest.fixture()
def warehouse(tmp_path):
    """Three cells' time series and SoH rows, the catalog refreshed."""
    lake = Lake(tmp_path / "warehouse" / "lake")
    for seed, sample in enumerate(SAMPLES):
        lake.write("cycling_timeseries", _timeseries(sample, 50 + 10 * seed, seed), {"sample_id": sample})
        lake.write("cycling_soh", pa.table({"sample_id": [sample] * 2, "checkup_index": [0, 1],
                                            "soh": [1.0, 0.9 - seed / 100]}), {"sample_id": sample})
    catalog.refresh(tmp_path / "warehouse")
    return tmp_path / "warehouse"


def test_recorded_views_answer_as_views_made_from_the_parts(warehouse):
    for query in QUERIES:
        recorded = door.recorded_views(warehouse, for_query=query)
        assert recorded is not None, query
        assert door.query(recorded, query) == door.query(catalog.connect_from_parts(warehouse, for_query=query), query)
    every = door.recorded_views(warehouse)
    names = {row[0] for row in door.query(every, "SHOW TABLES")[1]}
    assert names == {row[0] for row in door.query(catalog.connect_from_parts(warehouse), "SHOW TABLES")[1]}


def test_the_recorded_door_is_as_closed_as_the_other(warehouse, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n")
    con = door.recorded_views(warehouse, for_query="SELECT * FROM cycling_soh")
    with pytest.raises(ValueError, match="only queries"):
        door.query(con, "COPY cycling_soh TO 'x.csv'")
    with pytest.raises(ValueError):
        door.query(con, f"SELECT * FROM read_csv('{outside}')")
    with pytest.raises(ValueError):
        door.query(con, "SET enable_external_access = true")
    opened = door.recorded_views(warehouse, for_query="SELECT 1", allow_files=True)
    assert door.query(opened, f"SELECT * FROM read_csv('{outside}')")[1] == [(1,)]


@pytest.mark.parametrize("change", ["new part", "part replaced", "part removed", "other code", "folder moved"])
def test_recorded_views_are_not_reused_after_a_change(warehouse, tmp_path, monkeypatch, change):
    query = "SELECT sample_id, count(*) FROM cycling_soh GROUP BY 1 ORDER BY 1"
    lake = Lake(warehouse / "lake")
    if change == "new part":
        lake.write("cycling_soh", pa.table({"sample_id": ["S4"], "checkup_index": [0], "soh": [1.0]}), {"sample_id": "S4"})
        expected = [("S1", 2), ("S2", 2), ("S3", 2), ("S4", 1)]
    elif change == "part replaced":
        lake.write("cycling_soh", pa.table({"sample_id": ["S2"], "checkup_index": [0], "soh": [1.0]}), {"sample_id": "S2"})
        expected = [("S1", 2), ("S2", 1), ("S3", 2)]
    elif change == "part removed":
        shutil.rmtree(warehouse / "lake" / "cycling_soh" / "sample_id=S3")
        expected = [("S1", 2), ("S2", 2)]
    elif change == "other code":
        monkeypatch.setattr(door, "code_fingerprint", lambda: "another version")
        expected = [("S1", 2), ("S2", 2), ("S3", 2)]
    else:
        (tmp_path / "moved").mkdir()
        warehouse = Path(shutil.move(warehouse, tmp_path / "moved" / "warehouse"))
        expected = [("S1", 2), ("S2", 2), ("S3", 2)]
    assert door.recorded_views(warehouse, for_query=query) is None
    assert door.query(door.connect(warehouse, for_query=query), query)[1] == expected
    catalog.refresh(warehouse)  # recorded again: reused
    assert door.query(door.recorded_views(warehouse, for_query=query), query)[1] == expected


def test_a_change_to_one_table_leaves_the_others_recorded_views_in_use(warehouse):
    Lake(warehouse / "lake").write("cycling_soh", pa.table({"sample_id": ["S4"], "checkup_index": [0], "soh": [1.0]}),
                                   {"sample_id": "S4"})
    assert door.recorded_views(warehouse, for_query="SELECT count(*) FROM cycling_soh") is None
    assert door.recorded_views(warehouse, for_query="SELECT count(*) FROM cycling_timeseries") is not None
    assert door.recorded_views(warehouse, for_query="SHOW TABLES") is None  # every view


def test_a_part_left_out_at_the_refresh_is_reported_by_the_recorded_views_too(warehouse):
    part = next((warehouse / "lake" / "cycling_soh" / "sample_id=S2").glob("*.parquet"))
    part.write_bytes(part.read_bytes()[:60])
    catalog.refresh(warehouse)
    query = "SELECT sample_id, count(*) FROM cycling_soh GROUP BY 1 ORDER BY 1"
    recorded, made = [], []
    con = door.recorded_views(warehouse, for_query=query, warn=recorded.append)
    assert door.query(con, query)[1] == [("S1", 2), ("S3", 2)]
    catalog.connect_from_parts(warehouse, for_query=query, warn=made.append)
    assert recorded == made and len(recorded) == 1 and str(part) in recorded[0]


def test_bigmap_sql_over_recorded_views_starts_without_pyarrow(warehouse):
    program = ("import sys; from bigmap_assets.cli import main; "
               f"code = main(['sql', 'SELECT sample_id, soh FROM cycling_soh ORDER BY 1, 2', '--data-dir', {str(warehouse.parent)!r}]); "
               "print('pyarrow' in sys.modules, 'bigmap_assets.schemas' in sys.modules); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "BIGMAP_LAKE"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "False False" and "S3" in done.stdout


@pytest.mark.parametrize("sql", [
    "CREATE VIEW cycling_soh AS SELECT 1; COPY (SELECT 1) TO 'x.csv'",
    "COPY (SELECT 1) TO 'written.csv'",
    "CREATE TABLE cycling_soh AS SELECT 1",
])
def test_a_record_edited_to_do_more_than_make_a_view_is_not_run(warehouse, tmp_path, monkeypatch, sql):
    monkeypatch.chdir(tmp_path)
    _edit_record(warehouse, "cycling_soh", sql)
    query = "SELECT sample_id, count(*) FROM cycling_soh GROUP BY 1 ORDER BY 1"
    assert door.recorded_views(warehouse, for_query=query) is None
    assert not (tmp_path / "written.csv").exists() and not (tmp_path / "x.csv").exists()
    assert door.query(door.connect(warehouse, for_query=query), query)[1] == [("S1", 2), ("S2", 2), ("S3", 2)]


def test_a_recorded_view_edited_to_read_outside_the_lake_cannot_read_it(warehouse, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("secret\n1\n")
    _edit_record(warehouse, "cycling_soh", f"CREATE VIEW cycling_soh AS SELECT * FROM read_csv('{outside}')")
    con = door.recorded_views(warehouse, for_query="SELECT * FROM cycling_soh")
    with pytest.raises(ValueError, match="(?i)permission|access"):
        door.query(con, "SELECT * FROM cycling_soh")


def _edit_record(warehouse, table: str, sql: str) -> None:
    state_path = warehouse / "catalog.json"
    state = json.loads(state_path.read_text())
    state["views"]["tables"][table]["sql"] = sql
    state_path.write_text(json.dumps(state))


@pytest.fixture()
def gathered(tmp_path, monkeypatch):
    """The three cells' tables with copies gathered from two parts on (the default is 32)."""
    monkeypatch.setattr(catalog, "GATHER_MIN_PARTS", 2)
    lake = Lake(tmp_path / "warehouse" / "lake")
    for seed, sample in enumerate(SAMPLES):
        lake.write("cycling_timeseries", _timeseries(sample, 50 + 10 * seed, seed), {"sample_id": sample})
        lake.write("cycling_soh", pa.table({"sample_id": [sample] * 2, "checkup_index": [0, 1],
                                            "soh": [1.0, 0.9 - seed / 100]}), {"sample_id": sample})
    catalog.refresh(tmp_path / "warehouse", gather=True)
    return tmp_path / "warehouse"


def _copies(warehouse: Path) -> list[str]:
    return sorted(p.name.rsplit("-", 1)[0] for p in (warehouse / "gathered").glob("*.parquet"))


def test_one_query_reads_the_gathered_copy_and_gets_the_answer_of_the_parts(gathered):
    assert _copies(gathered) == ["cycling_soh", "cycling_timeseries"]
    for query in QUERIES:
        recorded = door.recorded_views(gathered, for_query=query)
        views = dict(recorded.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
        assert views and all(("/gathered/" in sql) == (name in _copies(gathered)) for name, sql in views.items()), query
        assert door.query(recorded, query) == door.query(catalog.connect_from_parts(gathered, for_query=query), query)
    kept_open = door.recorded_views(gathered)  # a connection for many queries reads the parts
    sql = kept_open.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'cycling_soh'").fetchone()[0]
    assert "/gathered/" not in sql and "/lake/" in sql


def test_a_changed_part_is_never_answered_from_an_older_copy(gathered):
    query = "SELECT sample_id, count(*) FROM cycling_soh GROUP BY 1 ORDER BY 1"
    Lake(gathered / "lake").write("cycling_soh", pa.table({"sample_id": ["S2"], "checkup_index": [0], "soh": [1.0]}),
                                  {"sample_id": "S2"})
    assert door.recorded_views(gathered, for_query=query) is None
    assert door.query(door.connect(gathered, for_query=query), query)[1] == [("S1", 2), ("S2", 1), ("S3", 2)]
    catalog.refresh(gathered)  # a partition's run: no new copy, the timeseries' still that of its parts
    assert _copies(gathered) == ["cycling_soh", "cycling_timeseries"]
    tables = json.loads((gathered / "catalog.json").read_text())["views"]["tables"]
    assert "gathered" not in tables["cycling_soh"] and "gathered" in tables["cycling_timeseries"]
    assert door.query(door.recorded_views(gathered, for_query=query), query)[1] == [("S1", 2), ("S2", 1), ("S3", 2)]
    catalog.refresh(gathered, gather=True)  # a new copy; the old one is neither recorded now nor before: removed
    assert _copies(gathered) == ["cycling_soh", "cycling_timeseries"]
    tables = json.loads((gathered / "catalog.json").read_text())["views"]["tables"]
    assert tables["cycling_soh"]["gathered"]["path"].endswith(f"cycling_soh-{tables['cycling_soh']['parts'][:16]}.parquet")
    assert door.query(door.recorded_views(gathered, for_query=query), query)[1] == [("S1", 2), ("S2", 1), ("S3", 2)]


def test_a_missing_copy_or_a_copy_outside_its_folder_is_not_read(gathered, tmp_path):
    query = "SELECT count(*) FROM cycling_soh"
    for path in (gathered / "gathered").glob("cycling_soh-*.parquet"):
        path.unlink()
    assert door.query(door.recorded_views(gathered, for_query=query), query)[1] == [(6,)]  # from the parts
    state = json.loads((gathered / "catalog.json").read_text())
    outside = tmp_path / "elsewhere.parquet"
    shutil.copy(next((gathered / "gathered").glob("cycling_timeseries-*.parquet")), outside)
    state["views"]["tables"]["cycling_soh"]["gathered"] = {
        "path": str(outside), "sql": f"CREATE VIEW \"cycling_soh\" AS SELECT * FROM read_parquet('{outside}')"}
    (gathered / "catalog.json").write_text(json.dumps(state))
    assert door.query(door.recorded_views(gathered, for_query=query), query)[1] == [(6,)]


def test_a_copy_stays_one_refresh_longer_for_a_query_that_may_read_it(gathered):
    lake = Lake(gathered / "lake")

    def recorded() -> str:
        return json.loads((gathered / "catalog.json").read_text())["views"]["tables"]["cycling_soh"]["gathered"]["path"]

    made = [recorded()]
    for soh in (0.5, 0.4):
        lake.write("cycling_soh", pa.table({"sample_id": ["S2"], "checkup_index": [0], "soh": [soh]}), {"sample_id": "S2"})
        catalog.refresh(gathered, gather=True)
        made.append(recorded())
    assert len(set(made)) == 3
    assert {str(p) for p in (gathered / "gathered").glob("cycling_soh-*.parquet")} == set(made[1:])
    query = "SELECT soh FROM cycling_soh WHERE sample_id = 'S2'"
    assert door.query(door.recorded_views(gathered, for_query=query), query)[1] == [(0.4,)]
