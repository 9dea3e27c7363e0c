"""The read-only door to the warehouse: a DuckDB connection that runs queries only, and the views
as the last ``catalog.refresh`` recorded them.

A refresh records in ``catalog.json`` each view's SQL with a fingerprint of the parts it was made
over (path, inode, size, modification time of each) and of the code that makes views (the
schemas and this package's catalog modules). ``connect`` reuses a recorded view while both
fingerprints still hold, which needs neither pyarrow nor a footer: a ``bigmap sql`` process
then starts with DuckDB alone. Anything else (a part written, replaced or removed since, other
code, the folder moved, no record) makes the views from the parts (``catalog.connect_from_parts``).
For one query (``bigmap sql``), a small table of many parts is read from the one-file copy the
refresh gathered of those same parts, when it has one: opening a thousand small files costs
DuckDB 0.2 s, one file 3 ms.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import duckdb

from . import storage

STATE_NAME = "catalog.json"  # beside catalog.duckdb: the whole tables (catalog.whole_tables) and the recorded views
DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
GATHERED_DIR = "gathered"  # beside the lake: one-file copies of small tables of many parts (catalog.gather_small_tables)
_PACKAGE = Path(__file__).resolve().parents[1]
VIEW_CODE = ("schemas/*.py", "warehouse/catalog.py", "warehouse/door.py", "warehouse/lake.py")  # what makes a view


def connect(warehouse_dir: str | Path, *, allow_files: bool = False,
            warn: Callable[[str], None] = lambda _message: None, for_query: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory, read-only DuckDB holding the warehouse's views; holds no lock on any file.

    It reads the lake only, or any file the user can read with ``allow_files``; it writes
    nothing. Run queries through ``query()``, which refuses every statement but a query.
    Parts left out of a view (unreadable) are passed to ``warn``. ``for_query``: the one query
    the connection is for; only the views of the tables it names are made (``tables_named_in``).
    """
    location = storage.lake_location(Path(warehouse_dir).parent)
    if storage.is_remote(location):  # the lake on object storage: views over its Delta tables (object_catalog)
        from . import object_catalog
        return object_catalog.connect(location, allow_files=allow_files)
    con = recorded_views(warehouse_dir, allow_files=allow_files, warn=warn, for_query=for_query)
    if con is None:
        from .catalog import connect_from_parts
        con = connect_from_parts(warehouse_dir, allow_files=allow_files, warn=warn, for_query=for_query)
    return con


def recorded_views(warehouse_dir: str | Path, *, allow_files: bool = False,
                   warn: Callable[[str], None] = lambda _message: None,
                   for_query: str | None = None) -> duckdb.DuckDBPyConnection | None:
    """``connect``'s connection from the views the last refresh recorded, or None when any of them (of the
    tables ``for_query`` names; of every table without) may no longer be what the parts would make."""
    lake_root = Path(warehouse_dir).resolve() / "lake"
    record = read_state(warehouse_dir).get("views") or {}
    tables = record.get("tables") or {}
    if not tables or record.get("lake") != str(lake_root) or record.get("code") != code_fingerprint():
        return None
    names = sorted(tables_named_in(for_query, tables) or tables) if for_query is not None else sorted(tables)
    if any(parts_fingerprint(lake_root, tables[name]["glob"]) != tables[name]["parts"] for name in names):
        return None
    gathered_dir = lake_root.parent / GATHERED_DIR
    con = duckdb.connect(config=DUCKDB_CONFIG)
    try:
        for name in names:
            con.execute(_one_view(_view_for(tables[name], gathered_dir, one_query=for_query is not None)))
    except (duckdb.Error, ValueError):  # not what a refresh writes (edited by hand, say): made from the parts
        con.close()
        return None
    for name in names:
        for path, reason in tables[name]["broken"]:
            warn(f"left out of its table: {path}: {reason}")
    return lock_down(con, lake_root, allow_files, also=gathered_dir)  # a view reads no other file from now on


def _view_for(table: dict, gathered_dir: Path, *, one_query: bool) -> str:
    """The table's recorded view; for one query, the view over its gathered copy when it has one (a connection
    kept open may outlive a copy: the refresh after next removes it)."""
    copy = table.get("gathered")
    if one_query and copy and Path(copy["path"]).parent == gathered_dir and os.path.isfile(copy["path"]):
        return copy["sql"]
    return table["sql"]


def _one_view(sql: str) -> str:
    """``sql`` when it is one ``CREATE VIEW`` statement (which writes nothing; a file it names outside the
    lake is refused when the view is read), else ``ValueError``: nothing else of the record runs."""
    statements = duckdb.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.CREATE \
            or not re.match(r"\s*CREATE\s+VIEW\s", sql, re.IGNORECASE):
        raise ValueError("not one CREATE VIEW statement")
    return sql


def record_views(con: duckdb.DuckDBPyConnection, lake_root: Path, globs: dict[str, str],
                 parts: dict[str, str], broken: dict[str, list[tuple[str, str]]]) -> dict:
    """What ``recorded_views`` reuses: each view of ``con`` (made by a refresh over ``lake_root``) with its
    table's ``globs`` (relative to the root), the ``parts_fingerprint`` taken before the views were made,
    and the parts left out (path, reason)."""
    views = dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
    return {"lake": str(lake_root), "code": code_fingerprint(),
            "tables": {name: {"sql": sql, "glob": globs[name], "parts": parts[name], "broken": broken.get(name, [])}
                       for name, sql in views.items() if name in parts}}


def parts_fingerprint(lake_root: Path, pattern: str) -> str:
    """A hash of the parts matching ``pattern`` under ``lake_root``: each one's path, inode, size and
    modification time. A part written, renamed into place or removed changes it."""
    digest = hashlib.sha256()
    for path in sorted(glob.glob(str(lake_root / pattern))):
        try:
            status = os.stat(path)
        except FileNotFoundError:  # removed meanwhile
            continue
        digest.update(f"{path}\0{status.st_ino}\0{status.st_size}\0{status.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@functools.cache
def code_fingerprint() -> str:
    """A hash of the source of the code that makes the views: other schemas, other views."""
    digest = hashlib.sha256()
    for path in sorted(p for pattern in VIEW_CODE for p in _PACKAGE.glob(pattern)):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def read_state(warehouse_dir: str | Path) -> dict:
    """``catalog.json`` as the last refresh wrote it (empty when none, or unreadable)."""
    try:
        state = json.loads((Path(warehouse_dir) / STATE_NAME).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def lock_down(con: duckdb.DuckDBPyConnection, lake_root: Path, allow_files: bool,
              also: Path | None = None) -> duckdb.DuckDBPyConnection:
    """``con`` reading the lake only (and the folder ``also``; any file the user can read with ``allow_files``),
    configuration locked."""
    if not allow_files:
        folders = [lake_root] + ([also] if also is not None else [])
        con.execute(f"SET allowed_directories = [{', '.join(quote(str(f) + os.sep) for f in folders)}]")
        con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def quote(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def tables_named_in(sql: str, tables) -> set[str] | None:
    """The ``tables`` whose names appear as words in ``sql`` (any case: a superset of those it reads),
    or None when it names none (``SHOW TABLES``, ``SELECT 1``): then every view is wanted."""
    words = {word.lower() for word in re.findall(r"\w+", sql)}
    return (words & set(tables)) or None


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
