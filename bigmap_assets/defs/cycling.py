"""Cycling assets: raw cycler files -> time series -> cycles -> state of health -> series."""

from collections import Counter

import dagster as dg
import pyarrow as pa

from .. import schemas
from ..ingest.cycling import IngestReport, ingest_timeseries, read_sources, unregistered_issues
from ..ingest.errors import UnreadableFile
from ..ingest.admission import Issue
from ..alerts.rules import trajectory_departures
from ..plots.cycling import cell_soh_versus_cycle, soh_versus_cycle
from ..science.cycling import SUMMARY_COLUMNS, iter_cycles, time_steps_backwards
from ..science.soh import SOH_COLUMNS, attach_registry, series_statistics, state_of_health, trajectory_outliers
from .alerts import alert_result
from .each_sample import BACKFILL_POLICY, check_each, materialize_each
from .partitions import partitions_for
from .publish import (PREVIEW_ROWS, column_schema, empty_table, log_issues, plot_metadata, preview_markdown, publish,
                      publish_pieces, read_sample_table, record_ingest)
from .resources import WarehouseResource
from .samples import active_mass_g, sample_record

TECHNIQUE = "cycling"
PARTITIONS = partitions_for(TECHNIQUE)
GROUP = "cycling"
CELL_PLOT = "soh_versus_cycle"  # plots/cycling/<sample_id>_soh_versus_cycle.png
LAKE_BATCH_ROWS = 256_000  # rows of the stored time series held at a time by the steps that read it


def _cycling_only(metadata: dict) -> str | None:
    kind = metadata.get("measurement_kind", "cycling")
    return None if kind == "cycling" else f"{kind} measurement, not cycling data"


@dg.asset(partitions_def=PARTITIONS, backfill_policy=BACKFILL_POLICY, group_name=GROUP, kinds={"parquet"},
          description="Every raw cycler file of a cell, read, stitched in time order, in canonical units (UTC). "
                      "Large files are streamed; a file still being written is appended to.")
