"""``bigmap read | materialize | sql | issues``: the everyday commands."""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import re
import sys
import uuid
from pathlib import Path

from tabulate import tabulate

from ..ingest.errors import UnreadableFile
from ..warehouse import door, storage
from ..warehouse.storage import default_data_dir


STREAM_BATCH_ROWS = 250_000  # rows per batch written by `bigmap read -o` from a streamed file


def register(subparsers) -> None:
    p = subparsers.add_parser("read", help="read one raw file into its canonical table (no Dagster)",
                              description="Read any supported raw file (cycling, D2B, XAS, survey) into its canonical table.")
    p.add_argument("file", type=Path)
    p.add_argument("-o", "--output", type=Path, help="write the table to OUT.parquet or OUT.csv; without it, print a summary")
    p.add_argument("--canonical-only", action="store_true",
                   help="cycling files: only the canonical reader columns, as ingestion reads them (faster on wide files)")
    p.set_defaults(func=cmd_read)

    p = subparsers.add_parser("materialize", help="run every asset over a data folder, through Dagster",
                              description="The main job: every asset over DIR's raw files, run through Dagster and recorded "
                                          "in its instance ($DAGSTER_HOME, default DIR/.dagster) like a launch from the UI. "
                                          "A sample whose files, registry row and code version are those of its last "
                                          "complete build is left as it is; the others run in one run per range.")
    data_dir_arg(p)
    p.add_argument("--all", action="store_true", help="rebuild every partition, changed or not")
    p.set_defaults(func=cmd_materialize)

    p = subparsers.add_parser("sql", help="query the warehouse with DuckDB SQL",
                              description="Run a DuckDB query over the warehouse views (no lock is taken). Read-only: "
                                          "only queries (SELECT, FROM, WITH, DESCRIBE, SUMMARIZE, EXPLAIN) run, and "
                                          "they read the warehouse's lake and nothing else.")
    p.add_argument("query")
    data_dir_arg(p)
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="csv: text that starts like a spreadsheet formula (= + - @) is prefixed with a single quote")
    p.add_argument("--allow-files", action="store_true",
                   help="let the query read other files too (e.g. read_csv('my.csv')); it still writes nothing")
    p.set_defaults(func=cmd_sql)

    p = subparsers.add_parser("issues", help="list the ingest issues: files or rows that could not be used, and why",
                              description="Files, rows or cells that could not be used (errors), and with --all also what "
                                          "was used under an assumption (warnings).")
    data_dir_arg(p)
    p.add_argument("--all", action="store_true", help="include warnings (files used with an assumption)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_issues)


def data_dir_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="data folder with raw/ and registry/ (default: $BIGMAP_DATA_DIR or ./data)")


def data_dir_of(args) -> Path:
    return (args.data_dir or Path(default_data_dir())).resolve()


def cmd_read(args) -> int:
    from ..readers import metadata_of, read  # imported here: `bigmap sql` and the others start without them

    if args.output is not None:
        output_check(args.output, (".parquet", ".csv"))
        rows = write_read_table(args.file, args.output, canonical_only=args.canonical_only)
        print(f"wrote {rows} rows to {args.output}")
        return 0
    rows, schema = _streamed_count(args.file, args.canonical_only) if _large(args.file) else (None, None)
    if schema is None:
        table = read(args.file, canonical_only=args.canonical_only)
        rows, schema = table.num_rows, table.schema
    meta = metadata_of(schema.empty_table())
    print(f"{args.file}: {meta.get('format')} ({meta.get('technique')}), {rows} rows")
    print("columns: " + ", ".join(schema.names))
    print(json.dumps({k: v for k, v in meta.items() if k != "source_columns"}, indent=2, default=str))
    return 0


def _large(path: Path) -> bool:
    """Over the size from which the pipeline streams a cycler file (``ingest.cycling.LARGE_FILE_BYTES``)."""
    from ..ingest.cycling import LARGE_FILE_BYTES

    return path.is_file() and path.stat().st_size > LARGE_FILE_BYTES


def _streamed_count(source: Path, canonical_only: bool):
    """(rows, schema with the reader metadata) of a streamed file, in bounded memory; (None, None) when the
    format is not streamed. The metadata are those of the first batch, as the pipeline records them."""
    from ..readers import find_reader, streaming

    find_reader(source)
    batches = streaming.iter_batches(source, batch_rows=STREAM_BATCH_ROWS, canonical_only=canonical_only)
    try:
        first = next(batches, None)
    except UnreadableFile:  # not a streamed format (or broken at once): read whole, which says why if it fails
        return None, None
    if first is None:
        return None, None
    return first.num_rows + sum(batch.num_rows for batch in batches), first.schema


