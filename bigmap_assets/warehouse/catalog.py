"""DuckDB views over the lake, published as a catalog file by temp-then-rename.

Nobody keeps a writable DuckDB open: the pipeline builds ``catalog.duckdb`` under a
temporary name and renames it into place, and ``connect()`` gives analysts an in-memory
DuckDB with the same views, so queries never contend for a file lock.

``connect()`` is a read-only door: it reads nothing but the lake (``allow_files`` adds the
analyst's own files), refuses every statement but queries (no ``COPY``, ``ATTACH``,
``SET``, ``CREATE``, ...), and locks its configuration. A part that cannot be read is left
out of its table's view and reported, so one damaged file does not take the others down.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from .. import schemas
from . import storage
from .lake import BrokenPart, Lake

CATALOG_NAME = "catalog.duckdb"
STALE_TEMP_SECOND = 600.0  # a temp file untouched this long belongs to no running writer

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


def parquet_source(lake: Lake, table: schemas.Table, files: list[Path] | None = None) -> str | None:
    """The ``read_parquet(...)`` over a table's Parquet files (``files``, default every one); None when there are none."""
    if files is None and any(Path(lake.root, table.name).rglob("*.parquet")):
        source = _quote(lake.glob(table.name))
    elif files:
        source = "[" + ", ".join(_quote(str(f)) for f in files) + "]"
    else:
        return None
    hive = ", ".join(f"'{k}': 'VARCHAR'" for k in table.partitioned_by)
    hive_args = f", hive_partitioning = true, hive_types = {{{hive}}}" if hive else ", hive_partitioning = false"
    return f"read_parquet({source}, union_by_name = true{hive_args})"


def view_sql(table: schemas.Table, source: str | None, present: set[str] | None = None) -> str:
    """``CREATE VIEW`` text for one table over ``source``, or empty but typed when there is none.

    A declared column missing from every file (``present`` names those there; parts written before the
    column existed) reads as NULL, so a new column never hides a table written by an older version.
    """
    def column(c: schemas.Column) -> str:
        if present is None or c.name in present:
            return f'"{c.name}"'
        return f'CAST(NULL AS {duck_type(c.type)}) AS "{c.name}"'

    if source is None:
        empty = ", ".join(f'CAST(NULL AS {duck_type(c.type)}) AS "{c.name}"' for c in table.columns)
        return f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {empty} WHERE false'
    return f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {", ".join(column(c) for c in table.columns)} FROM {source}'


def create_views(con: duckdb.DuckDBPyConnection, lake: Lake) -> list[BrokenPart]:
    """A view per declared table; a table with unreadable parts (footer or data pages, see
    ``Lake.broken_parts``) gets a view over the others. Returns those parts."""
    broken = []
    for table in schemas.TABLES.values():
        bad = lake.broken_parts(table.name)
        good = sorted(set(Path(lake.root, table.name).rglob("*.parquet")) - {b.path for b in bad}) if bad else None
        try:
            create_view(con, table, parquet_source(lake, table, good))
        except duckdb.Error as exc:  # not one part in particular: the table reads as empty
            create_view(con, table, None)
            bad = [BrokenPart(Path(lake.root, table.name), str(exc).splitlines()[0])]
        broken += bad
    return broken


def create_view(con: duckdb.DuckDBPyConnection, table: schemas.Table, source: str | None) -> None:
    """The table's view over ``source``; only when a declared column is in no file are the files' columns
    listed (one more footer scan), so the usual connect reads each footer once."""
    try:
        con.execute(view_sql(table, source))
    except duckdb.BinderException:
        present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        con.execute(view_sql(table, source, present))


def refresh(warehouse_dir: str | Path, warn: Callable[[str], None] = lambda _message: None) -> Path:
    """Rebuild ``<warehouse_dir>/catalog.duckdb`` under a temp name and rename it into place.

    Parts that cannot be read are left out of the views and passed to ``warn``.
    """
    warehouse_dir = Path(warehouse_dir)
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    final = warehouse_dir / CATALOG_NAME
    tmp = warehouse_dir / f".{CATALOG_NAME}.{uuid.uuid4().hex}.tmp"
    try:
        con = duckdb.connect(str(tmp))
        try:
            for part in create_views(con, Lake(warehouse_dir / "lake")):
                warn(f"left out of the catalog: {part}")
        finally:
            con.close()
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return final


def remove_stale_temp_files(warehouse_dir: str | Path, older_than_second: float = STALE_TEMP_SECOND) -> list[Path]:
    """Delete catalog and lake temp files (with a catalog's ``.wal``) left by a killed run; returns them.

    Only files untouched for ``older_than_second`` go: a run writing one meanwhile keeps it.
    """
    warehouse_dir = Path(warehouse_dir)
    if not warehouse_dir.is_dir():
        return []
    candidates = [*warehouse_dir.glob(f".{CATALOG_NAME}.*.tmp*"), *(warehouse_dir / "lake").rglob(".*.tmp")]
    cutoff = time.time() - older_than_second
    removed = []
    for path in candidates:
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # removed by another run meanwhile
            continue
    return removed


def connect(warehouse_dir: str | Path, *, allow_files: bool = False,
            warn: Callable[[str], None] = lambda _message: None) -> duckdb.DuckDBPyConnection:
    """An in-memory, read-only DuckDB holding every warehouse view; holds no lock on any file.

    It reads the lake only, or any file the user can read with ``allow_files``; it writes
    nothing. Run queries through ``query()``, which refuses every statement but a query.
    Parts left out of a view (unreadable) are passed to ``warn``.
    """
    location = storage.lake_location(Path(warehouse_dir).parent)
    if storage.is_remote(location):  # the lake on object storage: views over its Delta tables (object_catalog)
        from . import object_catalog
        return object_catalog.connect(location, allow_files=allow_files)
    lake = Lake(Path(warehouse_dir).resolve() / "lake")
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    for part in create_views(con, lake):
        warn(f"left out of its table: {part}")
    if not allow_files:
        con.execute(f"SET allowed_directories = [{_quote(str(lake.root) + os.sep)}]")
        con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(ANALY[SZ]E\s+)?(\([^)]*\)\s*)?", re.IGNORECASE)


def check_read_only(sql: str) -> None:
    """Raise ``ValueError`` unless every statement of ``sql`` is a query (``SELECT``, ``FROM``, ``WITH``,
    ``DESCRIBE``, ``SUMMARIZE``, ``SHOW``, ``EXPLAIN`` of one of those)."""
    for statement in duckdb.extract_statements(sql):
        kind = statement.type
        if kind == duckdb.StatementType.EXPLAIN:
            inner = _EXPLAIN.sub("", statement.query, count=1)
            kind = duckdb.extract_statements(inner)[0].type if inner.strip() else kind
        if kind != duckdb.StatementType.SELECT:
            words = " ".join(statement.query.split()[:3])
            raise ValueError(f"only queries can be run on the warehouse, not {kind.name} (\"{words} ...\")")


def query(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple]]:
    """``(columns, rows)`` of ``sql`` run on a ``connect()`` connection after ``check_read_only``.

    DuckDB's errors become a one-line ``ValueError``.
    """
    try:
        check_read_only(sql)
        relation = con.sql(sql)
        return (relation.columns, relation.fetchall()) if relation is not None else ([], [])
    except duckdb.Error as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
