"""Every warehouse table, declared once: column names, Arrow types, units, descriptions.

Writers conform tables to these schemas, asset checks validate against them, and the
README/Dagster UI show them. Each technique declares its tables in its own module;
importing this package registers them all in ``TABLES``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    unit: str = ""
    description: str = ""
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    partitioned_by: tuple[str, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def arrow_schema(self) -> pa.Schema:
        """The table as an Arrow schema, units and descriptions in each field's metadata (made once: a
        table is declared once and never changes, and writers and checks ask for it per partition)."""
        return self._arrow_schema

    def stored_schema(self) -> pa.Schema:
        """The schema of the stored Parquet files: ``arrow_schema`` without the hive key columns."""
        return self._stored_schema

    @cached_property
    def _arrow_schema(self) -> pa.Schema:
        fields = [
            pa.field(c.name, c.type, nullable=c.nullable, metadata={"unit": c.unit, "description": c.description})
            for c in self.columns
        ]
        meta = {"table": self.name, "description": self.description, **self.notes}
        return pa.schema(fields, metadata={"bigmap_table": json.dumps(meta)})

    @cached_property
    def _stored_schema(self) -> pa.Schema:
        arrow = self.arrow_schema()
        for index in sorted((arrow.get_field_index(k) for k in self.partitioned_by if k in arrow.names), reverse=True):
            arrow = arrow.remove(index)
        return arrow

    def conform(self, table: pa.Table) -> pa.Table:
        """Return ``table`` with exactly this schema's columns, order and types.

        Missing nullable columns are filled with nulls; extra columns are dropped;
        a missing non-nullable column raises ``ValueError``.
        """
        arrays = []
        for col in self.columns:
            if col.name in table.column_names:
                arrays.append(table.column(col.name).cast(col.type))
            elif col.nullable:
                arrays.append(pa.nulls(table.num_rows, col.type))
            else:
                raise ValueError(f"table {self.name}: required column {col.name!r} is missing")
        return pa.Table.from_arrays(arrays, schema=self.arrow_schema())

    def markdown(self) -> str:
        """The schema as a markdown table (for docs and the Dagster UI)."""
        lines = ["| column | type | unit | description |", "|---|---|---|---|"]
        lines += [f"| `{c.name}` | {c.type} | {c.unit} | {c.description} |" for c in self.columns]
        return "\n".join(lines)


TABLES: dict[str, Table] = {}


def register(table: Table) -> Table:
    if table.name in TABLES:
        raise ValueError(f"table {table.name!r} declared twice")
    TABLES[table.name] = table
    return table


def utc_timestamp() -> pa.DataType:
    return pa.timestamp("us", tz="UTC")


# Provenance columns carried by every table whose rows come from files.
PROVENANCE = (
    Column("source_file", pa.string(), "", "raw file the row came from, relative to the data folder"),
    Column("source_sha256", pa.string(), "", "SHA-256 of the raw file's content"),
    Column("code_version", pa.string(), "", "bigmap-assets version (and git commit) that made the row"),
)


def _load_all() -> None:
    from importlib import import_module
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        import_module(f"{__name__}.{mod.name}")


_load_all()