def write_read_table(source: Path, output: Path, *, canonical_only: bool = False) -> int:
    """Write ``source``'s canonical table to ``output`` (.parquet or .csv); returns the rows written.

    Cycler text exports and EC-Lab ``.mpr`` files are streamed (``readers.streaming``,
    ``STREAM_BATCH_ROWS`` rows at a time, one Parquet row group each), so memory stays bounded
    whatever the file's size; other formats are read whole. The file appears under its name only once complete.
    """
    import pyarrow as pa  # imported here, as the readers: `bigmap sql` and the others start without them
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from ..readers import find_reader, read, streaming

    find_reader(source)  # refuses what is not a regular file before anything opens it
    batches = streaming.iter_batches(source, batch_rows=STREAM_BATCH_ROWS, canonical_only=canonical_only)
    try:
        first = next(batches, None)
    except UnreadableFile:  # not a streamed format (or broken at once): read whole, which says why if it fails
        first = None
    if first is None:
        table = read(source, canonical_only=canonical_only)
        first, batches = pa.RecordBatch.from_pylist([], schema=table.schema), iter(table.to_batches())
    tmp = output.with_name(f".{output.name}.{uuid.uuid4().hex}.tmp")
    rows = 0
    try:
        with (pq.ParquetWriter(tmp, first.schema) if output.suffix.lower() == ".parquet"
              else pacsv.CSVWriter(tmp, first.schema)) as writer:
            for batch in itertools.chain([first], batches):
                if batch.num_rows:
                    writer.write_batch(batch)
                    rows += batch.num_rows
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def output_check(path: Path, suffixes: tuple[str, ...]) -> None:
    """Refuse an output file before any work: a wrong suffix, a missing folder, a folder in its place."""
    if path.suffix.lower() not in suffixes:
        raise ValueError(f"{path}: output file must end in {' or '.join(suffixes)}")
    if not path.parent.is_dir():
        raise ValueError(f"{path}: no folder {path.parent} to write into")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a file")


def existing_data_folder(args, holding: tuple[str, ...] = ("raw", "registry")) -> Path:
    """The data folder of ``args``; refused (nothing created) unless it holds one of the folders ``holding``."""
    data_dir = data_dir_of(args)
    if not data_dir.exists():
        raise ValueError(f"{data_dir}: no such data folder")
    if not data_dir.is_dir():
        raise ValueError(f"{data_dir}: is a file, not a data folder")
    if not any((data_dir / name).is_dir() for name in holding):
        raise ValueError(f"{data_dir}: not a data folder (it holds none of {', '.join(f'{n}/' for n in holding)})")
    return data_dir


def cmd_materialize(args) -> int:
    from ..defs.materialize import materialize_all

    report = materialize_all(existing_data_folder(args), log=lambda line: print(line, flush=True),
                             every_partition=args.all)
    return 0 if report.succeeded else 1


def cmd_sql(args) -> int:
    columns, rows = door.query(warehouse_connection(args, for_query=args.query), args.query)
    print_rows(columns, rows, args.format)
    return 0


def warehouse_connection(args, for_query: str | None = None):
    """The read-only DuckDB over the data folder's warehouse (with the views ``for_query`` names, or every
    view), or an error saying there is none yet."""
    warehouse = data_dir_of(args) / "warehouse"
    if not (warehouse / "lake").is_dir() and not storage.is_remote(storage.lake_location(warehouse.parent)):
        raise FileNotFoundError(f"no warehouse under {warehouse}: run `bigmap materialize` first")
    return door.connect(warehouse, allow_files=getattr(args, "allow_files", False), warn=warn, for_query=for_query)


def warn(message: str) -> None:
    print(f"bigmap: warning: {message}", file=sys.stderr)


def cmd_issues(args) -> int:
    where = "" if args.all else "WHERE severity = 'error' "
    con = warehouse_connection(args)
    columns, rows = door.query(con, "SELECT technique, sample_id, path, location, severity, reason FROM "
                                       f"ingest_issues {where}ORDER BY severity, technique, sample_id, path")
    print_rows(columns, rows, args.format)
    if not args.all and args.format == "table":
        (warnings,), = door.query(con, "SELECT count(*) FROM ingest_issues WHERE severity <> 'error'")[1]
        if warnings:
            print(f"and {warnings} warning(s), files used with an assumption (unregistered cells, assumed "
                  "timezones...): bigmap issues --all")
    return 0


# Text a spreadsheet program would run as a formula; and text that is just a number (it may start with + or -)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(value):
    """A CSV cell safe to open in a spreadsheet program: text starting like a formula (``=HYPERLINK(...)``,
    ``+``, ``-``, ``@``, tab, CR) gets a leading single quote, the usual CSV-injection defence. Numbers, and
    text that is a plain number, stay as they are; the warehouse keeps the raw text."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def print_rows(columns: list[str], rows: list[tuple], fmt: str) -> None:
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow([spreadsheet_safe(c) for c in columns])
        writer.writerows([spreadsheet_safe(v) for v in row] for row in rows)
    elif fmt == "json":
        print(json.dumps([dict(zip(columns, row)) for row in rows], indent=2, default=str))
    else:
        print(tabulate(rows, headers=columns, tablefmt="simple", floatfmt=".6g"))
        print(f"({len(rows)} rows)")
