"""Big cycler files (EC-Lab ``.mpt`` and ``.mpr``, Arbin/Maccor/BaSyTec/Novonix text) as record batches in
bounded memory.

``iter_batches(path)`` parses a text file with ``pyarrow.csv.open_csv`` block by block (decimal
commas and Latin-1 honoured), or maps an ``.mpr`` and decodes its point records a chunk at a
time (``eclab_mpr.iter_tables``), and yields ``READER_COLUMNS``-first record batches of about
``batch_rows`` rows (fewer when text rows are wide: at most ``MAX_BATCH_BYTES`` of parsed data,
so memory stays bounded), each converted by the format's own reader code. Counters that span
batches stay exact: every batch is converted together with the last row of the previous
one (so per-row increments at the seam are right), and cumulative capacities continue from
where the previous batch ended, as does test time where a reader shifted it (Maccor stalls).
Control modes that a format does not record (Arbin, BaSyTec, Maccor CC vs CV) are inferred
per step within a batch, so a step cut by a batch seam is
judged on its two parts. Every batch carries the same schema, with the reader metadata of
the first batch as JSON under ``b"bigmap"``, so batches can go straight to a Parquet writer.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from ..ingest.errors import UnreadableFile, failure_reason, must_propagate
from . import METADATA_KEY, READER_COLUMN_NAMES, find_reader, read_head
from . import arbin, basytec, eclab_mpr, maccor, novonix
from .cycler_common import TextLayout, decode_text, encoding_of, line_offset, with_line_feeds
from .eclab_columns import CANONICAL_SOURCES, TECHNIQUE_NAMES, canonical_name, measurement_kind, reader_table

CUMULATIVE_COLUMNS = ("charging_capacity_ah", "discharging_capacity_ah")
MIN_BLOCK_BYTES = 1 << 12
MAX_BLOCK_BYTES = 1 << 22  # 4 MiB CSV blocks parse fastest (64 MiB blocks take twice as long)
MAX_BATCH_BYTES = 1 << 26  # parsed data per batch: wide files give fewer than batch_rows rows
_MPT_TITLES = ("ec-lab ascii file", "bt-lab ascii file")
_MPT_START = re.compile(r"Acquisition started on\s*:\s*(\S+ \S+)")
_MPT_START_FORMATS = ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S")


def iter_batches(path: str | Path, *, batch_rows: int = 1_000_000, canonical_only: bool = False) -> Iterator[pa.RecordBatch]:
    """The file's reader table as record batches (see ``_iter_batches``); any failure is an ``UnreadableFile``."""
    try:
        yield from _iter_batches(Path(path), batch_rows, canonical_only)
    except UnreadableFile:
        raise
    except BaseException as exc:  # noqa: BLE001 - a file broken part-way in a way the readers did not foresee
        if must_propagate(exc):
            raise
        raise UnreadableFile(path, f"streamed reading failed: {failure_reason(exc)}") from exc


def _iter_batches(path: Path, batch_rows: int, canonical_only: bool) -> Iterator[pa.RecordBatch]:
    """The file's reader table as record batches of about ``batch_rows`` rows (bounded memory).

    With ``canonical_only``, only the columns behind ``READER_COLUMNS`` are parsed and the
    batches hold ``READER_COLUMNS`` alone (as ``read(path, canonical_only=True)``).
    Raises ``UnreadableFile`` for a file no reader accepts, or whose format is not streamed
    (spreadsheets and other binary files than ``.mpr``: read them whole with ``bigmap_assets.read``).
    """
    path = Path(path)
    name = find_reader(path).NAME
    if name == "eclab_mpr":
        converted = eclab_mpr.iter_tables(path, batch_rows, extras=not canonical_only)
    else:
        converted = _text_tables(path, name, batch_rows, canonical_only)
    totals, schema = None, None
    for table, metadata in converted:
        if canonical_only:
            table = table.select(READER_COLUMN_NAMES)
        if totals is not None:
            table = _continued(table, totals)
        totals = {c: table.column(c)[table.num_rows - 1].as_py() for c in (*CUMULATIVE_COLUMNS, "test_time_second")}
        if schema is None:
            metadata = {"format": name, "technique": "cycling", "source_file": str(path), "streamed": True, **metadata}
            schema = table.schema.with_metadata({METADATA_KEY: json.dumps(metadata, default=str, sort_keys=True).encode()})
        try:
            table = table.cast(schema)
        except (ValueError, pa.ArrowInvalid) as exc:
            raise UnreadableFile(path, f"a later part of the file has other columns than its start: {exc}") from exc
        yield from table.combine_chunks().to_batches()