def cycling_timeseries(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from materialize_each(context, warehouse,
                                lambda context, sample_id: {"cycling_timeseries": _timeseries(context, warehouse, sample_id)})


def _timeseries(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sample_id: str) -> dict:
    sources, files = read_sources(warehouse.root, sample_id, accept=_cycling_only,
                                  large_file_bytes=int(warehouse.large_file_mb * 2**20))
    record = sample_record(context, warehouse, sample_id)
    if not record:
        files.issues += unregistered_issues(sources, sample_id)
    if not sources:
        context.log.warning(f"no usable cycling file for {sample_id}")
    streamed = [s.rel for s in sources if s.streamed]
    if streamed:
        context.log.info(f"streaming {len(streamed)} large file(s): {', '.join(streamed)}")
    read_again = [s.rel for s in sources if s.table is None and not s.streamed]
    if read_again:
        context.log.info(f"{len(read_again)} file(s) read again when their turn comes (bounded memory): "
                         f"{', '.join(read_again)}")
    while True:  # a streamed file can turn out broken part-way: record it and build without it
        try:
            report = ingest_timeseries(warehouse.lake, sources, sample_id=sample_id,
                                       timezone=record.get("timezone") or "UTC", log=context.log.info)
            break
        except UnreadableFile as exc:
            broken = next(s for s in sources if str(s.path) == exc.path)
            files.issues.append(Issue(broken.rel, TECHNIQUE, exc.reason, sample_id, exc.location, sha256=broken.sha256))
            _mark_status(files, broken.rel, "issue")
            sources.remove(broken)
    context.log.info(f"cycling_timeseries {sample_id}: {report.mode} ({report.reason}), {report.rows_written:,} of "
                     f"{report.rows:,} rows written in {report.seconds:.1f} s")
    folder = f"raw/{TECHNIQUE}/{sample_id}"
    files.issues += [Issue(folder, TECHNIQUE, w, sample_id, severity="warning") for w in report.warnings]
    log_issues(context, files)
    return record_ingest(warehouse, files) | _timeseries_metadata(warehouse, sample_id, report)


def _mark_status(files, rel: str, status: str) -> None:
    for entry in files.inventory:
        if entry["path"] == rel:
            entry["status"] = status


def _timeseries_metadata(warehouse: WarehouseResource, sample_id: str, report: IngestReport) -> dict:
    """Row count, schema, where the parts are, a preview (first rows only) and how this run stored them."""
    lake, partition = warehouse.lake, {"sample_id": sample_id}
    first_rows = next(lake.iter_tables("cycling_timeseries", partition, batch_rows=PREVIEW_ROWS), None)
    preview = first_rows.drop_columns(["sample_id"]) if first_rows is not None else empty_table("cycling_timeseries")
    return {
        "dagster/row_count": report.rows,
        "dagster/column_schema": column_schema("cycling_timeseries"),
        "path": dg.MetadataValue.path(lake.location("cycling_timeseries", partition)),
        "parts": lake.part_count("cycling_timeseries", partition),
        "preview": dg.MetadataValue.md(preview_markdown(preview)),
        "ingest_mode": report.mode,
        "ingest_reason": report.reason,
        "rows_written": report.rows_written,
        "rows_per_second": round(report.rows_written / max(report.seconds, 1e-9)),
    }


@dg.asset(partitions_def=PARTITIONS, backfill_policy=BACKFILL_POLICY, group_name=GROUP, kinds={"parquet"},
          deps=[cycling_timeseries],
          description="One row per cycle: capacities, energies, efficiencies, CV tails, C-rates and protocol stage.")
def cycling_cycles(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from materialize_each(context, warehouse,
                                lambda context, sample_id: {"cycling_cycles": _cycles(context, warehouse, sample_id)})


def _cycles(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sample_id: str) -> dict:
    record = sample_record(context, warehouse, sample_id)
    timeseries = warehouse.lake.iter_tables("cycling_timeseries", {"sample_id": sample_id}, columns=list(SUMMARY_COLUMNS),
                                           batch_rows=LAKE_BATCH_ROWS)
    stages = Counter()

    def counted(tables):
        for table in tables:
            stages.update(table.column("stage").drop_null().to_pylist())
            yield table

    cycles = iter_cycles(timeseries, active_mass_g=active_mass_g(record))
    metadata = publish_pieces(warehouse, "cycling_cycles", counted(cycles), {"sample_id": sample_id})
    metadata["stages"] = dg.MetadataValue.json(dict(sorted(stages.items())))
    return metadata


@dg.asset(partitions_def=PARTITIONS, backfill_policy=BACKFILL_POLICY, group_name=GROUP, kinds={"parquet"},
          deps=[cycling_cycles],
          description="One row per check-up: discharge capacity, state of health, end of life (80 % SoH); the cell's "
                      "SoH against cycle (end of life marked, formation and ageing cycles apart) in "
                      "warehouse/plots/cycling/<sample_id>_soh_versus_cycle.png.")
def cycling_soh(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from materialize_each(context, warehouse, lambda context, sample_id: {"cycling_soh": _soh(context, warehouse, sample_id)})


def _soh(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sample_id: str) -> dict:
    record = sample_record(context, warehouse, sample_id)
    cycles = read_sample_table(warehouse, "cycling_cycles", sample_id, columns=list(SOH_COLUMNS))
    soh = attach_registry(state_of_health(cycles), record)
    metadata = publish(warehouse, "cycling_soh", soh, {"sample_id": sample_id})
    plot = warehouse.output_dir("plots", TECHNIQUE) / f"{sample_id}_{CELL_PLOT}.png"
    if soh.num_rows:
        eol = soh.filter(pa.compute.field("end_of_life"))
        metadata["end_of_life_cycle"] = eol.column("cycle_count")[0].as_py() if eol.num_rows else "not reached"
        metadata["last_soh"] = round(soh.column("soh")[-1].as_py(), 4)
        metadata |= plot_metadata(cell_soh_versus_cycle(soh, cycles), plot, label=CELL_PLOT)
    else:
        plot.unlink(missing_ok=True)  # no check-up (any more): no curve
    return metadata


def all_soh(warehouse: WarehouseResource) -> pa.Table:
    """Every cell's check-ups, from the lake."""
    soh = warehouse.lake.read_every("cycling_soh")
    return soh if soh is not None else empty_table("cycling_soh")


@dg.asset(group_name=GROUP, kinds={"parquet"}, deps=[cycling_soh],
          description="Per series (electrolyte x provider x batch): mean and spread of capacity, SoH and end of life.")
def cycling_series(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    soh = all_soh(warehouse)
    series = series_statistics(soh)
    metadata = publish(warehouse, "cycling_series", series)
    if soh.num_rows:
        metadata |= plot_metadata(soh_versus_cycle(soh), warehouse.output_dir("plots", "cycling") / "soh_versus_cycle.png",
                                  label="soh_versus_cycle")
    return dg.MaterializeResult(metadata=metadata)


@dg.asset_check(asset=cycling_series,
                description="No cell's capacity or SoH trajectory departs from the rest of its series: a departing "
                            "cell alerts once. Warns on the example data: cell LNO-LTD-A-02 is generated fading "
                            "faster, to be singled out here.")
def cells_follow_their_series(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    outliers = trajectory_outliers(all_soh(warehouse))
    flagged = outliers.filter(pa.compute.field("outlier")) if outliers.num_rows else outliers
    cells = sorted(set(flagged.column("sample_id").to_pylist())) if flagged.num_rows else []
    return alert_result(trajectory_departures(outliers), outlier_cells=dg.MetadataValue.json(cells),
                        checked_rows=outliers.num_rows)


@dg.asset_check(asset=cycling_timeseries, partitions_def=PARTITIONS,
                description="Rows match the declared schema; time never runs backwards.")
def timeseries_is_well_formed(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return check_each(context, lambda sample_id: _well_formed(warehouse, sample_id))


def _well_formed(warehouse: WarehouseResource, sample_id: str) -> dg.AssetCheckResult:
    lake, partition = warehouse.lake, {"sample_id": sample_id}
    if not lake.part_count("cycling_timeseries", partition):
        return dg.AssetCheckResult(passed=False, metadata={"reason": "partition not written"})
    names = lake.column_names("cycling_timeseries", partition)
    times = (t.column("test_time_second") for t in lake.iter_tables("cycling_timeseries", partition,
                                                                     columns=["test_time_second"],
                                                                     batch_rows=LAKE_BATCH_ROWS))
    rows, backwards = time_steps_backwards(times)
    return dg.AssetCheckResult(
        passed=names == schemas.TABLES["cycling_timeseries"].column_names and backwards == 0,
        metadata={"rows": rows, "time_steps_backwards": backwards},
    )


def has_cycling_data(asset: str, technique: str) -> dg.AssetChecksDefinition:
    """A check of ``asset`` (a ``technique`` asset reading the same sample's cycling time series): the sample
    has cycling data. Without, the asset still builds (no potential to align with) and this check warns."""

    @dg.asset_check(asset=asset, name="has_cycling_data", partitions_def=partitions_for(technique),
                    description=f"The sample has a cycling time series for {asset} to read (a sample with {technique} "
                                f"files but none under raw/cycling/ warns: its rows carry no potential).")
    def check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return check_each(context, lambda sample_id: has_rows(warehouse, sample_id))

    def has_rows(warehouse: WarehouseResource, sample_id: str) -> dg.AssetCheckResult:
        rows = sum(t.num_rows for t in warehouse.lake.iter_tables("cycling_timeseries", {"sample_id": sample_id},
                                                                    columns=["test_time_second"]))
        return dg.AssetCheckResult(
            passed=rows > 0, severity=dg.AssetCheckSeverity.WARN,
            description=None if rows else f"no cycling data for {sample_id}: nothing under raw/cycling/{sample_id}/ "
                                          f"was ingested, so {asset} has no potential to align with",
            metadata={"cycling_timeseries_rows": rows},
        )

    return check


ASSETS = [cycling_timeseries, cycling_cycles, cycling_soh, cycling_series]
CHECKS = [cells_follow_their_series, timeseries_is_well_formed]
