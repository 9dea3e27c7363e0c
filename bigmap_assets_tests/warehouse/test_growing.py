"""A cycler file still being written: appended in parts, equal to the whole file read at once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from bigmap_assets.ingest import cycling as cycling_ingest
from bigmap_assets.ingest.cycling import ingest_timeseries, read_sources
from bigmap_assets.science.cycling import summarise_cycles
from bigmap_assets.science.soh import state_of_health
from bigmap_assets.simulate.cycling import FIRST_START_LOCAL, make_cell, run_protocol, write_cell
from bigmap_assets.simulate.samples import ageing_cells
from bigmap_assets.warehouse.lake import APPEND_STATE, Lake
from bigmap_assets_tests.growing import growing_file, header_and_rows

SAMPLE = ageing_cells()[1]
PARTITION = {"sample_id": SAMPLE.sample_id}


@pytest.fixture(scope="module")
def whole_file(tmp_path_factory) -> Path:
    """A generated cell's complete .mpt (one file, about 3000 rows)."""
    rng = np.random.default_rng([0, 1])
    cell = make_cell(SAMPLE, rng)
    arrays, _, _ = run_protocol(cell, rng)
    folder = tmp_path_factory.mktemp("whole")
    files = write_cell(folder, cell, arrays, None, FIRST_START_LOCAL)
    return folder / files[0]["path"]


def ingest(data_dir: Path, lake: Lake):
    sources, files = read_sources(data_dir, SAMPLE.sample_id)
    assert not [i for i in files.issues if i.severity == "error"]
    return ingest_timeseries(lake, sources, sample_id=SAMPLE.sample_id, timezone=SAMPLE.timezone)


def without_file_hash(table: pa.Table) -> pa.Table:
    return table.drop_columns(["source_sha256"]).sort_by("test_time_second")


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.glob("part-*.parquet")}


