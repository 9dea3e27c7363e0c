import os

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bigmap_assets import schemas
from bigmap_assets.warehouse import catalog
from bigmap_assets.warehouse.lake import Lake


def _timeseries(n: int) -> pa.Table:
    return pa.table({
        "sample_id": ["S1"] * n,
        "test_time_second": [float(i) for i in range(n)],
        "voltage_volt": [3.5] * n,
        "current_ampere": [1e-3] * n,
        "unexpected_extra": [1] * n,
    })


def test_write_conforms_to_the_declared_schema_and_hive_layout(tmp_path):
    lake = Lake(tmp_path / "lake")
    path = lake.write("cycling_timeseries", _timeseries(3), {"sample_id": "S1"})
    assert path == tmp_path / "lake" / "cycling_timeseries" / "sample_id=S1" / "part-0.parquet"
    stored = pq.read_table(path)
    declared = schemas.TABLES["cycling_timeseries"].column_names
    assert stored.column_names == [c for c in declared if c != "sample_id"]
    assert stored.schema.field("voltage_volt").metadata[b"unit"] == b"V"
    back = lake.read("cycling_timeseries", {"sample_id": "S1"})
    assert back.column_names == declared
    assert back.column("sample_id").to_pylist() == ["S1"] * 3
    assert os.listdir(path.parent) == ["part-0.parquet"]  # no temp file left behind


def test_rewrite_replaces_rather_than_appends(tmp_path):
    lake = Lake(tmp_path)
    lake.write("cycling_timeseries", _timeseries(5), {"sample_id": "S1"})
    lake.write("cycling_timeseries", _timeseries(2), {"sample_id": "S1"})
    assert lake.read("cycling_timeseries", {"sample_id": "S1"}).num_rows == 2
    assert lake.partitions("cycling_timeseries") == [{"sample_id": "S1"}]


@pytest.mark.parametrize("bad", ["../etc", "a b", "", "x/y", "..", "S1|cv"])
def test_unsafe_partition_values_are_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="invalid partition value"):
        Lake(tmp_path).write("cycling_timeseries", _timeseries(1), {"sample_id": bad})


def test_missing_required_column_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="required column 'voltage_volt'"):
        Lake(tmp_path).write("cycling_timeseries", pa.table({"sample_id": ["S1"], "test_time_second": [0.0],
                                                             "current_ampere": [0.0]}), {"sample_id": "S1"})


def test_catalog_has_typed_empty_views_and_reads_hive_ids_as_text(tmp_path):
    warehouse = tmp_path / "warehouse"
    Lake(warehouse / "lake").write("cycling_timeseries", _timeseries(4), {"sample_id": "0007"})
    path = catalog.refresh(warehouse)
    assert path.name == "catalog.duckdb" and not list(warehouse.glob(".*tmp"))
    con = duckdb.connect(str(path), read_only=True)
    assert con.sql("SELECT DISTINCT sample_id FROM cycling_timeseries").fetchall() == [("0007",)]
    assert con.execute("SELECT count(*) FROM cycling_soh").fetchone() == (0,)
    types = {row[0]: row[1] for row in con.execute("DESCRIBE cycling_soh").fetchall()}
    assert types["soh"] == "DOUBLE" and types["utc_time"] == "TIMESTAMP WITH TIME ZONE"
    con.close()


def test_analysts_can_query_while_the_catalog_is_republished(tmp_path):
    warehouse = tmp_path / "warehouse"
    Lake(warehouse / "lake").write("cycling_timeseries", _timeseries(4), {"sample_id": "S1"})
    catalog.refresh(warehouse)
    reader = catalog.connect(warehouse)  # in memory: holds no lock on catalog.duckdb
    catalog.refresh(warehouse)
    Lake(warehouse / "lake").write("cycling_timeseries", _timeseries(6), {"sample_id": "S2"})
    assert reader.execute("SELECT count(*) FROM cycling_timeseries").fetchone() == (10,)


def test_a_column_added_after_the_parts_were_written_reads_as_null(tmp_path):
    """An upgrade adds a declared column; parts written before it still answer, the new column NULL."""
    lake = Lake(tmp_path / "lake")
    for sample in ("S1", "S2"):
        path = lake.write("cycling_timeseries", pa.table({"sample_id": [sample], "test_time_second": [1.0],
                                                          "voltage_volt": [3.5], "current_ampere": [0.1]}),
                          {"sample_id": sample})
        pq.write_table(pq.read_table(path).drop_columns(["temperature_celsius"]), path)  # as an older version wrote
    con = catalog.connect(tmp_path)
    rows = con.execute("SELECT sample_id, voltage_volt, temperature_celsius FROM cycling_timeseries ORDER BY 1").fetchall()
    assert rows == [("S1", 3.5, None), ("S2", 3.5, None)]
    assert catalog.create_views(duckdb.connect(), lake) == []  # nothing counts as broken
