"""DuckDB views over the lake, published as a catalog file by temp-then-rename.

Nobody keeps a writable DuckDB open: the pipeline builds ``catalog.duckdb`` under a
temporary name and renames it into place, and ``connect()`` gives analysts an in-memory
DuckDB with the same views, so queries never contend for a file lock.

``connect()`` (``door.py``) is a read-only door: it reads nothing but the lake (``allow_files``
adds the analyst's own files), refuses every statement but queries (no ``COPY``, ``ATTACH``,
``SET``, ``CREATE``, ...), and locks its configuration. A part that cannot be read is left
out of its table's view and reported, so one damaged file does not take the others down.

Views stay quick over thousands of parts. A table whose every part holds every declared column
with its declared type (what this code writes) is read with DuckDB's plain multi-file scan: a
query binds on one footer, and a filter on a hive key (``WHERE sample_id = ...``) opens only that
partition's files. Only a table with a part written by an older version (a column missing) or a
damaged part is read with ``union_by_name``, which opens every footer at every query. Which
tables are whole is checked part by part, and ``catalog.json`` beside ``catalog.duckdb`` records
it with the time of the check, so the next ``refresh`` or ``connect`` opens only the parts
changed since (a part replaced meanwhile is a new file, with a new change time). It records the
views too, which ``connect`` reuses while no part has changed (``door.recorded_views``).
"""

from __future__ import annotations

import glob
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .. import schemas
from .door import DUCKDB_CONFIG, GATHERED_DIR, STATE_NAME, lock_down, parts_fingerprint, quote, record_views
from .door import check_read_only, connect, query  # noqa: F401 - the warehouse's entry points, as catalog.connect and catalog.query
from .door import read_state as read_catalog_state
from .door import tables_named_in as _tables_named_in
from .lake import BrokenPart, Lake

CATALOG_NAME = "catalog.duckdb"
CHECK_MARGIN_SECOND = 5.0  # parts changed this close before a check are checked again next time
STALE_TEMP_SECOND = 600.0  # a temp file untouched this long belongs to no running writer
GATHER_MIN_PARTS = 32  # tables of fewer parts are read fast enough as they are
GATHER_MAX_BYTES = 64 * 2**20  # larger tables are not copied at every refresh: their scan dominates anyway

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


def parquet_source(lake: Lake, table: schemas.Table, files: list[Path] | None = None, *,
                   whole: bool = False) -> str | None:
    """The ``read_parquet(...)`` over a table's Parquet files (``files``, default every one); None when there are none.

    ``whole``: every part holds every declared column (``whole_tables``), so DuckDB need not open
    every footer to unite the files' columns by name.
    """
    if files is None and any(Path(lake.root, table.name).rglob("*.parquet")):
        source = quote(lake.glob(table.name))
    elif files:
        source = "[" + ", ".join(quote(str(f)) for f in files) + "]"
    else:
        return None
    hive = ", ".join(f"'{k}': 'VARCHAR'" for k in table.partitioned_by)
    hive_args = f", hive_partitioning = true, hive_types = {{{hive}}}" if hive else ", hive_partitioning = false"
    union = "" if whole else ", union_by_name = true"
    return f"read_parquet({source}{union}{hive_args})"


def whole_tables(lake: Lake, earlier: dict[str, dict] | None = None, names: set[str] | None = None) -> dict[str, dict]:
    """The tables whose every part holds every declared column with its declared type:
    ``{table: {"columns": [[name, type], ...], "checked_before": unix_s}}``.

    ``earlier`` is a previous result: of a table checked then against the same columns, only the
    parts changed since its ``checked_before`` are opened (their footers only). ``names``: check those tables only.
    """
    earlier = earlier or {}
    checked_before = time.time() - CHECK_MARGIN_SECOND
    whole = {}
    for table in schemas.TABLES.values():
        if names is not None and table.name not in names:
            continue
        expected = lake.stored_schema(table.name)
        columns = [[field.name, str(field.type)] for field in expected]
        previous = earlier.get(table.name) or {}
        since = previous.get("checked_before", 0.0) if previous.get("columns") == columns else 0.0
        if all(_holds_every_column(path, expected) for path in _changed_since(glob.glob(lake.glob(table.name)), since)):
            whole[table.name] = {"columns": columns, "checked_before": checked_before}
    return whole


