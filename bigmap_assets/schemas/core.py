"""Tables about the raw files themselves: the inventory and the issues."""

import pyarrow as pa

from . import Column, Table, register, utc_timestamp

RAW_FILES = register(Table(
    name="raw_files",
    description="Every raw file seen under raw/, with its content hash and what became of it.",
    columns=(
        Column("path", pa.string(), "", "path relative to the data folder", nullable=False),
        Column("technique", pa.string(), "", "cycling, d2b, xas or survey", nullable=False),
        Column("sample_id", pa.string(), "", "sample ID from the folder name (empty for surveys)"),
        Column("size_byte", pa.int64(), "byte", "file size"),
        Column("sha256", pa.string(), "", "SHA-256 of the content"),
        Column("modified_time", utc_timestamp(), "UTC", "file modification time"),
        Column("status", pa.string(), "", "ok, issue (see ingest_issues) or pending"),
        Column("reader", pa.string(), "", "reader that accepted the file"),
        Column("row_count", pa.int64(), "", "rows the reader returned; null for a cycler file streamed or read "
                                            "again at build time (cycling_timeseries has its rows)"),
        Column("code_version", pa.string(), "", "code version that processed it"),
    ),
    partitioned_by=("technique", "sample_id"),
))

INGEST_ISSUES = register(Table(
    name="ingest_issues",
    description="Every raw file, row or cell that could not be used, and why, and everything under raw/ that was "
                "not read (refused folders, stray files, links out of the data folder). Nothing is dropped silently.",
    columns=(
        Column("path", pa.string(), "", "raw file, relative to the data folder", nullable=False),
        Column("technique", pa.string(), "", "cycling, d2b, xas, survey, registry, or raw (directly under raw/)",
               nullable=False),
        Column("sample_id", pa.string(), "", "sample ID (NULL outside any sample folder)"),
        Column("location", pa.string(), "", "where in the file: line, sheet!cell, row"),
        Column("severity", pa.string(), "", "error (file or row not used) or warning (used with an assumption)"),
        Column("reason", pa.string(), "", "what is wrong, in words a person can act on", nullable=False),
        Column("sha256", pa.string(), "", "SHA-256 of the content when readable"),
        Column("code_version", pa.string(), "", "code version that found it"),
    ),
    partitioned_by=("technique", "sample_id"),
))
