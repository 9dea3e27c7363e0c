"""The report per sample: static HTML pages from the warehouse, after every other summary table."""

import dagster as dg

from ..report.write import write_reports
from ..warehouse.provenance import code_version
from .resources import WarehouseResource

GROUP = "overview"


@dg.asset(group_name=GROUP, kinds={"html"},
          deps=["sample_overview", "raw_folder_layout", "cycling_series", "survey_answers", "d2b_comparisons",
                "xas_echem"],
          description="A static HTML page per sample (and an index) in warehouse/report/: registry facts, shipments, "
                      "SoH with end of life, D2B series and last comparison, XAS heat map and edge against potential, "
                      "survey answers of the techniques that measured it, open ingest issues and alerts. Images are "
                      "the pipeline's plots, linked by relative path: open index.html, no server needed.")
def sample_reports(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    pages = write_reports(warehouse.warehouse_dir, code_version())
    context.log.info(f"{len(pages) - 1} sample page(s) and the index in {pages[0].parent}")
    return dg.MaterializeResult(metadata={"index": dg.MetadataValue.path(str(pages[0])),
                                          "sample_pages": len(pages) - 1})


ASSETS = [sample_reports]
CHECKS = []
