"""The catalog of a lake on object storage: DuckDB views over the Delta tables' Arrow datasets.

No DuckDB extension is needed (nor downloaded): delta-rs resolves each table's current
snapshot (its data files) and pyarrow reads them from S3; DuckDB scans those datasets with
its filters and projections pushed down. The views have the same names and columns as the
local catalog's (``catalog.view_sql``), so the same queries answer from either lake.

It is as read-only a door as the local one: DuckDB never touches the bucket itself (the
datasets are read by pyarrow, with the credentials of the environment), so external access
is off altogether (no file, URL or bucket can be read or written through SQL, no extension
loaded), or on for reading the analyst's own files with ``allow_files``; either way the
configuration is locked, and ``catalog.query`` runs queries only.
"""

from __future__ import annotations

import duckdb

from .. import schemas
from .catalog import duck_type
from .delta_lake import DeltaLake
from .door import DUCKDB_CONFIG


def view_sql(table: schemas.Table, source: str | None) -> str:
    """``CREATE VIEW`` text for one table over the registered dataset ``source``, or empty but typed."""
    if source is None:
        empty = ", ".join(f'CAST(NULL AS {duck_type(c.type)}) AS "{c.name}"' for c in table.columns)
        return f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {empty} WHERE false'
    columns = ", ".join(f'CAST("{c.name}" AS VARCHAR) AS "{c.name}"' if c.name in table.partitioned_by
                        else f'"{c.name}"' for c in table.columns)
    return f'CREATE OR REPLACE VIEW "{table.name}" AS SELECT {columns} FROM "{source}"'


def connect(location: str, *, allow_files: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per warehouse table of the Delta lake at ``location`` (a snapshot);
    no external access unless ``allow_files`` (reading local files), configuration locked."""
    lake = DeltaLake(location)
    con = duckdb.connect(config=DUCKDB_CONFIG)
    for table in schemas.TABLES.values():
        dataset = lake.dataset(table.name)
        source = None
        if dataset is not None:
            source = f"delta_{table.name}"
            con.register(source, dataset)
        con.execute(view_sql(table, source))
    if not allow_files:
        con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con
