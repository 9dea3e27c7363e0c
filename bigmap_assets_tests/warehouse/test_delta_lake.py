"""The lake on object storage: Delta tables in a bucket of a local S3 server (moto), same answers as the local lake."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("deltalake", reason="deltalake is a main dependency")

from deltalake import DeltaTable  # noqa: E402

from bigmap_assets.ingest.cycling import ingest_timeseries, read_sources  # noqa: E402
from bigmap_assets.science.cycling import summarise_cycles  # noqa: E402
from bigmap_assets.simulate.cycling import FIRST_START_LOCAL, make_cell, run_protocol, write_cell  # noqa: E402
from bigmap_assets.simulate.samples import ageing_cells  # noqa: E402
from bigmap_assets.warehouse import storage  # noqa: E402
from bigmap_assets.warehouse.delta_lake import DeltaLake  # noqa: E402
from bigmap_assets.warehouse.lake import Lake  # noqa: E402
from bigmap_assets_tests.growing import growing_file, header_and_rows  # noqa: E402
from bigmap_assets_tests.s3server import s3_endpoint, s3_lake  # noqa: E402,F401 (fixtures)

SAMPLE = ageing_cells()[1]
PARTITION = {"sample_id": SAMPLE.sample_id}


def _timeseries(sample: str, n: int, start: float = 0.0) -> pa.Table:
    return pa.table({
        "sample_id": [sample] * n,
        "test_time_second": [start + i for i in range(n)],
        "voltage_volt": [3.5] * n,
        "current_ampere": [1e-3] * n,
        "source_file": [f"raw/cycling/{sample}/a.mpt"] * n,
        "source_sha256": ["ab" * 32] * n,
        "code_version": ["test"] * n,
    })


def test_the_setting_picks_the_lake_and_refuses_a_local_path(tmp_path, monkeypatch):
    monkeypatch.delenv(storage.LAKE_ENV, raising=False)
    assert storage.lake_location(tmp_path) == str(tmp_path / "warehouse" / "lake")
    assert isinstance(storage.open_lake(storage.lake_location(tmp_path)), Lake)
    monkeypatch.setenv(storage.LAKE_ENV, "s3://bucket/prefix")
    assert isinstance(storage.open_lake(storage.lake_location(tmp_path)), DeltaLake)
    with pytest.raises(ValueError, match="leave it empty"):
        storage.lake_location(tmp_path, "/elsewhere/lake")


def test_partition_overwrite_replaces_one_sample_and_leaves_the_others(s3_lake, tmp_path):
    lake, local = DeltaLake(s3_lake), Lake(tmp_path / "lake")
    for target in (lake, local):
        target.write("cycling_timeseries", _timeseries("S1", 5), {"sample_id": "S1"})
        target.write("cycling_timeseries", _timeseries("S2", 3), {"sample_id": "S2"})
    version = DeltaTable(lake.uri("cycling_timeseries")).version()
    lake.write("cycling_timeseries", _timeseries("S1", 2, start=100.0), {"sample_id": "S1"})
    local.write("cycling_timeseries", _timeseries("S1", 2, start=100.0), {"sample_id": "S1"})
    assert DeltaTable(lake.uri("cycling_timeseries")).version() == version + 1  # one commit
    assert lake.partitions("cycling_timeseries") == [{"sample_id": "S1"}, {"sample_id": "S2"}]
    for sample in ("S1", "S2"):
        remote, here = lake.read("cycling_timeseries", {"sample_id": sample}), local.read("cycling_timeseries", {"sample_id": sample})
        assert remote.equals(here)  # same declared columns, types and provenance values as the local lake
    assert lake.read("cycling_timeseries", {"sample_id": "S1"}).column("test_time_second").to_pylist() == [100.0, 101.0]
    assert "bigmap_part" not in lake.read("cycling_timeseries", {"sample_id": "S2"}).column_names
    lake.delete("cycling_timeseries", {"sample_id": "S2"})
    assert lake.partitions("cycling_timeseries") == [{"sample_id": "S1"}]
    assert lake.read("raw_files", {"technique": "cycling", "sample_id": "S1"}) is None


def test_a_file_grown_in_three_steps_on_s3_equals_the_whole_file_in_the_local_lake(s3_lake, tmp_path):
    rng = np.random.default_rng([0, 1])
    cell = make_cell(SAMPLE, rng)
    arrays, _, _ = run_protocol(cell, rng)
    whole_dir = tmp_path / "whole"
    files = write_cell(whole_dir / "raw" / "cycling" / SAMPLE.sample_id, cell, arrays, None, FIRST_START_LOCAL)
    whole_file = whole_dir / "raw" / "cycling" / SAMPLE.sample_id / files[0]["path"]
    header, rows = header_and_rows(whole_file)
    grown_dir = tmp_path / "grown"
    raw = grown_dir / "raw" / "cycling" / SAMPLE.sample_id / whole_file.name
    lake, local = DeltaLake(s3_lake), Lake(tmp_path / "local")

    reports, first_part_files = [], []
    for _ in growing_file(raw, header, rows, [0, len(rows) // 3, 2 * len(rows) // 3, len(rows)]):
        sources, _ = read_sources(grown_dir, SAMPLE.sample_id)
        reports.append(ingest_timeseries(lake, sources, sample_id=SAMPLE.sample_id, timezone=SAMPLE.timezone))
        first_part_files.append(sorted(u for u in DeltaTable(lake.uri("cycling_timeseries")).file_uris()
                                       if "/bigmap_part=0/" in u))
    assert [r.mode for r in reports] == ["rewrite", "append", "append"]
    assert first_part_files[0] == first_part_files[1] == first_part_files[2]  # final parts never rewritten
    assert sum(r.rows_written for r in reports) < 1.1 * len(rows)  # an append writes new rows only
    assert lake.append_state("cycling_timeseries", PARTITION)["tail_part"] == 3
    sources, _ = read_sources(whole_dir, SAMPLE.sample_id)
    ingest_timeseries(local, sources, sample_id=SAMPLE.sample_id, timezone=SAMPLE.timezone)

    grown, whole = lake.read("cycling_timeseries", PARTITION), local.read("cycling_timeseries", PARTITION)
    assert grown.num_rows == whole.num_rows == len(rows)
    drop = ["source_file", "source_sha256"]  # two different files (paths, hashes) with the same rows
    assert [c for c in grown.column_names if c not in drop and not grown.column(c).equals(whole.column(c))] == []
    assert summarise_cycles(grown, active_mass_g=None).equals(summarise_cycles(whole, active_mass_g=None))
    pieces = list(lake.iter_tables("cycling_timeseries", PARTITION, columns=["test_time_second"], batch_rows=500))
    assert max(p.num_rows for p in pieces) <= 500
    assert pa.concat_tables(pieces).column("test_time_second").equals(whole.column("test_time_second"))

    assert len(DeltaTable(lake.uri("cycling_timeseries")).file_uris()) == 4  # one file per part
    assert lake.vacuum("cycling_timeseries", retention_hours=0) == 2  # the two replaced tails, deleted
    assert lake.read("cycling_timeseries", PARTITION).equals(grown)
    assert lake.append_state("cycling_timeseries", PARTITION)["tail_part"] == 3


WRITER = textwrap.dedent("""
    import sys, time
    import pyarrow as pa
    from bigmap_assets.warehouse.delta_lake import DeltaLake
    lake, sample, count, mode = DeltaLake(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]

    def rows(start):
        return pa.table({"sample_id": [sample] * 1000, "test_time_second": [float(start + i) for i in range(1000)],
                         "voltage_volt": [3.7] * 1000, "current_ampere": [0.0] * 1000})

    def pieces():
        for i in range(count):
            yield rows(1000 * i)
        if mode == "hang":
            print("written", flush=True)
            time.sleep(600)

    if mode == "hang":
        lake.write_tables("cycling_timeseries", pieces(), {"sample_id": sample})
    else:
        print("ready", flush=True)
        sys.stdin.readline()  # both writers start together
        for i in range(count):
            lake.write("cycling_timeseries", rows(1000 * i), {"sample_id": sample})
