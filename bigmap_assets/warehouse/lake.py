"""Atomic Parquet writes in hive folders, and reading partitions back.

Layout: ``<root>/<table>/<key>=<value>/.../part-0.parquet``, keys in the order the table's
schema declares (``schemas.Table.partitioned_by``). A file is written under a temporary
name that no reader glob matches, then ``os.replace``-d into place, so a reader sees the
old file or the new one, never half of one.

A partition that grows (a cycler file still being written) holds ``part-0.parquet``,
``part-1.parquet``, ... read in numeric order: every part but the last holds final rows,
the last (the tail) holds rows that may still change. ``append`` renames the newly final
rows onto the tail in one step, then writes the new tail as the next part, so a reader
always sees a consistent prefix of the table and never a row twice. ``APPEND_STATE``
beside the parts records what the rows were made from.

A part that cannot be read (damaged on disk, or a file that is not this table's) raises
``BrokenPart`` on reading; ``broken_parts`` lists them, and writing the partition again
replaces them. Parts are written with a CRC per page, and ``broken_parts`` reads every page of
a part (not only its footer), so damaged data behind an intact footer is found too; what it
found is kept in ``PART_CHECKS`` per part (size, modification time, the table's schema), so
each part's pages are read once, after it was written or changed, not on every check.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import schemas

SAFE_VALUE = re.compile(r"^[A-Za-z0-9._-]+$")
PART_NAME = "part-0.parquet"
PART_PATTERN = re.compile(r"^part-(\d+)\.parquet$")
APPEND_STATE = "_append_state.json"  # matches no *.parquet glob
PART_CHECKS = "_part_checks.json"  # in the lake's root: {part path: [size, mtime_ns, schema, problem or null]}
_PART_CHECKS_READ: dict[Path, tuple[tuple[int, int, int], dict[str, list]]] = {}  # path -> (inode, mtime_ns, size), checks


class BrokenPart(ValueError):
    """A stored part that cannot be read: names the file and says why."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def part_problem(path: str | Path, expected: pa.Schema | None = None) -> str | None:
    """Why a Parquet part cannot be read, None when it can: its footer, or (given the table's
    ``expected`` schema) a column of another type, or none of the table's columns at all.

    A part lacking some columns is one written before they were declared: it reads, with nulls.
    """
    try:
        stored = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        return f"unreadable Parquet file ({exc})"
    if expected is None:
        return None
    shared = [field for field in expected if field.name in stored.names]
    if expected.names and not shared:
        return f"not a part of this table: none of its columns ({', '.join(expected.names[:3])}, ...)"
    for field in shared:
        found = stored.field(field.name).type
        if found != field.type:
            return f"not a part of this table: column {field.name} is {found}, expected {field.type}"
    return None


def pages_problem(path: str | Path) -> str | None:
    """Why the data pages of a part cannot be read (a page's CRC or decoding fails), None when they can;
    one row group in memory at a time."""
    try:
        stored = pq.ParquetFile(path, page_checksum_verification=True)
        for index in range(stored.num_row_groups):
            stored.read_row_group(index)
    except (OSError, pa.ArrowException) as exc:
        return f"damaged Parquet data pages ({exc})"
    return None


@functools.cache
def _fingerprint(table_name: str) -> str:
    """A short hash of the table's stored schema: a part checked against another schema is checked again."""
    return hashlib.sha256(str(schemas.TABLES[table_name].stored_schema()).encode()).hexdigest()[:16]


def check_partition_value(value: str) -> str:
    """Refuse partition values that are unsafe in paths and hive folder names."""
    if not SAFE_VALUE.match(value or "") or value in {".", ".."}:
        raise ValueError(
            f"invalid partition value {value!r}: use letters, digits, '.', '_' and '-' only"
        )
    return value