def test_a_file_grown_in_three_steps_gives_the_tables_of_the_whole_file(whole_file, tmp_path):
    header, rows = header_and_rows(whole_file)
    raw = tmp_path / "growing" / "raw" / "cycling" / SAMPLE.sample_id / whole_file.name
    lake = Lake(tmp_path / "growing" / "lake")
    folder = lake.partition_dir("cycling_timeseries", PARTITION)
    thirds = [0, len(rows) // 3, 2 * len(rows) // 3, len(rows)]
    reports, snapshots = [], []
    for _ in growing_file(raw, header, rows, thirds):
        reports.append(ingest(raw.parents[3], lake))
        snapshots.append(snapshot(folder))
    assert [r.mode for r in reports] == ["rewrite", "append", "append"]
    assert reports[0].reason == "no append state for this partition"
    assert sorted(snapshots[-1]) == ["part-0.parquet", "part-1.parquet", "part-2.parquet", "part-3.parquet"]
    # parts final at an earlier step are untouched later (same bytes and mtime)
    assert snapshots[2]["part-0.parquet"] == snapshots[0]["part-0.parquet"]
    assert snapshots[2]["part-1.parquet"] == snapshots[1]["part-1.parquet"]
    # only rows never final were written: final + tail of step 1, then newly final + new tail
    assert sum(r.rows_written for r in reports) < 1.1 * len(rows)

    whole_dir = tmp_path / "whole"
    (whole_dir / "raw" / "cycling" / SAMPLE.sample_id).mkdir(parents=True)
    os.link(whole_file, whole_dir / "raw" / "cycling" / SAMPLE.sample_id / whole_file.name)
    whole_lake = Lake(whole_dir / "lake")
    assert ingest(whole_dir, whole_lake).mode == "rewrite"

    grown = lake.read("cycling_timeseries", PARTITION)
    whole = whole_lake.read("cycling_timeseries", PARTITION)
    assert grown.num_rows == whole.num_rows == len(rows)
    assert without_file_hash(grown).equals(without_file_hash(whole))
    cycles = summarise_cycles(grown, active_mass_g=None)
    assert cycles.equals(summarise_cycles(whole, active_mass_g=None))
    assert state_of_health(cycles).equals(state_of_health(summarise_cycles(whole, active_mass_g=None)))


def test_a_file_grown_many_times_is_compacted_into_one_part(whole_file, tmp_path, monkeypatch):
    monkeypatch.setattr(cycling_ingest, "MAX_PARTS", 4)
    header, rows = header_and_rows(whole_file)
    raw = tmp_path / "raw" / "cycling" / SAMPLE.sample_id / whole_file.name
    lake = Lake(tmp_path / "lake")
    folder = lake.partition_dir("cycling_timeseries", PARTITION)
    modes, part_counts = [], []
    for _ in growing_file(raw, header, rows, np.linspace(0, len(rows), 6).astype(int)):
        modes.append(ingest(tmp_path, lake).mode)
        part_counts.append(len(list(folder.glob("part-*.parquet"))))
    # parts grow to MAX_PARTS, then the next growth rewrites them as final rows + tail
    assert modes == ["rewrite", "append", "append", "rewrite", "append"]
    assert part_counts == [2, 3, 4, 2, 3]
    stored = lake.read("cycling_timeseries", PARTITION)
    assert stored.num_rows == len(rows)
    assert np.all(np.diff(stored.column("test_time_second").to_numpy()) > 0)


def test_the_last_cycle_of_a_file_cut_mid_discharge_is_incomplete_and_not_in_soh(whole_file, tmp_path):
    header, rows = header_and_rows(whole_file)
    lake = Lake(tmp_path / "lake")
    raw = tmp_path / "raw" / "cycling" / SAMPLE.sample_id / whole_file.name
    raw.parent.mkdir(parents=True)
    raw.write_bytes(header + b"".join(rows))
    ingest(tmp_path, lake)
    full = lake.read("cycling_timeseries", PARTITION)
    step = full.column("step_type").to_pylist()
    cut = max(i for i, s in enumerate(step) if s == "CC_DCH" and step[i - 1] != "CC_DCH") + 20  # inside the last discharge
    with open(raw, "wb") as fh:
        fh.write(header + b"".join(rows[:cut]))
    report = ingest(tmp_path, lake)
    assert report.mode == "rewrite" and "replaced" in report.reason  # shrunk: not an append
    cycles = summarise_cycles(lake.read("cycling_timeseries", PARTITION), active_mass_g=None)
    last = cycles.slice(cycles.num_rows - 1).to_pylist()[0]
    assert last["complete"] is False and "incomplete" in last["flags"]
    soh = state_of_health(cycles)
    assert last["cycle_count"] not in soh.column("cycle_count").to_pylist()


def test_a_replaced_file_is_rewritten_and_an_unchanged_one_left_alone(whole_file, tmp_path):
    header, rows = header_and_rows(whole_file)
    lake = Lake(tmp_path / "lake")
    raw = tmp_path / "raw" / "cycling" / SAMPLE.sample_id / whole_file.name
    raw.parent.mkdir(parents=True)
    raw.write_bytes(header + b"".join(rows[:1000]))
    assert ingest(tmp_path, lake).mode == "rewrite"
    assert ingest(tmp_path, lake).mode == "unchanged"
    edited = rows[:500] + [rows[500].replace(b"\t", b"\t ", 1)] + rows[501:1500]
    raw.write_bytes(header + b"".join(edited))
    report = ingest(tmp_path, lake)
    assert (report.mode, report.reason) == ("rewrite", f"{raw.relative_to(tmp_path)} was replaced, not appended to")
    folder = lake.partition_dir("cycling_timeseries", PARTITION)
    assert sorted(p.name for p in folder.iterdir()) == [APPEND_STATE, "part-0.parquet", "part-1.parquet"]
    assert lake.read("cycling_timeseries", PARTITION).num_rows == 1500


def test_a_reader_querying_during_appends_never_sees_a_row_twice(whole_file, tmp_path):
    header, rows = header_and_rows(whole_file)
    lake = Lake(tmp_path / "lake")
    raw = tmp_path / "raw" / "cycling" / SAMPLE.sample_id / whole_file.name
    raw.parent.mkdir(parents=True)
    raw.write_bytes(header + b"".join(rows[:200]))
    ingest(tmp_path, lake)
    glob = lake.glob("cycling_timeseries")
    seen, done = [], threading.Event()

    def query():
        connection = duckdb.connect()
        while not done.is_set():
            try:
                seen.append(connection.execute(
                    f"select count(*), count(distinct test_time_second) from read_parquet('{glob}')").fetchone())
            except duckdb.IOException:
                continue  # a part renamed away between listing and opening: the next query sees the new one
    reader = threading.Thread(target=query)
    reader.start()
    with open(raw, "ab") as fh:
        for start in range(200, len(rows), 150):
            fh.writelines(rows[start:start + 150])
            fh.flush()
            assert ingest(tmp_path, lake).mode == "append"
    done.set()
    reader.join()
    assert len(seen) > 10
    assert all(total == distinct for total, distinct in seen)
    assert lake.read("cycling_timeseries", PARTITION).num_rows == len(rows)


def _rows(start: int, stop: int) -> pa.Table:
    return pa.table({"sample_id": [SAMPLE.sample_id] * (stop - start),
                     "test_time_second": [float(i) for i in range(start, stop)],
                     "voltage_volt": [3.5] * (stop - start), "current_ampere": [1e-3] * (stop - start)})


def test_lake_appends_onto_the_tail_and_a_full_write_drops_the_parts(tmp_path):
    lake = Lake(tmp_path / "lake")
    lake.write_growing("cycling_timeseries", [_rows(0, 3), _rows(3, 5)], lambda: _rows(5, 7), PARTITION,
                       state={"files": []})
    assert lake.append_state("cycling_timeseries", PARTITION) == {"files": [], "final_rows": 5, "tail_part": 1}
    lake.append("cycling_timeseries", [_rows(5, 9)], lambda: _rows(9, 10), PARTITION, state={"files": ["a"]})
    assert [p.name for p in lake.parts("cycling_timeseries", PARTITION)] == ["part-0.parquet", "part-1.parquet",
                                                                               "part-2.parquet"]
    assert lake.read("cycling_timeseries", PARTITION).column("test_time_second").to_pylist() == list(range(10))
    assert lake.last_final_row("cycling_timeseries", PARTITION).column("test_time_second").to_pylist() == [8.0]
    assert lake.read("cycling_timeseries", PARTITION, columns=["voltage_volt"]).column_names == [
        "sample_id", "voltage_volt"]
    lake.partition_dir("cycling_timeseries", PARTITION).joinpath("part-1.parquet").unlink()
    assert lake.append_state("cycling_timeseries", PARTITION) is None  # parts no longer match the state
    lake.write("cycling_timeseries", _rows(0, 2), PARTITION)
    assert sorted(p.name for p in lake.partition_dir("cycling_timeseries", PARTITION).iterdir()) == ["part-0.parquet"]
    assert lake.read("cycling_timeseries", PARTITION).num_rows == 2


def test_a_grown_file_whose_stored_rows_no_longer_match_is_rewritten(whole_file, tmp_path, monkeypatch):
    """Rows stored by another code version differ from the recomputed ones: rewrite, not append."""
    header, rows = header_and_rows(whole_file)
    lake = Lake(tmp_path / "lake")
    raw = tmp_path / "raw" / "cycling" / SAMPLE.sample_id / whole_file.name
    raw.parent.mkdir(parents=True)
    raw.write_bytes(header + b"".join(rows[:1000]))
    ingest(tmp_path, lake)
    monkeypatch.setattr("bigmap_assets.warehouse.provenance.code_version", lambda: "9.9.9+gnewcode")
    with open(raw, "ab") as fh:
        fh.writelines(rows[1000:1500])
    report = ingest(tmp_path, lake)
    assert report.mode == "rewrite" and report.reason.startswith("recomputed row ")
    assert set(lake.read("cycling_timeseries", PARTITION).column("code_version").to_pylist()) == {"9.9.9+gnewcode"}
