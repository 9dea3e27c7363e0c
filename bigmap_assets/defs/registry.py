"""Registry assets: the validated registry tables, the logistics metrics and the Gantt chart."""

from dataclasses import replace
from pathlib import Path

import dagster as dg
import pyarrow as pa

from .. import schemas
from ..ingest import registry
from ..ingest.admission import Issue, PartitionFiles
from ..plots.logistics import experiments_gantt
from ..science.logistics import logistics_metrics as compute_logistics_metrics
from ..warehouse.provenance import sha256_of, stamp
from .publish import log_issues, plot_metadata, publish, record_ingest
from .resources import WarehouseResource

GROUP = "registry"
TECHNIQUE = "registry"
TABLE_NAMES = ("samples", *registry.SPECS)


def _stamped(warehouse: WarehouseResource, files: PartitionFiles, name: str, table: pa.Table) -> pa.Table:
    """``table`` with the provenance of its registry file, and the file in the inventory."""
    path = registry.registry_file(warehouse.registry_dir, name)
    if path is None or registry.file_problem(path):  # refused (an issue already says why): never hashed
        return table
    rel = str(path.relative_to(warehouse.root))
    digest = sha256_of(path)
    files.inventory.append({"path": rel, "technique": TECHNIQUE, "sample_id": name, "size_byte": path.stat().st_size,
                            "sha256": digest, "status": "ok", "reader": "registry", "row_count": table.num_rows})
    return stamp(table, rel, digest)


def _relative(warehouse: WarehouseResource, issues: list[Issue]) -> list[Issue]:
    """The issues with their paths relative to the data folder, like every other ingest issue."""
    root = str(warehouse.root) + "/"
    return [replace(issue, path=issue.path.removeprefix(root)) for issue in issues]


@dg.multi_asset(
    name="registry_tables",
    group_name=GROUP,
    specs=[dg.AssetSpec(name, kinds={"parquet"}, description=f"Validated registry/{name}.csv (or .xlsx).")
           for name in TABLE_NAMES],
)
def registry_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    files = PartitionFiles(TECHNIQUE, "registry")
    tables, issues = registry.load_registry(warehouse.registry_dir)
    files.issues = _relative(warehouse, issues)
    log_issues(context, files)
    for name, table in tables.items():
        table = _stamped(warehouse, files, name, table)
        yield dg.MaterializeResult(asset_key=name, metadata=publish(warehouse, name, table))
    ingest = record_ingest(warehouse, files)
    context.log.info(f"registry: {ingest['raw_files']} files, {ingest['ingest_issues']} rows refused")


def _table(warehouse: WarehouseResource, name: str) -> pa.Table:
    table = warehouse.lake.read_every(name)
    return table if table is not None else schemas.TABLES[name].arrow_schema().empty_table()


@dg.asset(group_name=GROUP, kinds={"parquet"}, deps=["shipments", "experiments", "archive_records"],
          description="Shipping time per shipment (mean, range), reception-to-completion delay per experiment, "
                      "cumulative experimental and shipping time, archive completion.")
def logistics_metrics(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    experiments = _table(warehouse, "experiments")
    metrics = compute_logistics_metrics(_table(warehouse, "shipments"), experiments,
                                        _table(warehouse, "archive_records"))
    metadata = publish(warehouse, "logistics_metrics", metrics)
    summary = {f"{r['metric']} {r['statistic']} [{r['unit']}]": round(r["value"], 3)
               for r in metrics.to_pylist() if r["subject_id"] is None}
    metadata["summary"] = dg.MetadataValue.json(summary)
    if experiments.num_rows:
        metadata |= plot_metadata(experiments_gantt(experiments),
                                  Path(warehouse.output_dir("plots", "registry")) / "experiments_gantt.png",
                                  label="experiments_gantt")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset="experiments",
                description="Every experiment's samples are cells or electrodes of the registry.")
def experiments_use_known_samples(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    known = set(_table(warehouse, "samples")["sample_id"].to_pylist())
    known |= set(_table(warehouse, "electrodes")["electrode_id"].to_pylist())
    used = {s for ids in _table(warehouse, "experiments")["sample_ids"].to_pylist() for s in ids or []}
    unknown = sorted(used - known)
    return dg.AssetCheckResult(passed=not unknown, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"unknown_samples": dg.MetadataValue.json(unknown)})


ASSETS = [registry_tables, logistics_metrics]
CHECKS = [experiments_use_known_samples]