def _text_tables(path: Path, name: str, batch_rows: int, canonical_only: bool) -> Iterator[tuple[pa.Table, dict]]:
    """The text file's reader tables and metadata, about ``batch_rows`` rows each; each after the first is
    led by the last row of the one before (its parsed source row converted again with the new rows)."""
    head = with_line_feeds(read_head(path))  # pyarrow reads CR-only rows; the layout needs LF
    text_layout, convert, sources = _format(path, name, head)
    if canonical_only:
        text_layout = text_layout.narrowed(sources(text_layout))
    previous_row = None
    for source in _source_tables(path, text_layout, batch_rows, _block_bytes(head, text_layout, batch_rows)):
        if previous_row is not None:
            source = pa.concat_tables([previous_row, source])
        previous_row = source.take([source.num_rows - 1])  # a copy: the batch's buffers can go
        yield convert(path, source, text_layout, 0)
        del source


def _format(path: Path, name: str, head: bytes):
    """The text layout, the convert function and the canonical sources for a streamable format."""
    if name == "eclab_mpt":
        return _mpt_layout(path, head), _mpt_convert, lambda _layout: CANONICAL_SOURCES
    modules = {"arbin": arbin, "maccor": maccor, "basytec": basytec, "novonix": novonix}
    binary = head.startswith(b"PK\x03\x04") or any(magic in head[:32] for magic in arbin.ACCESS_MAGICS)
    if name not in modules or binary:
        raise UnreadableFile(path, f"{name} files are not streamed (binary or spreadsheet): read them whole")
    module = modules[name]
    return module.layout(path, head), module.convert, module.canonical_sources


def _continued(table: pa.Table, totals: dict[str, float | None]) -> pa.Table:
    """Drop the carried-over first row and continue the cumulative counters from ``totals``, and
    test time where the previous batch ended it elsewhere than this one starts it."""
    time_s = table.column("test_time_second").to_numpy(zero_copy_only=False)
    if totals["test_time_second"] is not None and np.isfinite(time_s[0]) and time_s[0] != totals["test_time_second"]:
        index = table.column_names.index("test_time_second")
        shifted = pa.array(time_s + (totals["test_time_second"] - time_s[0]))
        table = table.set_column(index, table.field("test_time_second"), shifted)
    for column in CUMULATIVE_COLUMNS:
        values = table.column(column).to_numpy(zero_copy_only=False)
        if totals[column] is None or np.isnan(values[0]):
            continue
        index = table.column_names.index(column)
        table = table.set_column(index, table.field(column), pa.array(values - values[0] + totals[column]))
    return table.slice(1)


def _block_bytes(head: bytes, text_layout: TextLayout, batch_rows: int) -> int:
    """A CSV block size that yields about ``batch_rows`` rows, from the length of the first rows."""
    sample = head[text_layout.offset:]
    rows = max(sample.count(b"\n"), 1)
    return int(np.clip(batch_rows * len(sample) / rows, MIN_BLOCK_BYTES, MAX_BLOCK_BYTES))


def _source_tables(path: Path, text_layout: TextLayout, batch_rows: int, block_bytes: int) -> Iterator[pa.Table]:
    """Parsed data rows, about ``batch_rows`` at a time, never the whole file in memory."""
    with pa.OSFile(str(path)) as raw:
        raw.seek(text_layout.offset)
        stream = _WithoutTrailingDelimiter(raw, text_layout.delimiter) if text_layout.trailing_delimiter else raw
        try:
            reader = pacsv.open_csv(
                stream, read_options=text_layout.read_options(block_bytes),
                parse_options=text_layout.parse_options(lambda _row: "skip"),
                convert_options=text_layout.convert_options(numbers_as_float=True),
            )
        except pa.ArrowInvalid as exc:
            raise UnreadableFile(path, f"data rows do not parse: {exc}") from exc
        pending, count, size = [], 0, 0
        for batch in reader:
            pending.append(batch)
            count, size = count + batch.num_rows, size + batch.nbytes
            if count >= batch_rows or size >= MAX_BATCH_BYTES:
                table = pa.Table.from_batches(pending)
                pending, count, size = [], 0, 0
                yield table
        if count:
            yield pa.Table.from_batches(pending)


