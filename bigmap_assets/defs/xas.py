"""XAS assets: raw scans -> scans + spectra (calibrated, normalised) -> scans aligned with the cell's cycling."""

import dagster as dg
import pyarrow as pa

from .. import schemas
from ..alerts.rules import scans_outside
from ..exports.xdi import export_scans
from ..ingest.admission import Issue, read_partition
from ..plots.xas import edge_versus_potential, spectra_over_time
from ..science.alignment import CONTINUOUS, LABELS, align_scans
from ..science.xas import build_scans
from .alerts import alert_result
from .cycling import cycling_timeseries, has_cycling_data
from .each_sample import BACKFILL_POLICY, check_each, materialize_each
from .partitions import partitions_for, same_sample_from
from .publish import empty_table, log_issues, plot_metadata, publish, read_sample_table, record_ingest
from .resources import WarehouseResource
from .samples import active_mass_g, sample_record

TECHNIQUE = "xas"
PARTITIONS = partitions_for(TECHNIQUE)
GROUP = "xas"


@dg.multi_asset(
    name="xas_ingest",
    partitions_def=PARTITIONS,
    backfill_policy=BACKFILL_POLICY,
    group_name=GROUP,
    specs=[
        dg.AssetSpec("xas_scans", kinds={"parquet"},
                     description="One row per XAS scan: time (UTC), edge, foil calibration, normalisation parameters, "
                                 "E0, edge step, edge position, inflection, white line."),
        dg.AssetSpec("xas_spectra", kinds={"parquet"},
                     description="Every XAS scan's energy (calibrated), mu, normalised and flattened mu."),
    ],
)
def xas_ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from materialize_each(context, warehouse, lambda context, sample_id: _ingest(context, warehouse, sample_id))


def _ingest(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sample_id: str) -> dict[str, dict]:
    files = read_partition(warehouse.root, TECHNIQUE, sample_id)
    if files.files:
        scans, spectra = build_scans([f.table for f in files.files], sample_id=sample_id)
        files.issues.extend(scan_issues(scans, sample_id))
    else:
        context.log.warning(f"no usable XAS file for {sample_id}")
        scans, spectra = empty_table("xas_scans"), empty_table("xas_spectra")
    log_issues(context, files)
    ingest = record_ingest(warehouse, files)
    scan_meta = ingest | publish(warehouse, "xas_scans", scans, {"sample_id": sample_id})
    if scans.num_rows:
        scan_meta["normalised_by"] = dg.MetadataValue.json(sorted(set(scans.column("normalised_by").to_pylist())))
    return {"xas_scans": scan_meta,
            "xas_spectra": publish(warehouse, "xas_spectra", spectra, {"sample_id": sample_id})}


