"""Archive assets: one bundle per sample and technique (``<technique>_archive``), rebuilt whenever that
partition's tables are, and the per-sample notebook entries. The work is in ``bigmap_assets.archive``."""

from datetime import datetime, timezone

import dagster as dg
import pyarrow as pa

from ..ingest import registry
from ..archive.bundle import bundle_dir, find_bundles, read_bundle, write_bundle
from ..archive.facts import SUMMARY_COLUMNS, TABLES, Facts, experiments_of, pipeline_outputs, summarise
from ..archive.notebook import NOTEBOOK_NAME, notebook_entry
from ..ingest.admission import TECHNIQUES
from ..warehouse.provenance import code_version
from .overview import read_all
from .each_sample import BACKFILL_POLICY, check_each, materialize_each
from .partitions import partitions_for
from .resources import WarehouseResource
from .samples import registry_of

GROUP = "archive"


def _rows(table: pa.Table | None) -> list[dict]:
    return table.to_pylist() if table is not None else []


def build_bundle(warehouse: WarehouseResource, sample_id: str, technique: str, now: datetime):
    """Gather the partition's facts from the registry and the lake, and write its bundle."""
    samples, tables = registry_of(warehouse)
    raw = warehouse.lake.read("raw_files", {"technique": technique, "sample_id": sample_id})
    summary_tables = {name: warehouse.lake.read(name, {"sample_id": sample_id}, columns=SUMMARY_COLUMNS[name])
                      for name in TABLES[technique] if name in SUMMARY_COLUMNS}
    summary, start, end = summarise(technique, {k: v for k, v in summary_tables.items() if v is not None})
    facts = Facts(
        sample_id=sample_id, technique=technique, sample=samples.get(sample_id, {}),
        electrodes=[e for e in _rows(tables.get("electrodes")) if e["sample_id"] == sample_id],
        experiments=experiments_of(_rows(tables.get("experiments")), sample_id, technique),
        raw_files=sorted(_rows(raw), key=lambda f: f["path"]), summary=summary, start_utc=start, end_utc=end,
    )
    pieces = {name: warehouse.lake.iter_tables(name, {"sample_id": sample_id}) for name in TABLES[technique]}
    return write_bundle(bundle_dir(warehouse.warehouse_dir, sample_id, technique), facts, pieces,
                        pipeline_outputs(warehouse.warehouse_dir, technique, sample_id),
                        code_version=code_version(), now=now)


def _bundle_asset(technique: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"{technique}_archive", partitions_def=partitions_for(technique), backfill_policy=BACKFILL_POLICY,
        group_name=GROUP, kinds={"json"},
        deps=list(TABLES[technique]),
        description=f"The sample's {technique} archive bundle under warehouse/archive/<sample_id>/{technique}/: "
                    "Parquet of its tables, exports and plots, BattINFO JSON-LD and an InvenioRDM record "
                    "(validated, not uploaded: `bigmap archive upload`).",
    )
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        yield from materialize_each(context, warehouse,
                                    lambda context, sample_id: {f"{technique}_archive": bundled(context, warehouse, sample_id)})

    def bundled(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sample_id: str) -> dict:
        bundle = build_bundle(warehouse, sample_id, technique, datetime.now(timezone.utc))
        for problem in bundle.problems:
            context.log.warning(f"{sample_id} {technique} archive record: {problem}")
        return {
            "path": dg.MetadataValue.path(str(bundle.folder)),
            "files": len(bundle.files),
            "size_byte": sum(f.size_byte for f in bundle.files),
            "record_valid": not bundle.problems,
            "record_problems": dg.MetadataValue.json(list(bundle.problems)),
            "title": bundle.record["metadata"].get("title", ""),
        }

    return _asset


BUNDLE_ASSETS = [_bundle_asset(technique) for technique in TECHNIQUES]


def _record_is_valid(technique: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=f"{technique}_archive", name="record_is_valid", partitions_def=partitions_for(technique),
                    description="The bundle's metadata.json passes the InvenioRDM dry-run validation.")
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return check_each(context, lambda sample_id: valid(warehouse, sample_id))

    def valid(warehouse: WarehouseResource, sample_id: str) -> dg.AssetCheckResult:
        folder = bundle_dir(warehouse.warehouse_dir, sample_id, technique)
        problems = list(read_bundle(folder).problems)
        return dg.AssetCheckResult(passed=not problems, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"problems": dg.MetadataValue.json(problems)})

    return _check


@dg.asset(group_name=GROUP, kinds={"markdown"}, deps=[*BUNDLE_ASSETS, "sample_overview"],
          description="One notebook-style entry per sample (warehouse/archive/<sample_id>/notebook.md): the cell, "
                      "what was done to it (cycling, experiments, shipments, electrodes) and where its data are.")
def notebook_entries(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    samples, _ = registry.load_samples(warehouse.registry_dir)
    tables, _ = registry.load_registry(warehouse.registry_dir)
    overview = {row["sample_id"]: row for row in _rows(read_all(warehouse, "sample_overview"))}
    bundles: dict[str, dict] = {}
    for folder in find_bundles(warehouse.warehouse_dir):
        bundles.setdefault(folder.parent.name, {})[folder.name] = read_bundle(folder)
    written = []
    for sample_id in sorted(set(samples) | set(overview) | set(bundles)):
        text = notebook_entry(
            sample_id, sample=samples.get(sample_id, {}), overview=overview.get(sample_id),
            electrodes=[e for e in _rows(tables.get("electrodes")) if e["sample_id"] == sample_id],
            shipments=[s for s in _rows(tables.get("shipments")) if sample_id in (s.get("sample_ids") or [])],
            experiments=[e for e in _rows(tables.get("experiments")) if sample_id in (e.get("sample_ids") or [])],
            archive_records=_rows(tables.get("archive_records")), bundles=bundles.get(sample_id, {}),
            data_dir=warehouse.root,
        )
        path = warehouse.output_dir("archive", sample_id) / NOTEBOOK_NAME
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    context.log.info(f"{len(written)} notebook entries written")
    return dg.MaterializeResult(metadata={
        "entries": len(written),
        "path": dg.MetadataValue.path(str(warehouse.warehouse_dir / "archive")),
        "first_entry": dg.MetadataValue.md(written[0].read_text(encoding="utf-8")) if written else "",
    })


ASSETS = [*BUNDLE_ASSETS, notebook_entries]
CHECKS = [_record_is_valid(technique) for technique in TECHNIQUES]