class _WithoutTrailingDelimiter(io.RawIOBase):
    """A read-only byte stream with the delimiter that ends every row removed.

    Bytes are cleaned up to the last line end read so far, so a ``<TAB>\\r\\n`` is never cut.
    """

    def __init__(self, raw, delimiter: str):
        self._raw = raw
        self._delimiter = delimiter.encode()
        self._tail = b""  # read but not yet cleaned: after the last line end
        self._ready = b""  # cleaned, not yet handed out
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while len(self._ready) < len(buffer) and not self._eof:
            chunk = with_line_feeds(self._raw.read(max(len(buffer), 1 << 20)))  # CR-only rows: LF
            text = self._tail + chunk
            if chunk:
                cut = text.rfind(b"\n") + 1
                text, self._tail = text[:cut], text[cut:]
            else:
                self._eof, self._tail = True, b""
                text = text[: -len(self._delimiter)] if text.endswith(self._delimiter) else text
            end = self._delimiter
            self._ready += text.replace(end + b"\r\n", b"\r\n").replace(end + b"\n", b"\n")
        size = min(len(buffer), len(self._ready))
        buffer[:size] = self._ready[:size]
        self._ready = self._ready[size:]
        return size


def _mpt_layout(path: Path, head: bytes) -> TextLayout:
    """Layout of an EC-Lab text export: ``Nb header lines : N``, column line N, tab-separated rows."""
    lines = head.split(b"\n")
    if decode_text(lines[0]).strip().lower() in _MPT_TITLES:
        match = re.match(r"\s*Nb header lines\s*:\s*(\d+)", decode_text(lines[1]) if len(lines) > 1 else "")
        if not match:
            raise UnreadableFile(path, "line 2 is not 'Nb header lines : N'", location="line 2")
        count = int(match.group(1))
    else:
        count = 1  # no header block: the first line names the columns
    if len(lines) <= count:
        raise UnreadableFile(path, f"the {count}-line header does not end in the first {len(head)} bytes")
    if not lines[count].strip():
        raise UnreadableFile(path, "no data rows after the header yet (the run may just have started)")
    header = [decode_text(line).rstrip("\r") for line in lines[:count]]
    names = [canonical_name(n) for n in header[-1].split("\t")]
    while names and not names[-1].strip():
        names.pop()
    first_row = decode_text(lines[count]).rstrip("\r").split("\t")
    if "time/s" in names and "/" in first_row[names.index("time/s")]:
        raise UnreadableFile(path, "time/s is written as dates in this export: read it whole, not streamed")
    start = next((m.group(1) for line in header if (m := _MPT_START.search(line))), None)
    return TextLayout(
        offset=line_offset(head, count), column_names=names, delimiter="\t",
        decimal_comma=any("," in field for field in first_row),
        trailing_delimiter=len(first_row) > len(names) and not first_row[-1].strip(), encoding=encoding_of(head),
        header={"header_lines": count, "start_time_local": _mpt_start(start),
                "techniques": list(dict.fromkeys(TECHNIQUE_NAMES[line.strip()] for line in header
                                                 if line.strip() in TECHNIQUE_NAMES))},
    )


def _mpt_start(text: str | None) -> str | None:
    for fmt in _MPT_START_FORMATS:
        try:
            return datetime.strptime(text or "", fmt).isoformat(timespec="milliseconds")
        except ValueError:
            continue
    return None


def _mpt_convert(path: Path, table: pa.Table, text_layout: TextLayout, dropped: int) -> tuple[pa.Table, dict]:
    """EC-Lab columns to the reader table, by the EC-Lab readers' own mapping."""
    columns = {name: table.column(name).to_numpy() for name in table.column_names}
    try:
        reader, mapping = reader_table(columns, extras=not text_layout.include_columns)
    except ValueError as exc:
        raise UnreadableFile(path, str(exc)) from exc
    header = text_layout.header
    metadata = {
        **header,
        "timezone": None,
        "measurement_kind": measurement_kind(header["techniques"], text_layout.column_names),
        "source_columns": text_layout.column_names,
        **mapping,
        "lacks": ["timezone"],
    }
    return reader, metadata
