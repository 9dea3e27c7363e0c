"""The lake on object storage: one Delta Lake table per warehouse table, same interface as ``lake.Lake``.

Layout: ``<root>/<table>/`` is a Delta table partitioned by the table's hive keys
(``schemas.Table.partitioned_by``). Every write is one Delta commit, atomic on S3 (delta-rs
commits with a conditional put, so two writers never both win the same version, and
delta-rs retries a commit whose conflict is only with other partitions). A partition
write is an overwrite with a predicate on its keys: other partitions are untouched, a
reader sees the old partition or the new one.

Two hidden columns keep ``Lake``'s growing-partition protocol: ``bigmap_part`` (the part a
row belongs to; the highest is the tail), the last Delta partition level, so that
``append`` replaces only the tail's files by the final rows and writes the new tail, in
one commit, never rewriting the final parts; and ``bigmap_row`` (the row's position in
the partition, for reading back in order). The append state is a small JSON object under
``<root>/_append_state/``, written after the commit and checked against the table.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from .. import schemas
from .lake import check_partition_value
from .storage import s3_options

PART = "bigmap_part"
ROW = "bigmap_row"
HIDDEN = (PART, ROW)
STATE_FOLDER = "_append_state"


class DeltaLake:
    """Delta tables under ``root`` (``s3://bucket/prefix``; a local folder works too, for benchmarks)."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.options = s3_options() if self.root.startswith("s3://") else {}

    # -- writing ---------------------------------------------------------------------------
    def write(self, table_name: str, table: pa.Table, partition: dict[str, str] | None = None,
              row_group_size: int = 256_000) -> str:
        """Publish ``table`` as the whole partition in one commit; returns the table's URI."""
        self.write_tables(table_name, [table], partition)
        return self.location(table_name, partition)

    def write_tables(self, table_name: str, tables: Iterable[pa.Table], partition: dict[str, str] | None = None,
                     *, part: int = 0, row_group_size: int = 256_000) -> tuple[str, int]:
        """Stream ``tables`` into part ``part`` (0: the whole partition, in one commit); (URI, rows)."""
        if part != 0:
            raise ValueError("DeltaLake replaces a tail only through append()")
        rows = self._commit(table_name, partition, [(0, tables)], first_row=0, from_part=0)
        return self.location(table_name, partition), rows[0]

    def append(self, table_name: str, final_rows: Iterable[pa.Table], tail: Callable[[], pa.Table],
               partition: dict[str, str] | None = None, *, state: dict) -> str:
        """Replace the tail part by ``final_rows`` and add ``tail()`` as the next part, in one commit."""
        current = self.append_state(table_name, partition)
        if current is None:
            raise ValueError(f"{table_name} {partition}: no valid append state, write the partition whole first")
        tail_part = current["tail_part"]
        added, _ = self._commit(table_name, partition, [(tail_part, final_rows), (tail_part + 1, _later(tail))],
                                first_row=current["final_rows"], from_part=tail_part)
        self._write_state(table_name, partition, {**state, "final_rows": current["final_rows"] + added,
                                                  "tail_part": tail_part + 1})
        return self.location(table_name, partition)

    def write_growing(self, table_name: str, final_rows: Iterable[pa.Table], tail: Callable[[], pa.Table],
                      partition: dict[str, str] | None = None, *, state: dict) -> str:
        """Publish the partition as final rows (part 0) and ``tail()`` (part 1) in one commit."""
        self._clear_state(table_name, partition)
        final_count, _ = self._commit(table_name, partition, [(0, final_rows), (1, _later(tail))],
                                      first_row=0, from_part=0)
        self._write_state(table_name, partition, {**state, "final_rows": final_count, "tail_part": 1})
        return self.location(table_name, partition)

    def delete(self, table_name: str, partition: dict[str, str] | None = None) -> None:
        """Remove a partition's rows (one commit) and its append state."""
        self._clear_state(table_name, partition)
        table = self._table(table_name)
        if table is not None:
            table.delete(self._predicate(table_name, partition))

    def vacuum(self, table_name: str, retention_hours: int = 168) -> int:
        """Delete the table's files that no commit has referenced for ``retention_hours`` (replaced parts,
        the uploads of killed writers); returns how many. Readers of older snapshots need the retention."""
        table = self._table(table_name)
        if table is None:
            return 0
        return len(table.vacuum(retention_hours=retention_hours, enforce_retention_duration=False, dry_run=False))

    # -- reading ---------------------------------------------------------------------------
    def read(self, table_name: str, partition: dict[str, str] | None = None,
             columns: list[str] | None = None) -> pa.Table | None:
        """One partition back in row order with its key columns, or None when never written."""
        pieces = list(self.iter_tables(table_name, partition, columns))
        if not pieces:
            return None
        return pa.concat_tables(pieces)

    def read_every(self, table_name: str, columns: list[str] | None = None) -> pa.Table | None:
        """Every partition of ``table_name`` (only ``columns`` if given), or None when none was written."""
        if not schemas.TABLES[table_name].partitioned_by:
            return self.read(table_name, columns=columns)
        tables = [t for p in self.partitions(table_name) if (t := self.read(table_name, p, columns)) is not None]
        return pa.concat_tables(tables) if tables else None

    def column_names(self, table_name: str, partition: dict[str, str] | None = None) -> list[str]:
        """The partition's columns as ``read`` returns them (every declared one); empty when never written."""
        return self._read_schema(table_name).names if self.part_count(table_name, partition) else []

    def iter_tables(self, table_name: str, partition: dict[str, str] | None = None,
                    columns: list[str] | None = None, batch_rows: int = 256_000) -> Iterator[pa.Table]:
        """The partition's rows in order, one data file at a time (bounded memory), hidden columns dropped."""
        dataset = self._dataset(table_name, partition)
        if dataset is None:
            return
        keys = self._keys(table_name, partition)
        declared = self._read_schema(table_name)
        wanted = [c for c in declared.names if columns is None or c in columns or c in keys]
        target = pa.schema([declared.field(c) for c in wanted])
        fragments = []
        for fragment in dataset.get_fragments(filter=self._filter(table_name, partition)):
            first = pc.min(fragment.to_table(columns=[ROW]).column(ROW)).as_py()
            if first is not None:
                fragments.append((first, fragment))
        for _, fragment in sorted(fragments, key=lambda item: item[0]):
            table = fragment.to_table(columns=[*wanted, ROW], schema=dataset.schema).sort_by(ROW)
            for start in range(0, table.num_rows, batch_rows):
                yield table.slice(start, batch_rows).select(wanted).cast(target)

    def append_state(self, table_name: str, partition: dict[str, str] | None = None) -> dict | None:
        """The stored append state, or None when absent or when the table's parts do not match it."""
        try:
            with self._fs.open_input_stream(self._state_path(table_name, partition)) as stream:
                state = json.loads(stream.read())
        except (OSError, ValueError):
            return None
        parts = self._hidden(table_name, partition)
        if parts is None or parts.num_rows == 0:
            return None
        part = parts.column(PART)
        if pc.max(part).as_py() != state.get("tail_part"):
            return None
        if pc.sum(pc.less(part, state["tail_part"])).as_py() != state.get("final_rows"):
            return None
        return state

    def last_final_row(self, table_name: str, partition: dict[str, str] | None = None) -> pa.Table | None:
        """The last row before the tail (one row, declared columns without hive keys), None when none."""
        parts = self._hidden(table_name, partition)
        if parts is None or parts.num_rows == 0:
            return None
        tail = pc.max(parts.column(PART)).as_py()
        final = parts.filter(pc.less(parts.column(PART), tail))
        if final.num_rows == 0:
            return None
        last = pc.max(final.column(ROW)).as_py()
        dataset = self._dataset(table_name, partition)
        stored = [c for c in schemas.TABLES[table_name].arrow_schema().names
                  if c not in schemas.TABLES[table_name].partitioned_by]
        return dataset.to_table(columns=stored, filter=self._filter(table_name, partition) & (ds.field(ROW) == last))

    def part_count(self, table_name: str, partition: dict[str, str] | None = None) -> int:
        parts = self._hidden(table_name, partition)
        return 0 if parts is None else len(pc.unique(parts.column(PART)))

    def partitions(self, table_name: str) -> list[dict[str, str]]:
        """The partitions of ``table_name`` that hold rows."""
        table = self._table(table_name)
        keys = schemas.TABLES[table_name].partitioned_by
        if table is None or not keys:
            return [{}] if table is not None and table.count() else []
        found = {tuple(str(p[k]) for k in keys) for p in table.partitions()}
        return [dict(zip(keys, values)) for values in sorted(found)]

    def modified_second(self, table_name: str, partition: dict[str, str] | None = None) -> float | None:
        """When the partition's newest data file was written (POSIX seconds), None when never."""
        table = self._table(table_name)
        if table is None:
            return None
        filters = [(k, "=", v) for k, v in self._keys(table_name, partition).items()]
        actions = pa.table(table.get_add_actions(flatten=True))
        if filters:
            for key, _, value in filters:
                actions = actions.filter(pc.equal(actions.column(f"partition.{key}"), value))
        if actions.num_rows == 0:
            return None
        newest = pc.max(actions.column("modification_time")).as_py()
        return newest.replace(tzinfo=newest.tzinfo or timezone.utc).timestamp() if isinstance(newest, datetime) \
            else newest / 1000

    def location(self, table_name: str, partition: dict[str, str] | None = None) -> str:
        """The URI of the table (and partition, as Delta stores it)."""
        keys = self._keys(table_name, partition)
        return "/".join([self.uri(table_name), *(f"{k}={v}" for k, v in keys.items())])

    def uri(self, table_name: str) -> str:
        return f"{self.root}/{table_name}"

    def dataset(self, table_name: str) -> ds.Dataset | None:
        """The table's current snapshot as an Arrow dataset (None when never written)."""
        table = self._table(table_name)
        return table.to_pyarrow_dataset() if table is not None else None

    # -- internals -------------------------------------------------------------------------
    def _keys(self, table_name: str, partition: dict[str, str] | None) -> dict[str, str]:
        keys = schemas.TABLES[table_name].partitioned_by
        partition = partition or {}
        if set(partition) != set(keys):
            raise ValueError(f"table {table_name} is partitioned by {list(keys)}, got {sorted(partition)}")
        return {k: check_partition_value(str(partition[k])) for k in keys}

    def _predicate(self, table_name: str, partition: dict[str, str] | None, from_part: int = 0) -> str:
        terms = [f"{k} = '{v}'" for k, v in self._keys(table_name, partition).items()]
        if from_part:
            terms.append(f"{PART} >= {from_part}")
        return " AND ".join(terms) or "true"

    def _filter(self, table_name: str, partition: dict[str, str] | None) -> ds.Expression:
        expression = ds.scalar(True)
        for key, value in self._keys(table_name, partition).items():
            expression = expression & (ds.field(key) == value)
        return expression

    def _read_schema(self, table_name: str) -> pa.Schema:
        """What ``Lake.read`` returns: the declared schema, hive keys as nullable strings."""
        arrow = schemas.TABLES[table_name].arrow_schema()
        for key in schemas.TABLES[table_name].partitioned_by:
            arrow = arrow.set(arrow.get_field_index(key), pa.field(key, pa.string()))
        return arrow

    def _schema(self, table_name: str) -> pa.Schema:
        return schemas.TABLES[table_name].arrow_schema().append(pa.field(PART, pa.int32())).append(
            pa.field(ROW, pa.int64()))

    def _commit(self, table_name: str, partition: dict[str, str] | None,
                pieces: list[tuple[int, Iterable[pa.Table]]], *, first_row: int, from_part: int) -> list[int]:
        """Write ``(part, tables)`` pieces in one Delta commit replacing parts >= ``from_part``; rows per piece.

        The rows are spooled to a local temporary Parquet file first, in bounded memory: the pieces may
        themselves read Delta tables (the cycles summary reads the time series), which delta-rs cannot do
        from inside its own write; and a piece that fails does so before anything is sent.
        """
        keys = self._keys(table_name, partition)
        declared = schemas.TABLES[table_name]
        schema = self._schema(table_name)
        counts = [0] * len(pieces)

        def batches() -> Iterator[pa.RecordBatch]:
            row = first_row
            for index, (part, tables) in enumerate(pieces):
                for table in tables:
                    conformed = declared.conform(table)
                    for key, value in keys.items():
                        position = conformed.schema.get_field_index(key)
                        conformed = conformed.set_column(position, key, pa.array([value] * conformed.num_rows,
                                                                                 pa.string()))
                    n = conformed.num_rows
                    conformed = conformed.append_column(PART, pa.array([part] * n, pa.int32()))
                    conformed = conformed.append_column(ROW, pa.array(range(row, row + n), pa.int64()))
                    row += n
                    counts[index] += n
                    yield from conformed.cast(schema).to_batches()

        with tempfile.TemporaryDirectory(prefix="bigmap-delta-") as spool_dir:
            spool = Path(spool_dir) / "rows.parquet"
            with pq.ParquetWriter(spool, schema) as writer:
                for batch in batches():
                    writer.write_batch(batch)
            reader = pa.RecordBatchReader.from_batches(schema, pq.ParquetFile(spool).iter_batches())
            write_deltalake(self.uri(table_name), reader, mode="overwrite", partition_by=[*keys, PART],
                            predicate=self._predicate(table_name, partition, from_part) if keys or from_part else None,
                            storage_options=self.options or None)
        return counts

    def _table(self, table_name: str) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri(table_name), storage_options=self.options or None)
        except TableNotFoundError:
            return None

    def _dataset(self, table_name: str, partition: dict[str, str] | None) -> ds.Dataset | None:
        table = self._table(table_name)
        if table is None:
            return None
        filters = [(k, "=", v) for k, v in self._keys(table_name, partition).items()]
        return table.to_pyarrow_dataset(partitions=filters or None)

    def _hidden(self, table_name: str, partition: dict[str, str] | None) -> pa.Table | None:
        dataset = self._dataset(table_name, partition)
        if dataset is None:
            return None
        return dataset.to_table(columns=list(HIDDEN), filter=self._filter(table_name, partition))

    @property
    def _fs(self) -> pafs.FileSystem:
        if not self.options:
            return pafs.LocalFileSystem()
        endpoint = self.options.get("AWS_ENDPOINT_URL", "")
        scheme, _, host = endpoint.partition("://") if endpoint else ("https", "", "")
        return pafs.S3FileSystem(access_key=self.options.get("AWS_ACCESS_KEY_ID"),
                                 secret_key=self.options.get("AWS_SECRET_ACCESS_KEY"),
                                 session_token=self.options.get("AWS_SESSION_TOKEN"),
                                 region=self.options.get("AWS_REGION", "us-east-1"),
                                 endpoint_override=host or None, scheme=scheme)

    def _path(self, relative: str) -> str:
        root = self.root.removeprefix("s3://") if self.options else self.root
        return f"{root}/{relative}".rstrip("/")

    def _state_path(self, table_name: str, partition: dict[str, str] | None) -> str:
        keys = "/".join(f"{k}={v}" for k, v in self._keys(table_name, partition).items()) or "all"
        return self._path(f"{STATE_FOLDER}/{table_name}/{keys}.json")

    def _write_state(self, table_name: str, partition: dict[str, str] | None, state: dict) -> None:
        path = self._state_path(table_name, partition)
        self._fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with self._fs.open_output_stream(path) as stream:  # one PUT: replaced whole or not at all
            stream.write(json.dumps(state, indent=1, sort_keys=True).encode())

    def _clear_state(self, table_name: str, partition: dict[str, str] | None) -> None:
        try:
            self._fs.delete_file(self._state_path(table_name, partition))
        except (FileNotFoundError, OSError):
            pass


def _later(make: Callable[[], pa.Table]) -> Iterator[pa.Table]:
    """``make()`` called only when iterated (after the pieces before it are consumed)."""
    yield make()
