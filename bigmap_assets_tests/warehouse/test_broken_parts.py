"""One damaged Parquet part in the lake takes neither its table nor the others down, and is named."""

from __future__ import annotations

import pyarrow as pa
import pytest

from bigmap_assets.cli import main
from bigmap_assets.warehouse import catalog
from bigmap_assets.warehouse.lake import BrokenPart, Lake


def _timeseries(sample_id: str, n: int) -> pa.Table:
    return pa.table({"sample_id": [sample_id] * n, "test_time_second": [float(i) for i in range(n)],
                     "voltage_volt": [3.5] * n, "current_ampere": [1e-3] * n})


@pytest.fixture()
def damaged(tmp_path):
    """Two cells' time series and one issue row; the first cell's part is truncated."""
    lake = Lake(tmp_path / "warehouse" / "lake")
    bad = lake.write("cycling_timeseries", _timeseries("S1", 4), {"sample_id": "S1"})
    lake.write("cycling_timeseries", _timeseries("S2", 3), {"sample_id": "S2"})
    lake.write("ingest_issues", pa.table({"technique": ["cycling"], "sample_id": ["S2"], "path": ["raw/x.mpt"],
                                          "severity": ["error"], "reason": ["broken"]}),
               {"technique": "cycling", "sample_id": "S2"})
    bad.write_bytes(bad.read_bytes()[:-40])
    return tmp_path, lake, bad


def test_the_catalog_leaves_the_damaged_part_out_and_names_it(damaged):
    data_dir, lake, bad = damaged
    warnings = []
    published = catalog.refresh(data_dir / "warehouse", warn=warnings.append)
    assert len(warnings) == 1 and str(bad) in warnings[0] and "unreadable Parquet file" in warnings[0]
    con = catalog.connect(data_dir / "warehouse")
    assert catalog.query(con, "SELECT sample_id, count(*) FROM cycling_timeseries GROUP BY 1") == (
        ["sample_id", "count_star()"], [("S2", 3)])
    assert catalog.query(con, "SELECT reason FROM ingest_issues")[1] == [("broken",)]
    assert published.is_file()


def test_sql_issues_and_status_work_and_status_names_the_part(damaged, capsys):
    data_dir, _, bad = damaged
    assert main(["sql", "SELECT count(*) FROM cycling_timeseries", "--data-dir", str(data_dir), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["count_star()", "3"]
    assert captured.err.count("\n") == 1 and str(bad) in captured.err and captured.err.startswith("bigmap: warning:")
    assert main(["issues", "--data-dir", str(data_dir), "--format", "csv"]) == 0
    assert "raw/x.mpt" in capsys.readouterr().out
    assert main(["status", "--data-dir", str(data_dir)]) == 1
    out = capsys.readouterr().out
    assert "unreadable warehouse parts (left out of queries; the next run rebuilds them): 1" in out
    assert f"  {bad}: unreadable Parquet file" in out


def test_reads_name_the_part_cross_sample_reads_skip_it_and_a_rewrite_repairs_it(damaged):
    _, lake, bad = damaged
    with pytest.raises(BrokenPart, match="unreadable Parquet file") as raised:
        lake.read("cycling_timeseries", {"sample_id": "S1"})
    assert raised.value.path == bad
    with pytest.raises(BrokenPart):
        list(lake.iter_tables("cycling_timeseries", {"sample_id": "S1"}))
    assert lake.read_every("cycling_timeseries").column("sample_id").to_pylist() == ["S2"] * 3
    assert [b.path for b in lake.broken_parts()] == [bad]
    lake.write("cycling_timeseries", _timeseries("S1", 5), {"sample_id": "S1"})
    assert lake.broken_parts() == [] and lake.read_every("cycling_timeseries").num_rows == 8


def test_a_foreign_file_in_a_partition_folder_is_a_broken_part(tmp_path):
    lake = Lake(tmp_path / "lake")
    path = lake.write("cycling_timeseries", _timeseries("S1", 2), {"sample_id": "S1"})
    foreign = path.with_name("part-1.parquet")
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"test_time_second": ["not a number"]}), foreign)
    broken = lake.broken_parts("cycling_timeseries")
    assert [(b.path, b.reason) for b in broken] == [
        (foreign, "not a part of this table: column test_time_second is string, expected double")]
    pq.write_table(pa.table({"range": list(range(1000))}), foreign)
    assert [b.reason for b in lake.broken_parts("cycling_timeseries")] == [
        "not a part of this table: none of its columns (test_time_second, unix_time_second, utc_time, ...)"]
    pq.write_table(pa.table({"test_time_second": [5.0]}), foreign)  # written before the other columns existed
    assert lake.broken_parts("cycling_timeseries") == []