class Lake:
    """The Parquet side of the warehouse, rooted at ``root`` (``<data-dir>/warehouse/lake``).

    ``record_checks``: whether ``broken_parts`` keeps what it found in ``PART_CHECKS`` (False for the
    readers of the warehouse, ``bigmap sql`` and ``bigmap status``, which write nothing).
    """

    def __init__(self, root: str | Path, *, record_checks: bool = True):
        self.root = Path(root)
        self.record_checks = record_checks

    def partition_dir(self, table_name: str, partition: dict[str, str] | None = None) -> Path:
        table = schemas.TABLES[table_name]
        partition = partition or {}
        if set(partition) != set(table.partitioned_by):
            raise ValueError(
                f"table {table_name} is partitioned by {list(table.partitioned_by)}, got {sorted(partition)}"
            )
        folder = self.root / table_name
        for key in table.partitioned_by:
            folder = folder / f"{key}={check_partition_value(str(partition[key]))}"
        return folder

    def write(self, table_name: str, table: pa.Table, partition: dict[str, str] | None = None,
              row_group_size: int = 256_000) -> Path:
        """Conform ``table`` to its schema and publish it atomically as the whole partition; returns the path.

        Hive key columns are not stored inside the file (the folder names carry them). Parts
        after ``part-0`` and the append state are removed first (a reader meanwhile sees the
        old ``part-0``, a prefix of the old table).
        """
        path, _ = self.write_tables(table_name, [table], partition, row_group_size=row_group_size)
        return path

    def write_tables(self, table_name: str, tables: Iterable[pa.Table], partition: dict[str, str] | None = None,
                     *, part: int = 0, row_group_size: int = 256_000) -> tuple[Path, int]:
        """Stream ``tables`` (pieces of one table, e.g. from a generator) into part ``part``; (path, rows).

        Memory holds one piece at a time. ``part=0`` publishes the whole partition (as ``write``);
        another part number replaces or adds just that part.
        """
        folder = self.partition_dir(table_name, partition)
        folder.mkdir(parents=True, exist_ok=True)
        schema = self.stored_schema(table_name)
        final = folder / f"part-{part}.parquet"
        tmp = folder / f".{final.name}.{uuid.uuid4().hex}.tmp"
        rows = 0
        try:
            with pq.ParquetWriter(tmp, schema, compression="zstd", write_page_checksum=True) as writer:
                for table in tables:
                    stored = self._stored(table_name, table).cast(schema)
                    writer.write_table(stored, row_group_size=row_group_size)
                    rows += stored.num_rows
            problem = part_problem(tmp, schema)
            if problem:
                raise OSError(f"{final}: the written part does not read back: {problem}")
            if part == 0:
                self._remove_parts_after(folder, 0)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return final, rows

    def append(self, table_name: str, final_rows: Iterable[pa.Table], tail: Callable[[], pa.Table],
               partition: dict[str, str] | None = None, *, state: dict) -> Path:
        """Replace the tail part by ``final_rows``, then write ``tail()`` as the next part; returns the new tail.

        ``tail`` is called once ``final_rows`` is exhausted (both may come from one stream);
        an exception while ``final_rows`` is consumed leaves the partition as it was.

        The partition must have a valid append state (``append_state``). ``state`` (JSON-able,
        e.g. the files the rows came from) is stored with the new row and part counts.
        """
        current = self.append_state(table_name, partition)
        if current is None:
            raise ValueError(f"{table_name} {partition}: no valid append state, write the partition whole first")
        _, added = self.write_tables(table_name, final_rows, partition, part=current["tail_part"])
        tail_path, _ = self.write_tables(table_name, [tail()], partition, part=current["tail_part"] + 1)
        self._write_state(table_name, partition, {**state, "final_rows": current["final_rows"] + added,
                                                  "tail_part": current["tail_part"] + 1})
        return tail_path

    def write_growing(self, table_name: str, final_rows: Iterable[pa.Table], tail: Callable[[], pa.Table],
                      partition: dict[str, str] | None = None, *, state: dict) -> Path:
        """Publish the whole partition as final rows (``part-0``, streamed) and ``tail()`` (``part-1``) to append to."""
        _, final_count = self.write_tables(table_name, final_rows, partition)
        self.write_tables(table_name, [tail()], partition, part=1)
        self._write_state(table_name, partition, {**state, "final_rows": final_count, "tail_part": 1})
        return self.partition_dir(table_name, partition) / PART_NAME

    def append_state(self, table_name: str, partition: dict[str, str] | None = None) -> dict | None:
        """The stored append state, or None when absent or when the parts on disk do not match it."""
        folder = self.partition_dir(table_name, partition)
        try:
            state = json.loads((folder / APPEND_STATE).read_text())
        except (OSError, ValueError):
            return None
        parts = self.parts(table_name, partition)
        expected = [folder / f"part-{i}.parquet" for i in range(state.get("tail_part", -1) + 1)]
        if not expected or parts != expected:
            return None
        try:
            final_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parts[:-1])
        except (OSError, pa.ArrowException):  # a damaged part: rewrite the partition
            return None
        if final_rows != state.get("final_rows") or self.broken_parts(table_name, partition):
            return None
        return state

    def last_final_row(self, table_name: str, partition: dict[str, str] | None = None) -> pa.Table | None:
        """The last row before the tail (one-row table, hive keys not included), None when there is none."""
        for path in reversed(self.parts(table_name, partition)[:-1]):
            stored = pq.ParquetFile(path)
            if stored.metadata.num_rows:
                last_group = stored.read_row_group(stored.metadata.num_row_groups - 1)
                if last_group.num_rows:
                    return last_group.slice(last_group.num_rows - 1)
        return None

    def parts(self, table_name: str, partition: dict[str, str] | None = None) -> list[Path]:
        """The partition's part files in numeric order (empty when never written)."""
        folder = self.partition_dir(table_name, partition)
        if not folder.is_dir():
            return []
        numbered = [(int(m.group(1)), p) for p in folder.iterdir() if (m := PART_PATTERN.match(p.name))]
        return [p for _, p in sorted(numbered)]

    def part_count(self, table_name: str, partition: dict[str, str] | None = None) -> int:
        return len(self.parts(table_name, partition))

    def modified_second(self, table_name: str, partition: dict[str, str] | None = None) -> float | None:
        """When the partition's newest part was written (POSIX seconds), None when never."""
        return max((p.stat().st_mtime for p in self.parts(table_name, partition)), default=None)

    def location(self, table_name: str, partition: dict[str, str] | None = None) -> str:
        """The partition's folder."""
        return str(self.partition_dir(table_name, partition))

    def read(self, table_name: str, partition: dict[str, str] | None = None,
             columns: list[str] | None = None) -> pa.Table | None:
        """One partition back (all its parts, in order) with its hive key columns, or None when never written.

        ``columns`` reads only those columns (hive keys are always added).
        """
        parts = self.parts(table_name, partition)
        if not parts:
            return None
        schema = schemas.TABLES[table_name]
        stored = self.stored_schema(table_name)
        wanted = [c for c in columns if c in stored.names] if columns is not None else None
        table = pa.concat_tables([_read_part(p, wanted, stored) for p in parts])
        for key, value in (partition or {}).items():
            table = table.append_column(key, pa.repeat(pa.scalar(value, pa.string()), table.num_rows))
        return table.select([c for c in schema.column_names if c in table.column_names])

    def read_every(self, table_name: str, columns: list[str] | None = None) -> pa.Table | None:
        """Every readable partition of ``table_name`` (only ``columns`` if given; None when none was written);
        broken ones are left out.

        Cross-sample tables use it, so one damaged part does not stop them; ``broken_parts`` names it.
        """
        if not schemas.TABLES[table_name].partitioned_by:
            try:
                return self.read(table_name, columns=columns)
            except BrokenPart:
                return None
        tables = []
        for partition in self.partitions(table_name):
            try:
                tables.append(self.read(table_name, partition, columns))
            except BrokenPart:
                continue
        tables = [t for t in tables if t is not None]
        return pa.concat_tables(tables) if tables else None

    def broken_parts(self, table_name: str | None = None,
                     partition: dict[str, str] | None = None) -> list[BrokenPart]:
        """The parts that cannot be read, footer or data pages: of one partition, one table, or (no name)
        the whole lake. A part's pages are read only when it is new or changed since its last check."""
        if partition is not None:
            paths = self.parts(table_name, partition)
        else:
            names = [table_name] if table_name else sorted(schemas.TABLES)
            paths = [p for name in names for p in sorted((self.root / name).rglob("*.parquet"))]
        checks = self._part_checks()
        changed = False
        broken = []
        for path in paths:
            name = path.relative_to(self.root).parts[0]
            if name not in schemas.TABLES:
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # replaced meanwhile
                continue
            expected = self.stored_schema(name)
            key, stamp = str(path.relative_to(self.root)), [stat.st_size, stat.st_mtime_ns, _fingerprint(name)]
            known = checks.get(key)
            if known is not None and known[:3] == stamp:
                problem = known[3]
            else:
                problem = part_problem(path, expected) or pages_problem(path)
                checks[key], changed = [*stamp, problem], True
            if problem:
                broken.append(BrokenPart(path, problem))
        if changed and self.record_checks:
            self._save_part_checks(checks)
        return broken

    def _part_checks(self) -> dict[str, list]:
        """The recorded checks (a copy), parsed once per version of the file in this process: a run asks
        for them once per partition, and a fleet's file holds thousands of parts."""
        path = self.root / PART_CHECKS
        try:
            stat = path.stat()
            version = (stat.st_ino, stat.st_mtime_ns, stat.st_size)  # replaced whole: a new inode each time
            cached = _PART_CHECKS_READ.get(path)
            if cached is None or cached[0] != version:
                checks = json.loads(path.read_text())
                cached = _PART_CHECKS_READ[path] = (version, checks if isinstance(checks, dict) else {})
        except (OSError, ValueError):
            return {}
        return dict(cached[1])

    def _save_part_checks(self, checks: dict[str, list]) -> None:
        """Written whole or not at all; parts gone from the lake are dropped. A lake this process cannot
        write (a read-only mount) keeps its record as it was: the parts are checked again next time."""
        kept = {key: value for key, value in checks.items() if (self.root / key).exists()}
        tmp = self.root / f".{PART_CHECKS}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_text(json.dumps(kept, sort_keys=True))
            os.replace(tmp, self.root / PART_CHECKS)
        except OSError:
            pass
        finally:
            tmp.unlink(missing_ok=True)

    def iter_tables(self, table_name: str, partition: dict[str, str] | None = None,
                    columns: list[str] | None = None, batch_rows: int = 256_000) -> Iterator[pa.Table]:
        """The partition's rows in order, about ``batch_rows`` at a time (bounded memory), with hive key columns."""
        schema = schemas.TABLES[table_name]
        wanted = [c for c in columns if c in self.stored_schema(table_name).names] if columns is not None else None
        for path in self.parts(table_name, partition):
            problem = part_problem(path, self.stored_schema(table_name))
            if problem:
                raise BrokenPart(path, problem)
            stored = pq.ParquetFile(path)
            # one row group at a time: over every row group at once, pyarrow reads ahead as far as the file
            # goes, holding more the longer the part (280 MiB for a 0.5 GB .mpt's series; 100 MiB this way)
            batches = (batch for group in range(stored.num_row_groups)
                       for batch in stored.iter_batches(batch_size=batch_rows, row_groups=[group], columns=wanted))
            for batch in batches:
                table = pa.Table.from_batches([batch])
                for key, value in (partition or {}).items():
                    table = table.append_column(key, pa.repeat(pa.scalar(value, pa.string()), table.num_rows))
                yield table.select([c for c in schema.column_names if c in table.column_names])

    def column_names(self, table_name: str, partition: dict[str, str] | None = None) -> list[str]:
        """The partition's columns as ``read`` returns them (stored columns, then hive keys in schema order),
        from the files' footers alone; empty when never written."""
        parts = self.parts(table_name, partition)
        if not parts:
            return []
        stored = set(pq.read_schema(parts[0]).names) | set(partition or {})
        for path in parts[1:]:
            stored &= set(pq.read_schema(path).names) | set(partition or {})
        return [c for c in schemas.TABLES[table_name].column_names if c in stored]

    def stored_schema(self, table_name: str) -> pa.Schema:
        """The schema of the stored files: the declared one without the hive key columns."""
        return schemas.TABLES[table_name].stored_schema()

    def _stored(self, table_name: str, table: pa.Table) -> pa.Table:
        schema = schemas.TABLES[table_name]
        conformed = schema.conform(table)
        return conformed.drop_columns([k for k in schema.partitioned_by if k in conformed.column_names])

    def _remove_parts_after(self, folder: Path, last_kept: int) -> None:
        (folder / APPEND_STATE).unlink(missing_ok=True)
        for path in folder.iterdir():
            match = PART_PATTERN.match(path.name)
            if match and int(match.group(1)) > last_kept:
                path.unlink(missing_ok=True)

    def _write_state(self, table_name: str, partition: dict[str, str] | None, state: dict) -> None:
        folder = self.partition_dir(table_name, partition)
        tmp = folder / f".{APPEND_STATE}.{uuid.uuid4().hex}.tmp"
        try:
            tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
            os.replace(tmp, folder / APPEND_STATE)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, table_name: str, partition: dict[str, str] | None = None) -> None:
        """Remove a partition (e.g. its files were removed from raw/): every part and the append state."""
        folder = self.partition_dir(table_name, partition)
        if folder.is_dir():
            self._remove_parts_after(folder, -1)

    def partitions(self, table_name: str) -> list[dict[str, str]]:
        """The partitions of ``table_name`` that exist on disk."""
        schema = schemas.TABLES[table_name]
        base = self.root / table_name
        depth = len(schema.partitioned_by)
        found = []
        for path in sorted(base.glob("/".join(["*"] * depth + [PART_NAME]))) if base.exists() else []:
            parts = path.relative_to(base).parts[:-1]
            found.append(dict(p.split("=", 1) for p in parts))
        return found

    def glob(self, table_name: str) -> str:
        """The DuckDB glob matching every published file of ``table_name``."""
        depth = len(schemas.TABLES[table_name].partitioned_by)
        return str(self.root / table_name / "/".join(["*"] * depth + ["*.parquet"]))

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _read_part(path: Path, columns: list[str] | None, expected: pa.Schema) -> pa.Table:
    problem = part_problem(path, expected)
    if problem is None:
        try:
            return pq.read_table(path, columns=columns)
        except (OSError, pa.ArrowException) as exc:
            problem = f"unreadable Parquet data ({exc})"
    raise BrokenPart(path, problem)
