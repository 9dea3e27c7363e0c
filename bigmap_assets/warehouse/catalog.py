"""DuckDB views over the lake, published as a catalog file by temp-then-rename.

Nobody keeps a writable DuckDB open: the pipeline builds ``catalog.duckdb`` under a
temporary name and renames it into place, and ``connect()`` gives analysts an in-memory
DuckDB with the same views, so queries never contend for a file lock.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb
import pyarrow as pa

from .. import schemas
from . import storage
from .lake import Lake

CATALOG_NAME = "catalog.duckdb"

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.float32(): "FLOAT",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
}


def duck_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else "TIMESTAMP"
    if pa.types.is_list(arrow_type):
        return f"{duck_type(arrow_type.value_type)}[]"
    return _DUCK_TYPES[arrow_type]


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


def view_sql(lake: Lake, table: schemas.Table) -> str:
    """``CREATE VIEW`` text for one table: over its Parquet files, or empty but typed."""
    columns = ", ".join(f'"{c.name}"' for c in table.columns)
    if any(Path(lake.root, table.name).rglob("*.parquet")):
        hive = ", ".join(f"'{k}': 'VARCHAR'" for k in table.partitioned_by)
        hive_args = f", hive_partitioning = true, hive_types = {{{hive}}}" if hive else ", hive_partitioning = false"
        source = f"read_parquet({_quote(lake.glob(table.name))}, union_by_name = true{hive_args})"
        return f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {columns} FROM {source}'
    empty = ", ".join(f'CAST(NULL AS {duck_type(c.type)}) AS "{c.name}"' for c in table.columns)
    return f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {empty} WHERE false'


def create_views(con: duckdb.DuckDBPyConnection, lake: Lake) -> list[str]:
    names = []
    for table in schemas.TABLES.values():
        con.execute(view_sql(lake, table))
        names.append(table.name)
    return names


def refresh(warehouse_dir: str | Path) -> Path:
    """Rebuild ``<warehouse_dir>/catalog.duckdb`` under a temp name and rename it into place."""
    warehouse_dir = Path(warehouse_dir)
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    final = warehouse_dir / CATALOG_NAME
    tmp = warehouse_dir / f".{CATALOG_NAME}.{uuid.uuid4().hex}.tmp"
    try:
        con = duckdb.connect(str(tmp))
        try:
            create_views(con, Lake(warehouse_dir / "lake"))
        finally:
            con.close()
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return final


def connect(warehouse_dir: str | Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding every warehouse view; holds no lock on any file."""
    location = storage.lake_location(Path(warehouse_dir).parent)
    if storage.is_remote(location):  # the lake on object storage: see object_catalog
        from . import object_catalog
        return object_catalog.connect(location)
    con = duckdb.connect()
    create_views(con, Lake(Path(warehouse_dir) / "lake"))
    return con