def _changed_since(paths: list[str], since: float) -> list[str]:
    changed = []
    for path in paths:
        try:
            status = os.stat(path)
        except FileNotFoundError:  # removed meanwhile: no longer read
            continue
        if max(status.st_mtime, status.st_ctime) >= since:  # a rename into place changes the ctime
            changed.append(path)
    return changed


def _holds_every_column(path: str, expected: pa.Schema) -> bool:
    try:
        stored = pq.read_schema(path)
    except (OSError, pa.ArrowException):
        return False
    return all(field.name in stored.names and stored.field(field.name).type == field.type for field in expected)


def read_state(warehouse_dir: str | Path) -> dict[str, dict]:
    """The whole tables recorded by the last ``refresh`` (empty when none, or unreadable)."""
    whole = read_catalog_state(warehouse_dir).get("whole_tables")
    return whole if isinstance(whole, dict) else {}


def _write_state(warehouse_dir: Path, whole: dict[str, dict], views: dict) -> None:
    tmp = warehouse_dir / f".{STATE_NAME}.{uuid.uuid4().hex}.tmp"
    try:
        tmp.write_text(json.dumps({"whole_tables": whole, "views": views}, indent=1, sort_keys=True))
        os.replace(tmp, warehouse_dir / STATE_NAME)
    finally:
        tmp.unlink(missing_ok=True)


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


def create_views(con: duckdb.DuckDBPyConnection, lake: Lake, whole: set[str] | frozenset[str] = frozenset(),
                 names: set[str] | None = None) -> list[BrokenPart]:
    """A view per declared table, or per table of ``names`` (plain scans over the ``whole`` ones); a table
    with unreadable parts (footer or data pages, see ``Lake.broken_parts``) gets a view over the others.
    Returns those parts."""
    broken = []
    for table in schemas.TABLES.values():
        if names is not None and table.name not in names:
            continue
        bad = lake.broken_parts(table.name)
        good = sorted(set(Path(lake.root, table.name).rglob("*.parquet")) - {b.path for b in bad}) if bad else None
        try:
            create_view(con, table, parquet_source(lake, table, good, whole=table.name in whole and not bad))
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


def refresh(warehouse_dir: str | Path, warn: Callable[[str], None] = lambda _message: None, *,
            gather: bool = False) -> Path:
    """Rebuild ``<warehouse_dir>/catalog.duckdb`` under a temp name and rename it into place, then
    ``catalog.json``: the whole tables (checked from the parts changed since the last refresh) and the
    views with the fingerprints of the parts they were made over (``door.recorded_views``), and the
    gathered copies of small tables still made of those parts (``gather``: new ones are made too).

    Parts that cannot be read are left out of the views and passed to ``warn``.
    """
    warehouse_dir = Path(warehouse_dir).resolve()
    warehouse_dir.mkdir(parents=True, exist_ok=True)
    final = warehouse_dir / CATALOG_NAME
    tmp = warehouse_dir / f".{CATALOG_NAME}.{uuid.uuid4().hex}.tmp"
    lake = Lake(warehouse_dir / "lake")
    globs = {name: str(Path(lake.glob(name)).relative_to(lake.root)) for name in schemas.TABLES}
    parts = {name: parts_fingerprint(lake.root, pattern) for name, pattern in globs.items()}  # before the views
    whole = whole_tables(lake, read_state(warehouse_dir))
    try:
        con = duckdb.connect(str(tmp))
        try:
            broken = create_views(con, lake, set(whole))
            for part in broken:
                warn(f"left out of the catalog: {part}")
            views = record_views(con, lake.root, globs, parts, _by_table(lake, broken))
            gather_small_tables(con, warehouse_dir, views, read_catalog_state(warehouse_dir).get("views") or {},
                                make_new=gather)
        finally:
            con.close()
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    _write_state(warehouse_dir, whole, views)
    return final


