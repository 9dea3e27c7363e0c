"""Atomic Parquet writes in hive folders, and reading partitions back.

Layout: ``<root>/<table>/<key>=<value>/.../part-0.parquet``, keys in the order the table's
schema declares (``schemas.Table.partitioned_by``). A file is written under a temporary
name that no reader glob matches, then ``os.replace``-d into place, so a reader sees the
old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from .. import schemas

SAFE_VALUE = re.compile(r"^[A-Za-z0-9._-]+$")
PART_NAME = "part-0.parquet"


def check_partition_value(value: str) -> str:
    """Refuse partition values that are unsafe in paths and hive folder names."""
    if not SAFE_VALUE.match(value or "") or value in {".", ".."}:
        raise ValueError(
            f"invalid partition value {value!r}: use letters, digits, '.', '_' and '-' only"
        )
    return value


class Lake:
    """The Parquet side of the warehouse, rooted at ``root`` (``<data-dir>/warehouse/lake``)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

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
        """Conform ``table`` to its schema and publish it atomically; returns the final path.

        Hive key columns are not stored inside the file (the folder names carry them).
        """
        schema = schemas.TABLES[table_name]
        folder = self.partition_dir(table_name, partition)
        conformed = schema.conform(table)
        keys = [k for k in schema.partitioned_by if k in conformed.column_names]
        conformed = conformed.drop_columns(keys)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / PART_NAME
        tmp = folder / f".{PART_NAME}.{uuid.uuid4().hex}.tmp"
        try:
            pq.write_table(conformed, tmp, row_group_size=row_group_size, compression="zstd")
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return final

    def read(self, table_name: str, partition: dict[str, str] | None = None) -> pa.Table | None:
        """One partition back as a table with its hive key columns, or None when never written."""
        path = self.partition_dir(table_name, partition) / PART_NAME
        if not path.exists():
            return None
        table = pq.read_table(path)
        for key, value in (partition or {}).items():
            table = table.append_column(key, pa.array([value] * table.num_rows, pa.string()))
        schema = schemas.TABLES[table_name]
        return table.select([c for c in schema.column_names if c in table.column_names])

    def delete(self, table_name: str, partition: dict[str, str] | None = None) -> None:
        """Remove a partition (e.g. its files were removed from raw/)."""
        path = self.partition_dir(table_name, partition) / PART_NAME
        path.unlink(missing_ok=True)

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
