"""Sniff-then-read dispatch: every raw file goes through ``read(path)``.

A reader is a module listed in ``READERS`` with:

* ``NAME``: short format name (e.g. ``"eclab_mpt"``);
* ``TECHNIQUE``: the warehouse family its table belongs to (``cycling``, ``d2b``, ``xas``, ``survey``);
* ``sniff(path, head) -> bool``: a cheap look at the first bytes (``head``, up to 64 KiB) and the
  name; never parses the whole file;
* ``read(path) -> (pyarrow.Table, dict)``: the file's canonical table and its metadata, or
  ``UnreadableFile`` with a reason;
* optionally ``read_canonical(path)``: the same, parsing only what ``READER_COLUMNS`` need
  (cycling readers of wide files).

Files decoded by native libraries (zip, OLE2, HDF5, Neware) are sniffed and read in a child
process whose memory and CPU time are capped (``memory_cap``).

Detection is by content first, so a renamed file still finds its reader.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pyarrow as pa

from ..ingest.errors import UnreadableFile, failure_reason, must_propagate
from .limits import check_zip
from ..ingest.raw_tree import not_a_regular_file
from ..schemas.cycling import READER_COLUMNS
from . import (arbin, basytec, d2b_nexus, eclab_mpr, eclab_mpt, maccor, memory_cap, neware, novonix, survey_form,
               xas_columns, xas_nxxas, xas_rock, xas_xdi)

READER_COLUMN_NAMES = [column.name for column in READER_COLUMNS]

HEAD_BYTES = 65536
ZIP_MAGIC = b"PK\x03\x04"
METADATA_KEY = b"bigmap"

# Order matters only where two sniffers could both accept a file: the stricter first.
READERS: list[ModuleType] = [eclab_mpr, eclab_mpt, neware, arbin, maccor, basytec, novonix, d2b_nexus,
                             xas_nxxas, xas_rock, xas_xdi, xas_columns, survey_form]


def read_head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def find_reader(path: str | Path) -> ModuleType:
    """The reader that accepts ``path``, or ``UnreadableFile`` listing what was tried.

    Only a regular file is opened: a FIFO would wait for a writer forever, a device never ends.
    A sniffer that fails on the file (a corrupt HDF5 file, say) does not stop the others;
    when none accepts the file, the first failure is the reason given.
    """
    path = Path(path)
    problem = not_a_regular_file(path)
    if problem:
        raise UnreadableFile(path, problem)
    try:
        head = read_head(path)
    except IsADirectoryError:
        raise UnreadableFile(path, "is a folder, not a file") from None
    except (FileNotFoundError, NotADirectoryError):
        raise UnreadableFile(path, "no such file") from None
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be opened: {exc.strerror or exc}") from None
    if not head:
        raise UnreadableFile(path, "file is empty")
    failures = []
    for reader in READERS:
        try:
            if reader.sniff(path, head):
                return reader
        except UnreadableFile as exc:  # the sniffer found a reason to refuse the file (a zip bomb, say)
            failures.append(exc.reason)
        except BaseException as exc:  # noqa: BLE001 - a panic in a Rust library is a BaseException
            if must_propagate(exc):
                raise
            failures.append(f"it looks like {reader.NAME} but cannot be opened as one: {failure_reason(exc)}")
    if failures:
        raise UnreadableFile(path, failures[0])
    tried = ", ".join(r.NAME for r in READERS)
    raise UnreadableFile(path, f"no reader recognises this file (tried: {tried})")


def attach_metadata(table: pa.Table, metadata: dict) -> pa.Table:
    """Store ``metadata`` as JSON in the table's schema metadata under ``b"bigmap"``."""
    existing = dict(table.schema.metadata or {})
    existing[METADATA_KEY] = json.dumps(metadata, default=str, sort_keys=True).encode()
    return table.replace_schema_metadata(existing)


def metadata_of(table: pa.Table) -> dict:
    """The reader metadata stored by ``attach_metadata`` (empty dict when absent)."""
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def read(path: str | Path, *, canonical_only: bool = False, fallback: str | None = None) -> pa.Table:
    """Read any supported raw file into its canonical Arrow table.

    The file's metadata (format, technique, start time, instrument, warnings...) is in the
    schema metadata; get it back with ``metadata_of(table)``. With ``canonical_only``, a
    cycling file gives only ``READER_COLUMNS`` (what the warehouse keeps), and readers with a
    ``read_canonical`` skip the file's other columns while parsing, which is much faster on
    wide text exports. ``fallback`` names the reader to try when none recognises the file. A
    file for a native decoder is read in a capped child process (``memory_cap``).
    """
    path = Path(path)
    head = _head_or_nothing(path)
    if memory_cap.applies(head):
        if head.startswith(ZIP_MAGIC):  # a zip bomb that says what it is is refused before any child starts
            check_zip(path)
        return memory_cap.call(_read, path, canonical_only, fallback)
    return _read(path, canonical_only, fallback)


def _head_or_nothing(path: Path) -> bytes:
    """The file's first bytes, or none for what ``find_reader`` refuses without opening."""
    if not_a_regular_file(path):
        return b""
    try:
        return read_head(path)
    except OSError:
        return b""


def _read(path: Path, canonical_only: bool, fallback: str | None) -> pa.Table:
    try:
        reader = find_reader(path)
    except UnreadableFile:
        if fallback is None:
            raise
        reader = next(r for r in READERS if r.NAME == fallback)
    narrow = canonical_only and reader.TECHNIQUE == "cycling"
    try:
        table, metadata = (getattr(reader, "read_canonical", reader.read) if narrow else reader.read)(path)
        if narrow:
            table = table.select(READER_COLUMN_NAMES)
    except UnreadableFile:
        raise
    except BaseException as exc:  # noqa: BLE001 - a reader bug, a file broken in a way it did not foresee, a panic
        if must_propagate(exc):
            raise
        raise UnreadableFile(path, f"{reader.NAME} reader failed: {failure_reason(exc)}") from exc
    metadata = {"format": reader.NAME, "technique": reader.TECHNIQUE, "source_file": str(path), **metadata}
    return attach_metadata(table, metadata)