def gather_small_tables(con: duckdb.DuckDBPyConnection, warehouse_dir: Path, views: dict, earlier: dict, *,
                        make_new: bool) -> None:
    """Record as ``gathered`` in ``views`` (``door`` uses it for one query) the one-file copy under
    ``gathered/`` of each small table of many parts (``GATHER_MIN_PARTS``, ``GATHER_MAX_BYTES``), named by
    the fingerprint of its parts: the copy already made of the same parts, or with ``make_new`` a new one
    (then copies recorded neither now nor by the refresh before are removed). A copy whose parts changed
    while it was made is dropped.

    The per-sample steps publish without ``make_new`` (a partition's run leaves a fleet's copies to the
    summary run after it), the summary tables and ``bigmap materialize`` with it.
    """
    folder = warehouse_dir / GATHERED_DIR
    lake_root = Path(views["lake"])
    for name, table in views["tables"].items():
        path = folder / f"{name}-{table['parts'][:16]}.parquet"
        if not path.is_file() and not make_new:
            continue
        paths = glob.glob(str(lake_root / table["glob"]))
        if table["broken"] or len(paths) < GATHER_MIN_PARTS or sum(map(os.path.getsize, paths)) > GATHER_MAX_BYTES:
            continue
        if not path.is_file():
            folder.mkdir(exist_ok=True)
            con.execute("SET threads = 1")  # rows in the parts' order, in 110 MiB (280 MiB on two threads: 1,000 cells)
            tmp = folder / f".{path.name}.{uuid.uuid4().hex}.tmp"
            try:
                con.execute(f'COPY (SELECT * FROM "{name}") TO {quote(str(tmp))} (FORMAT parquet)')
                if parts_fingerprint(lake_root, table["glob"]) != table["parts"]:
                    continue  # a part changed meanwhile: the copy may hold it, the record does not
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        table["gathered"] = {"path": str(path),
                             "sql": f'CREATE VIEW "{name}" AS SELECT * FROM read_parquet({quote(str(path))})'}
    if not make_new or not folder.is_dir():
        return
    kept = {t["gathered"]["path"] for record in (views, earlier) for t in (record.get("tables") or {}).values()
            if isinstance(t, dict) and isinstance(t.get("gathered"), dict)}
    for path in folder.glob("*.parquet"):
        if str(path) not in kept:
            path.unlink(missing_ok=True)


def _by_table(lake: Lake, broken: list[BrokenPart]) -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for part in broken:
        tables.setdefault(part.path.relative_to(lake.root).parts[0], []).append((str(part.path), part.reason))
    return tables


def remove_stale_temp_files(warehouse_dir: str | Path, older_than_second: float = STALE_TEMP_SECOND) -> list[Path]:
    """Delete catalog, lake and gathered-copy temp files (with a catalog's ``.wal``) left by a killed run;
    returns them.

    Only files untouched for ``older_than_second`` go: a run writing one meanwhile keeps it.
    """
    warehouse_dir = Path(warehouse_dir)
    if not warehouse_dir.is_dir():
        return []
    candidates = [*warehouse_dir.glob(f".{CATALOG_NAME}.*.tmp*"), *warehouse_dir.glob(f".{STATE_NAME}.*.tmp"),
                  *(warehouse_dir / "lake").rglob(".*.tmp"), *(warehouse_dir / GATHERED_DIR).glob(".*.tmp")]
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


def connect_from_parts(warehouse_dir: str | Path, *, allow_files: bool = False,
                       warn: Callable[[str], None] = lambda _message: None,
                       for_query: str | None = None) -> duckdb.DuckDBPyConnection:
    """``connect``'s connection with its views made from the parts: footers checked (``whole_tables``),
    unreadable parts left out (``Lake.broken_parts``)."""
    lake = Lake(Path(warehouse_dir).resolve() / "lake", record_checks=False)
    names = tables_named_in(for_query) if for_query is not None else None
    whole = whole_tables(lake, read_state(warehouse_dir), names)
    con = duckdb.connect(config=DUCKDB_CONFIG)
    for part in create_views(con, lake, set(whole), names):
        warn(f"left out of its table: {part}")
    return lock_down(con, lake.root, allow_files)


def tables_named_in(sql: str) -> set[str] | None:
    """The declared tables whose names appear as words in ``sql`` (any case: a superset of those it reads),
    or None when it names none (``SHOW TABLES``, ``SELECT 1``): then every view is wanted."""
    return _tables_named_in(sql, schemas.TABLES)
