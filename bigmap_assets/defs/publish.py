"""Glue every asset shares: publish a table to the lake and describe it in the Dagster UI."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from tabulate import tabulate

from .. import schemas
from ..ingest.admission import PartitionFiles, inventory_table, issues_table
from ..warehouse.provenance import code_version
from .resources import WarehouseResource

PREVIEW_ROWS = 5


def preview_markdown(table: pa.Table, rows: int = PREVIEW_ROWS, max_columns: int = 12, max_chars: int = 40) -> str:
    head = table.slice(0, rows).select(table.column_names[:max_columns])
    cells = [[_short(v, max_chars) for v in row.values()] for row in head.to_pylist()]
    return tabulate(cells, headers=head.column_names, tablefmt="github")


def _short(value, max_chars: int):
    if isinstance(value, float):
        return f"{value:.6g}"
    text = "" if value is None else str(value).replace("|", "/").replace("\n", " ")
    return text if len(text) <= max_chars else text[:max_chars - 3] + "..."


def empty_table(table_name: str) -> pa.Table:
    """A table with the declared schema and no rows."""
    return schemas.TABLES[table_name].arrow_schema().empty_table()


def read_sample_table(warehouse: WarehouseResource, table_name: str, sample_id: str,
                      columns: list[str] | None = None) -> pa.Table:
    """One sample's partition of a table from the lake (empty when never written); only ``columns`` if given."""
    table = warehouse.lake.read(table_name, {"sample_id": sample_id}, columns=columns)
    if table is None:
        table = empty_table(table_name)
        return table.select([c for c in table.column_names if c in columns]) if columns is not None else table
    return table


def column_schema(table_name: str) -> dg.TableSchema:
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, str(c.type), description=f"[{c.unit}] {c.description}" if c.unit else c.description)
        for c in schemas.TABLES[table_name].columns
    ])


def publish(warehouse: WarehouseResource, table_name: str, table: pa.Table,
            partition: dict[str, str] | None = None) -> dict:
    """Write ``table`` atomically and return the asset's metadata; refresh the catalog for a table
    without ``partition`` (a partitioned asset refreshes it once per step: ``each_sample``).

    Rows that carry no ``code_version`` of their own (derived tables) get this code's.
    """
    return publish_pieces(warehouse, table_name, [table], partition)


def publish_pieces(warehouse: WarehouseResource, table_name: str, pieces: Iterable[pa.Table],
                   partition: dict[str, str] | None = None) -> dict:
    """``publish`` for a table given as consecutive pieces (e.g. a generator): one piece in memory at a time."""
    first: list[pa.Table] = []

    def stamped() -> Iterator[pa.Table]:
        for piece in pieces:
            piece = _with_code_version(table_name, piece)
            if not first:
                first.append(piece.slice(0, PREVIEW_ROWS))
            yield piece

    path, rows = warehouse.lake.write_tables(table_name, stamped(), partition)
    if partition is None:  # a cross-sample table: the per-sample tables of the run before are done
        warehouse.publish_catalog(gather=True)
    return {
        "dagster/row_count": rows,
        "dagster/column_schema": column_schema(table_name),
        "path": dg.MetadataValue.path(str(path)),
        "preview": dg.MetadataValue.md(preview_markdown(first[0] if first else empty_table(table_name))),
    }


def _with_code_version(table_name: str, table: pa.Table) -> pa.Table:
    if "code_version" not in schemas.TABLES[table_name].column_names:
        return table
    stamp = pa.array([code_version()] * table.num_rows, pa.string())
    if "code_version" not in table.column_names:
        return table.append_column("code_version", stamp)
    index = table.column_names.index("code_version")
    return table.set_column(index, "code_version", pc.coalesce(table.column(index).cast(pa.string()), stamp))


def record_ingest(warehouse: WarehouseResource, files: PartitionFiles) -> dict:
    """Write the partition's ``raw_files`` and ``ingest_issues`` rows; metadata about them."""
    partition = {"technique": files.technique, "sample_id": files.sample_id}
    warehouse.lake.write("raw_files", inventory_table(files.inventory), partition)
    issues = issues_table(files.issues)
    warehouse.lake.write("ingest_issues", issues, partition)
    errors = [i for i in files.issues if i.severity == "error"]
    meta = {"raw_files": len(files.inventory), "files_used": len(files.files), "ingest_issues": len(errors)}
    if files.issues:
        meta["issues"] = dg.MetadataValue.md(
            preview_markdown(issues.select(["path", "location", "severity", "reason"]), rows=50, max_chars=300))
    return meta


def log_issues(context: dg.AssetExecutionContext, files: PartitionFiles) -> None:
    """Each issue at INFO level (the run's log in the UI), and one WARNING line counting them.

    Every issue is in ``ingest_issues`` too; the count line points there.
    """
    for issue in files.issues:
        context.log.info(f"{issue.severity}: {issue.path}: {issue.reason}")
    errors = sum(issue.severity == "error" for issue in files.issues)
    warnings = len(files.issues) - errors
    if files.issues:
        where = f"{files.technique} {files.sample_id}".strip()
        context.log.warning(f"{where}: {errors} file(s) or row(s) not used, {warnings} used with an assumption: "
                            "see `bigmap issues --all`")


def plot_metadata(png: bytes, path: Path, label: str = "plot") -> dict:
    """Save ``png`` to ``path`` and show it inline in the asset's metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".png.tmp")
    tmp.write_bytes(png)
    tmp.replace(path)
    encoded = base64.b64encode(png).decode()
    return {
        f"{label}_path": dg.MetadataValue.path(str(path)),
        label: dg.MetadataValue.md(f"![{label}](data:image/png;base64,{encoded})"),
    }
