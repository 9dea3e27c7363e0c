"""A cell's raw cycler files into ``cycling_timeseries``: streamed when large, appended when the last file grew.

``read_sources`` hashes and opens every raw file of a cell: files up to ``large_file_bytes`` are
read whole, larger ones in a streamed format (text exports, ``.mpr``) are left to ``readers.streaming`` (only
their first rows are parsed here, for the start time). Whole tables are kept for the build up
to ``HELD_BYTES`` in all; the files beyond are read again when their turn comes, so a cell of
many files is built in bounded memory too. ``ingest_timeseries`` then builds the
time series with ``science.cycling_stream.TimeseriesBuilder`` into Parquet row groups (bounded
memory), and decides how to store it:

- append, when the stored rows were made from the same files and only the last file in time
  order grew (its first ``old size`` bytes hash as before): only rows never stored as final
  are written (``Lake.append``); the row before them is recomputed and must equal the stored
  one, else the partition is rewritten;
- unchanged, when every file is as stored;
- rewrite, for anything else (a file replaced, added or removed, no append state), with the reason.

A row's ``source_sha256`` is the hash of the file as it was when the row was stored (for a
growing file, of the prefix it was read from), so it is the one column in which appended rows
differ from a whole read of the final file.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa

from .errors import UnreadableFile
from .admission import Accept, Issue, PartitionFiles, admit_files
from ..readers import attach_metadata, metadata_of, read, streaming
from ..schemas.cycling import CYCLING_TIMESERIES
from ..science.cycling import _order_by_start
from ..science.cycling_stream import TimeseriesBuilder
from ..warehouse.lake import Lake
from ..warehouse.provenance import CHUNK, stamp

TECHNIQUE = "cycling"
TABLE = "cycling_timeseries"
LARGE_FILE_BYTES = 32 * 2**20  # read whole, a 32 MB .mpr (600 k points) peaks the whole job at 700 MiB
HELD_BYTES = 128 * 2**20  # whole reader tables kept from opening a cell's files to building its series
BATCH_ROWS = 250_000  # rows per streamed batch: the derived time series is ~20 columns wide, whatever the file
PROGRESS_ROWS = 2_000_000
MAX_PARTS = 48  # a file grown this often is rewritten as one part: queries stay fast over long experiments
UNCHECKED_COLUMNS = ("source_sha256",)  # differs by construction between a prefix and the grown file


@dataclass
class CyclingSource:
    """One usable raw file of a cell: read whole (``table``, or again from ``path``) or streamed."""

    rel: str  # relative to the data folder
    path: Path
    size_byte: int
    sha256: str
    metadata: dict
    table: pa.Table | None  # stamped reader table; None: streamed, or read again when used
    streamed: bool = False

    def tables(self, batch_rows: int) -> Iterator[pa.Table]:
        """The file's reader rows (provenance stamped), whole or a batch at a time."""
        if self.table is not None:
            yield self.table
        elif self.streamed:
            for batch in streaming.iter_batches(self.path, batch_rows=batch_rows, canonical_only=True):
                yield stamp(pa.Table.from_batches([batch]), self.rel, self.sha256)
        else:
            yield stamp(read(self.path, canonical_only=True), self.rel, self.sha256)


@dataclass
class IngestReport:
    mode: str  # "rewrite", "append" or "unchanged"
    reason: str
    rows: int  # rows in the partition after this run
    rows_written: int
    seconds: float
    warnings: list[str] = field(default_factory=list)


def read_sources(data_dir: str | Path, sample_id: str, *, large_file_bytes: int = LARGE_FILE_BYTES,
                 held_bytes: int = HELD_BYTES, accept: Accept | None = None) -> tuple[list[CyclingSource], PartitionFiles]:
    """Hash and open every raw cycling file of ``sample_id`` (``ingest.admit_files``, large files left to stream,
    whole tables over ``held_bytes`` in all left to read again).

    Returns the usable files and the partition's issues and ``raw_files`` inventory.
    """
    held = 0

    def open_file(path: Path) -> tuple[pa.Table | None, dict]:
        nonlocal held
        table, metadata = _open(path, path.stat().st_size > large_file_bytes)
        if table is not None and held + table.nbytes > held_bytes:
            return None, metadata  # read again at its turn
        held += table.nbytes if table is not None else 0
        return table, metadata

    admitted, files = admit_files(data_dir, TECHNIQUE, sample_id, accept=accept, open_file=open_file)
    return [CyclingSource(a.rel, a.path, a.size_byte, a.sha256, a.metadata, a.table,
                          streamed=bool(a.metadata.get("streamed"))) for a in admitted], files


