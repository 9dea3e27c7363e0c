"""The cross-technique view: sample_overview and sample_coverage from every other table in the lake."""

import dagster as dg
import pyarrow as pa

from .. import schemas
from ..science.overview import sample_coverage as compute_coverage
from ..science.overview import sample_overview as compute_overview
from .publish import publish
from .resources import WarehouseResource

GROUP = "overview"
# Per-sample tables the overview counts from, when their technique is built.
SAMPLE_TABLES = ("cycling_cycles", "cycling_soh", "d2b_numors", "xas_scans")
REGISTRY_TABLES = ("samples", "electrodes", "shipments", "experiments")
COLUMNS_READ = {"cycling_cycles": ["sample_id", "cycle_count"]}  # one row per cycle: only what is counted


def read_all(warehouse: WarehouseResource, table_name: str, columns: list[str] | None = None) -> pa.Table | None:
    """Every readable partition of ``table_name`` in the lake (only ``columns`` if given), or None when the
    table is unknown or never written."""
    if table_name not in schemas.TABLES:
        return None
    return warehouse.lake.read_every(table_name, columns=columns)


@dg.asset(group_name=GROUP, kinds={"parquet"},
          deps=[*REGISTRY_TABLES, "survey_answers", *[t for t in SAMPLE_TABLES if t in schemas.TABLES]],
          description="One row per sample: cycling files, cycles, check-ups, SoH at end of life, D2B measurements, "
                      "XAS scans, experiments and survey answers of the techniques that used it, shipments.")
def sample_overview(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    samples = read_all(warehouse, "samples")
    if samples is None:
        context.log.warning("no samples table yet: the overview lists only the samples the data knows")
        samples = schemas.TABLES["samples"].arrow_schema().empty_table()
    tables = {name: read_all(warehouse, name, COLUMNS_READ.get(name))
              for name in (*SAMPLE_TABLES, *REGISTRY_TABLES[1:], "survey_answers")}
    overview = compute_overview(samples, raw_files=read_all(warehouse, "raw_files"), **tables)
    metadata = publish(warehouse, "sample_overview", overview)
    metadata["samples_reaching_end_of_life"] = sum(overview["reached_end_of_life"].to_pylist())
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(group_name=GROUP, kinds={"parquet"}, deps=[sample_overview, "experiments", "electrodes"],
          description="Sample-by-technique coverage (long form): warehouse counts and registry experiments.")
def sample_coverage(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    overview = read_all(warehouse, "sample_overview")
    overview = overview if overview is not None else schemas.TABLES["sample_overview"].arrow_schema().empty_table()
    coverage = compute_coverage(overview, read_all(warehouse, "experiments"), read_all(warehouse, "electrodes"))
    metadata = publish(warehouse, "sample_coverage", coverage)
    metadata["techniques"] = len(set(coverage["technique"].to_pylist()))
    return dg.MaterializeResult(metadata=metadata)


ASSETS = [sample_overview, sample_coverage]
CHECKS = []
