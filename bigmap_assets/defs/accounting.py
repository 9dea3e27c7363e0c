"""Every raw file accounted for: the issues of what lies outside the sample folders, and the check, after
every run, that each file under raw/ was ingested or has an issue saying why not."""

import dagster as dg

from ..ingest.accounting import unaccounted_files
from ..ingest.admission import NO_SAMPLE, issues_table, layout_issues
from .publish import preview_markdown
from .resources import WarehouseResource

GROUP = "overview"
LISTED = 200  # unaccounted files named in the check's metadata


@dg.asset(group_name=GROUP, kinds={"parquet"}, deps=["sample_overview"],
          description="What lies under raw/ outside the sample folders and raw/survey/ (refused folder names, "
                      "files outside a sample folder, links out of the data folder, FIFOs), as ingest_issues rows "
                      "(sample_id NULL). Runs after every other table, so its check sees the finished run.")
def raw_folder_layout(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    found = layout_issues(warehouse.root)
    for technique, issues in found.items():
        partition = {"technique": technique, "sample_id": NO_SAMPLE}
        if issues:
            warehouse.lake.write("ingest_issues", issues_table(issues), partition)
        else:
            warehouse.lake.delete("ingest_issues", partition)
        for issue in issues:
            (context.log.error if issue.severity == "error" else context.log.warning)(f"{issue.path}: {issue.reason}")
    warehouse.publish_catalog()
    every = [i for issues in found.values() for i in issues]
    metadata = {"ingest_issues": len(every)}
    if every:
        metadata["issues"] = dg.MetadataValue.md(preview_markdown(
            issues_table(every).select(["path", "severity", "reason"]), rows=50, max_chars=300))
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=raw_folder_layout,
                description="Every file under raw/ is ingested (raw_files, status ok) or has an ingest_issues row "
                            "(for it or a folder holding it) saying why not.")
def every_raw_file_accounted_for(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    missing = unaccounted_files(warehouse.root, warehouse.lake_location)
    return dg.AssetCheckResult(passed=not missing, metadata={
        "unaccounted_files": len(missing), "files": dg.MetadataValue.json(missing[:LISTED])})


ASSETS = [raw_folder_layout]
CHECKS = [every_raw_file_accounted_for]