""")


def _writer(lake_uri: str, sample: str, count: int, mode: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, lake_uri, sample, str(count), mode],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy())


def test_two_concurrent_writers_on_different_partitions_both_commit(s3_lake):
    lake = DeltaLake(s3_lake)
    lake.write("cycling_timeseries", _timeseries("S0", 1), {"sample_id": "S0"})  # the table exists
    writers = [_writer(s3_lake, sample, 6, "commits") for sample in ("A", "B")]
    assert [w.stdout.readline().strip() for w in writers] == ["ready", "ready"]
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    table = DeltaTable(lake.uri("cycling_timeseries"))
    assert table.version() == 12  # 1 + 2 x 6 commits, none lost
    writers_in_order = [next((s for s in "AB" if f"'{s}'" in str(h.get("operationParameters"))), "-")
                        for h in reversed(table.history())]
    assert writers_in_order.count("A") == writers_in_order.count("B") == 6
    assert "".join(writers_in_order) not in ("-AAAAAABBBBBB", "-BBBBBBAAAAAA")  # their commits interleave
    for sample in ("A", "B"):
        times = lake.read("cycling_timeseries", {"sample_id": sample}).column("test_time_second").to_pylist()
        assert times == [5000.0 + i for i in range(1000)]  # each writer's last commit is what stands
    assert lake.read("cycling_timeseries", {"sample_id": "S0"}).num_rows == 1


def test_a_killed_writer_leaves_no_visible_partial_commit(s3_lake):
    lake = DeltaLake(s3_lake)
    lake.write("cycling_timeseries", _timeseries("S1", 5), {"sample_id": "S1"})
    before = lake.read("cycling_timeseries", {"sample_id": "S1"})
    version = DeltaTable(lake.uri("cycling_timeseries")).version()
    writer = _writer(s3_lake, "S1", 300, "hang")  # streams 300k rows, then hangs before its commit
    try:
        assert writer.stdout.readline().strip() == "written"
        time.sleep(0.5)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    assert DeltaTable(lake.uri("cycling_timeseries")).version() == version
    assert lake.read("cycling_timeseries", {"sample_id": "S1"}).equals(before)
    lake.write("cycling_timeseries", _timeseries("S1", 2), {"sample_id": "S1"})  # the next writer is not blocked
    assert lake.read("cycling_timeseries", {"sample_id": "S1"}).num_rows == 2


def test_an_error_while_rows_are_streamed_is_raised_as_itself_and_commits_nothing(s3_lake):
    lake = DeltaLake(s3_lake)
    lake.write("cycling_timeseries", _timeseries("S1", 5), {"sample_id": "S1"})

    class RowsDiffer(Exception):  # as cycling_ingest's, caught by type to fall back to a rewrite
        pass

    def pieces():
        yield _timeseries("S1", 3, start=50.0)
        raise RowsDiffer("stored rows differ")

    with pytest.raises(RowsDiffer, match="stored rows differ"):
        lake.write_tables("cycling_timeseries", pieces(), {"sample_id": "S1"})
    assert lake.read("cycling_timeseries", {"sample_id": "S1"}).column("test_time_second").to_pylist() == [0.0, 1.0, 2.0, 3.0, 4.0]