def unregistered_issues(sources: list[CyclingSource], sample_id: str) -> list[Issue]:
    """A warning per file of a cell that has no registry row: the timezone its clock times were read in."""
    return [Issue(s.rel, TECHNIQUE, "not in the registry: " + (
        f"the file's own timezone ({s.metadata['timezone']}) used" if s.metadata.get("timezone")
        else "timezone assumed UTC"), sample_id, severity="warning", sha256=s.sha256) for s in sources]


def _open(path: Path, large: bool) -> tuple[pa.Table | None, dict]:
    """(whole reader table, metadata), or (None, metadata of the first rows) for a large streamable file.

    Only ``READER_COLUMNS`` are read: they are all the time series keeps.
    """
    if large:
        try:
            first = next(streaming.iter_batches(path, batch_rows=1, canonical_only=True), None)
        except UnreadableFile:
            first = None  # not a streamed format: read whole below
        if first is not None:
            return None, metadata_of(pa.Table.from_batches([first]))
    table = read(path, canonical_only=True)
    return table, metadata_of(table)


def ingest_timeseries(lake: Lake, sources: list[CyclingSource], *, sample_id: str, timezone: str,
                      batch_rows: int | None = None, log: Callable[[str], None] = lambda _message: None) -> IngestReport:
    """Build and store the cell's ``cycling_timeseries`` partition: append, leave unchanged or rewrite.

    Large files are read ``batch_rows`` rows at a time (default ``BATCH_ROWS``)."""
    started = time.perf_counter()
    batch_rows = batch_rows or BATCH_ROWS
    partition = {"sample_id": sample_id}
    ordered = _in_time_order(sources, timezone)
    files_state = {"files": [{"path": s.rel, "size_byte": s.size_byte, "sha256": s.sha256} for s in ordered]}
    stored = lake.append_state(TABLE, partition)
    reason = _why_not_append(stored, ordered)
    if reason is None and stored["files"] == files_state["files"]:
        return IngestReport("unchanged", "every file as stored", stored["final_rows"], 0,
                            time.perf_counter() - started)
    if reason is None:
        builder = TimeseriesBuilder(sample_id=sample_id, timezone=timezone)
        rows = _Rows(builder, ordered, batch_rows, log, started, skip=stored["final_rows"],
                     expected_last=lake.last_final_row(TABLE, partition))
        try:
            lake.append(TABLE, rows, rows.tail, partition, state=files_state)
            return rows.report("append", f"{ordered[-1].rel} grew from {stored['files'][-1]['size_byte']} "
                                         f"to {ordered[-1].size_byte} bytes", started)
        except _StoredRowsDiffer as exc:
            reason = str(exc)
    log(f"{TABLE} {sample_id}: full rewrite ({reason})")
    builder = TimeseriesBuilder(sample_id=sample_id, timezone=timezone)
    rows = _Rows(builder, ordered, batch_rows, log, started)
    lake.write_growing(TABLE, rows, rows.tail, partition, state=files_state)
    return rows.report("rewrite", reason, started)


def _in_time_order(sources: list[CyclingSource], timezone_name: str) -> list[CyclingSource]:
    """Sources ordered by acquisition start, by the rule of ``build_timeseries``."""
    stand_ins = [attach_metadata(CYCLING_TIMESERIES.arrow_schema().empty_table(), {**s.metadata, "position": i})
                 for i, s in enumerate(sources)]
    ordered = _order_by_start(stand_ins, ZoneInfo(timezone_name))
    return [sources[metadata_of(table)["position"]] for table, _ in ordered]