@dg.asset(
    partitions_def=PARTITIONS, backfill_policy=BACKFILL_POLICY, group_name=GROUP, kinds={"parquet"},
    deps=[dg.AssetDep("xas_scans"), dg.AssetDep("xas_spectra"),
          dg.AssetDep(cycling_timeseries, partition_mapping=same_sample_from("cycling", TECHNIQUE))],
    description="One row per scan: the cell's potential, current, capacity, state of charge and x in Li at the "
                "scan's mid time, with the scan's edge quantities; plots and XDI exports.",
)
def xas_echem(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    yield from materialize_each(context, warehouse, lambda context, sample_id: {"xas_echem": _echem(context, warehouse, sample_id)})


def _echem(context: dg.AssetExecutionContext, warehouse: WarehouseResource, sample_id: str) -> dict:
    record = sample_record(context, warehouse, sample_id)
    scans = read_sample_table(warehouse, "xas_scans", sample_id)
    timeseries = read_sample_table(warehouse, "cycling_timeseries", sample_id,
                                   columns=["sample_id", "utc_time", *CONTINUOUS, *LABELS])  # what the alignment reads
    if not timeseries.num_rows:
        context.log.warning(f"no cycling time series for {sample_id}: scans are flagged 'outside'")
    aligned = align_scans(scans, timeseries, at="mid", active_mass_g=active_mass_g(record))
    echem = schemas.TABLES["xas_echem"].conform(aligned)
    metadata = publish(warehouse, "xas_echem", echem, {"sample_id": sample_id})
    if echem.num_rows:
        statuses = echem.column("alignment").to_pylist()
        metadata["alignment"] = dg.MetadataValue.json({s: statuses.count(s) for s in sorted(set(statuses))})
        spectra = read_sample_table(warehouse, "xas_spectra", sample_id)
        plots = warehouse.output_dir("plots", "xas")
        metadata |= plot_metadata(spectra_over_time(spectra, echem), plots / f"{sample_id}_spectra_over_time.png",
                                  label="spectra_over_time")
        metadata |= plot_metadata(edge_versus_potential(echem), plots / f"{sample_id}_edge_versus_potential.png",
                                  label="edge_versus_potential")
        merged = _with_echem(scans, echem)
        exported = export_scans(merged, spectra, warehouse.output_dir("exports", "xas", sample_id))
        metadata["xdi_exports"] = dg.MetadataValue.path(str(exported[0].parent))
        metadata["xdi_files"] = len(exported)
    return metadata


def scan_issues(scans: pa.Table, sample_id: str) -> list[Issue]:
    """One ``ingest_issues`` warning per note of a scan (points left out, larch's rules applied, missing values)."""
    return [Issue(row["source_file"], TECHNIQUE, note, sample_id, location=f"scan {row['scan_name']}",
                  severity="warning", sha256=row["source_sha256"])
            for row in scans.select(["source_file", "source_sha256", "scan_name", "notes"]).to_pylist()
            if row["notes"] for note in row["notes"].split("; ")]


def _with_echem(scans: pa.Table, echem: pa.Table) -> pa.Table:
    """Scan rows with the aligned potential and state of charge added (for the XDI headers)."""
    extra = echem.select(["source_scan", "voltage_volt", "state_of_charge"])
    return scans.join(extra, "source_scan", join_type="left outer").sort_by("scan_number")


@dg.asset_check(asset="xas_echem", partitions_def=PARTITIONS,
                description="Every timed scan falls inside the cell's electrochemistry, without a gap: a scan "
                            "outside or in a gap alerts once.")
def scans_meet_the_electrochemistry(context: dg.AssetCheckExecutionContext,
                                    warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return check_each(context, lambda sample_id: _meets(warehouse, sample_id))


def _meets(warehouse: WarehouseResource, sample_id: str) -> dg.AssetCheckResult:
    echem = read_sample_table(warehouse, "xas_echem", sample_id)
    statuses = echem.column("alignment").to_pylist()
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    return alert_result(scans_outside(echem), alignment=dg.MetadataValue.json(counts), scans=len(statuses))


MAX_CALIBRATION_SPREAD_EV = 0.5


@dg.asset_check(asset="xas_scans", partitions_def=PARTITIONS,
                description=f"The foil calibration shift stays within {MAX_CALIBRATION_SPREAD_EV} eV of its median "
                            "across the sample's scans (larger drifts point at the monochromator or the foil).")
def energy_calibration_is_stable(context: dg.AssetCheckExecutionContext,
                                 warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return check_each(context, lambda sample_id: _stable(warehouse, sample_id))


def _stable(warehouse: WarehouseResource, sample_id: str) -> dg.AssetCheckResult:
    scans = read_sample_table(warehouse, "xas_scans", sample_id)
    shifts = [s for s in scans.column("energy_shift_ev").to_pylist() if s is not None]
    spread = max(abs(s - sorted(shifts)[len(shifts) // 2]) for s in shifts) if shifts else 0.0
    return dg.AssetCheckResult(
        passed=spread <= MAX_CALIBRATION_SPREAD_EV,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"calibrated_scans": len(shifts), "largest_deviation_from_median_ev": round(spread, 4)},
    )


ASSETS = [xas_ingest, xas_echem]
CHECKS = [has_cycling_data("xas_echem", TECHNIQUE), scans_meet_the_electrochemistry, energy_calibration_is_stable]