def test_a_damaged_growing_partition_has_no_append_state(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_growing("cycling_timeseries", [_timeseries("S1", 4)], lambda: _timeseries("S1", 1),
                       {"sample_id": "S1"}, state={"files": []})
    assert lake.append_state("cycling_timeseries", {"sample_id": "S1"})["final_rows"] == 4
    tail = lake.parts("cycling_timeseries", {"sample_id": "S1"})[-1]
    tail.write_bytes(b"PAR1 garbage")
    assert lake.append_state("cycling_timeseries", {"sample_id": "S1"}) is None


def damage_pages(path) -> None:
    """The last byte of the first column's chunk (inside its last data page) inverted; the footer intact."""
    import pyarrow.parquet as pq

    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
    data = bytearray(path.read_bytes())
    data[start + column.total_compressed_size - 1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damaged_pages_behind_an_intact_footer_are_a_broken_part_checked_once(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    from bigmap_assets.warehouse import lake as lake_module

    lake = Lake(tmp_path / "warehouse" / "lake")
    bad = lake.write("cycling_timeseries", _timeseries("S1", 1000), {"sample_id": "S1"})
    lake.write("cycling_timeseries", _timeseries("S2", 3), {"sample_id": "S2"})
    assert lake.broken_parts() == []
    damage_pages(bad)
    assert pq.read_schema(bad).names[0] == "test_time_second"  # the footer reads: only the pages tell
    assert lake_module.part_problem(bad, lake.stored_schema("cycling_timeseries")) is None
    [broken] = lake.broken_parts()
    assert broken.path == bad and broken.reason.startswith("damaged Parquet data pages (")

    warnings = []
    catalog.refresh(tmp_path / "warehouse", warn=warnings.append)
    assert len(warnings) == 1 and str(bad) in warnings[0] and "damaged Parquet data pages" in warnings[0]
    con = catalog.connect(tmp_path / "warehouse")
    assert catalog.query(con, "SELECT sample_id, count(*) FROM cycling_timeseries GROUP BY 1") == (
        ["sample_id", "count_star()"], [("S2", 3)])

    def reads_pages(_path):
        raise AssertionError("pages read again")

    monkeypatch.setattr(lake_module, "pages_problem", reads_pages)  # unchanged parts: the recorded result
    assert [b.path for b in lake.broken_parts()] == [bad]
    monkeypatch.undo()
    lake.write("cycling_timeseries", _timeseries("S1", 5), {"sample_id": "S1"})  # the next run rewrites it
    assert lake.broken_parts() == [] and lake.read_every("cycling_timeseries").num_rows == 8


def test_damaged_pages_in_a_growing_partition_drop_its_append_state(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_growing("cycling_timeseries", [_timeseries("S1", 400)], lambda: _timeseries("S1", 1),
                       {"sample_id": "S1"}, state={"files": []})
    assert lake.append_state("cycling_timeseries", {"sample_id": "S1"})["final_rows"] == 400
    damage_pages(lake.parts("cycling_timeseries", {"sample_id": "S1"})[0])
    assert lake.append_state("cycling_timeseries", {"sample_id": "S1"}) is None  # so the next run rewrites it