def _why_not_append(stored: dict | None, ordered: list[CyclingSource]) -> str | None:
    """None when the stored rows came from these files with only the last one grown; else why not."""
    if stored is None:
        return "no append state for this partition"
    if not ordered:
        return "no usable file"
    if stored["tail_part"] + 1 >= MAX_PARTS:
        return f"{stored['tail_part'] + 1} parts stored: compacted into one"
    before, now = stored["files"], ordered
    if [f["path"] for f in before] != [s.rel for s in now]:
        return "files added, removed or reordered"
    for old, new in zip(before[:-1], now[:-1]):
        if (old["size_byte"], old["sha256"]) != (new.size_byte, new.sha256):
            return f"{new.rel} changed"
    old, new = before[-1], now[-1]
    if new.size_byte < old["size_byte"] or prefix_sha256(new.path, old["size_byte"]) != old["sha256"]:
        return f"{new.rel} was replaced, not appended to"
    return None


def prefix_sha256(path: str | Path, size_byte: int) -> str:
    """Hex SHA-256 of the first ``size_byte`` bytes of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        remaining = size_byte
        while remaining > 0 and (block := fh.read(min(CHUNK, remaining))):
            digest.update(block)
            remaining -= len(block)
    return digest.hexdigest()


class _StoredRowsDiffer(Exception):
    pass


class _Rows:
    """The builder's final rows as an iterable of tables (rows before ``skip`` dropped), with progress logs.

    With ``expected_last``, the recomputed row ``skip - 1`` must equal it (except ``UNCHECKED_COLUMNS``),
    else ``_StoredRowsDiffer`` stops the write before anything is published.
    """

    def __init__(self, builder: TimeseriesBuilder, sources: list[CyclingSource], batch_rows: int,
                 log: Callable[[str], None], started: float, *, skip: int = 0, expected_last: pa.Table | None = None):
        self.builder, self.sources, self.batch_rows, self.log = builder, sources, batch_rows, log
        self.started, self.skip, self.expected_last = started, skip, expected_last
        self.written = 0
        self.tail_rows = 0
        self._next_progress = PROGRESS_ROWS
        self._checked = skip == 0

    def __iter__(self) -> Iterator[pa.Table]:
        for source in self.sources:
            self.builder.start_file(source.metadata, name=source.rel)
            for table in source.tables(self.batch_rows):
                yield from self._new(self.builder.add(table))
        if not self._checked:  # stops the write before the stored tail is replaced
            raise _StoredRowsDiffer(f"the files now give fewer than the {self.skip} final rows stored")

    def tail(self) -> pa.Table:
        """The held-back rows, once the final ones were all consumed."""
        tail = self.builder.finish()
        self.tail_rows = tail.num_rows
        return tail

    def _new(self, rows: pa.Table) -> Iterator[pa.Table]:
        end = self.builder.rows_out
        start = end - rows.num_rows
        if not self._checked and start < self.skip <= end:
            self._check(rows.slice(self.skip - 1 - start, 1))
        if end > self._next_progress:
            seconds = time.perf_counter() - self.started
            self.log(f"{TABLE}: {end:,} rows in {seconds:.0f} s ({end / seconds:,.0f} rows/s)")
            self._next_progress += PROGRESS_ROWS
        if end > self.skip:
            new = rows.slice(max(self.skip - start, 0))
            self.written += new.num_rows
            yield new

    def _check(self, recomputed: pa.Table) -> None:
        self._checked = True
        names = [c for c in self.expected_last.column_names if c not in UNCHECKED_COLUMNS]
        stored = self.expected_last.select(names).to_pylist()
        if recomputed.select(names).to_pylist() != stored:
            raise _StoredRowsDiffer(f"recomputed row {self.skip - 1} differs from the stored one")

    def report(self, mode: str, reason: str, started: float) -> IngestReport:
        return IngestReport(mode, reason, self.builder.rows_out, self.written + self.tail_rows,
                            time.perf_counter() - started, self.builder.warnings)
