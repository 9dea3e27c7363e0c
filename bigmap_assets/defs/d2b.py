"""D2B assets: raw numors -> numors (grouped into measurements) + reduced diffractograms -> comparisons of
consecutive diffractograms, with plots and .xye exports."""

import dagster as dg
import pyarrow.compute as pc

from ..exports.xye import export_diffractograms
from ..ingest.admission import Issue, read_partition
from ..plots.d2b import comparison, series_heatmap
from ..readers.d2b_nexus import read_calibration
from ..science.d2b_workflows import DEFAULT_WORKFLOW
from ..science.diffraction import DEFAULT_THRESHOLD, compare_consecutive, compare_diffractograms, duplicate_runs, \
    main_1d, reduce_sample
from .cycling import cycling_timeseries, has_cycling_data
from .each_sample import BACKFILL_POLICY, check_each, materialize_each
from .partitions import partitions_for, same_sample_from
from .publish import log_issues, plot_metadata, publish, read_sample_table, record_ingest
from .resources import WarehouseResource

TECHNIQUE = "d2b"
PARTITIONS = partitions_for(TECHNIQUE)
GROUP = "d2b"


class ReductionConfig(dg.Config):
    max_gap_second: float = 3600.0  # a longer pause between numors starts a new measurement
    calibration_file: str = ""  # vanadium efficiency map (Mantid processed NeXus), relative to the data folder
    mantid_workflow: str = DEFAULT_WORKFLOW  # "current" (today's Mantid) or "2018" (Mantid of 2018-2022)
    height_ranges_metre: list[float] = []  # min, max pairs (flattened): PowderILLDetectorScan's HeightRange
    align_tubes: bool | None = None  # override the workflow's AlignTubes (current: off, 2018: on)


class ComparisonConfig(dg.Config):
    reduced_chi_square_threshold: float = DEFAULT_THRESHOLD


@dg.multi_asset(
    name="d2b_ingest",
    partitions_def=PARTITIONS,
    backfill_policy=BACKFILL_POLICY,
    group_name=GROUP,
    specs=[
        dg.AssetSpec("d2b_numors", kinds={"parquet"},
                     description="One row per D2B numor: run number, title, wavelength, times (UTC), detector scan, "
                                 "and the measurement (numors measured together) it belongs to."),
        dg.AssetSpec("d2b_diffractograms", kinds={"parquet"},
                     description="Each measurement reduced as Mantid's PowderILLDetectorScan does (1D, cone-corrected "
                                 "2theta, 0.05 degree bins, counts per 1e6 monitor), with the current or the 2018 "
                                 "Mantid workflow (recorded in mantid_workflow)."),
    ],
)
def d2b_ingest(context: dg.AssetExecutionContext, config: ReductionConfig, warehouse: WarehouseResource):
    yield from materialize_each(context, warehouse, lambda context, sample_id: _ingest(context, config, warehouse, sample_id))


def _ingest(context: dg.AssetExecutionContext, config: ReductionConfig, warehouse: WarehouseResource,
            sample_id: str) -> dict[str, dict]:
    files = read_partition(warehouse.root, TECHNIQUE, sample_id)
    _refuse_duplicate_runs(files)
    log_issues(context, files)
    ingest = record_ingest(warehouse, files)
    calibration = read_calibration(warehouse.root / config.calibration_file) if config.calibration_file else None
    ranges = config.height_ranges_metre
    if len(ranges) % 2:
        raise dg.Failure(f"height_ranges_metre holds min, max pairs: {len(ranges)} values given")
    numors, diffractograms = reduce_sample([f.table for f in files.files], sample_id, calibration=calibration,
                                           max_gap_second=config.max_gap_second, workflow=config.mantid_workflow,
                                           height_ranges=list(zip(ranges[::2], ranges[1::2])),
                                           align_tubes=config.align_tubes)
    if not files.files:
        context.log.warning(f"no usable D2B numor for {sample_id}")
    numor_meta = ingest | publish(warehouse, "d2b_numors", numors, {"sample_id": sample_id})
    if numors.num_rows:
        numor_meta["measurements"] = len(set(numors.column("measurement_index").to_pylist()))
    meta = publish(warehouse, "d2b_diffractograms", diffractograms, {"sample_id": sample_id})
    if diffractograms.num_rows:
        exported = export_diffractograms(diffractograms, warehouse.output_dir("exports", "d2b", sample_id))
        meta["xye_exports"] = dg.MetadataValue.path(str(exported[0].parent))
        meta["xye_files"] = len(exported)
    return {"d2b_numors": numor_meta, "d2b_diffractograms": meta}


def _refuse_duplicate_runs(files) -> None:
    """A run number read from a second file is not used (Mantid would count it twice): an ingest issue."""
    by_table = {id(f.table): f for f in files.files}
    refused = set()
    for later, first in duplicate_runs([f.table for f in files.files]):
        dropped, kept = by_table[id(later)], by_table[id(first)]
        refused.add(id(later))
        files.issues.append(Issue(dropped.path, TECHNIQUE, f"not used: run {dropped.metadata['run_number']} is "
                                  f"already read from {kept.path}", files.sample_id, sha256=dropped.sha256))
    files.files = [f for f in files.files if id(f.table) not in refused]


@dg.asset(
    partitions_def=PARTITIONS, backfill_policy=BACKFILL_POLICY, group_name=GROUP, kinds={"parquet"},
    deps=[dg.AssetDep("d2b_diffractograms"),
          dg.AssetDep(cycling_timeseries, partition_mapping=same_sample_from("cycling", TECHNIQUE))],
    description="Each diffractogram against the one before it: ratio mean/std/min/max, chi-square, reduced "
                "chi-square and a significance flag; overlay + ratio plot of the last pair and a heat map of the "
                "series beside the cell's potential.",
)
def d2b_comparisons(context: dg.AssetExecutionContext, config: ComparisonConfig, warehouse: WarehouseResource):
    yield from materialize_each(context, warehouse,
                                lambda context, sample_id: {"d2b_comparisons": _comparisons(context, config, warehouse, sample_id)})


def _comparisons(context: dg.AssetExecutionContext, config: ComparisonConfig, warehouse: WarehouseResource,
                 sample_id: str) -> dict:
    diffractograms = read_sample_table(warehouse, "d2b_diffractograms", sample_id)
    comparisons = compare_consecutive(diffractograms, threshold=config.reduced_chi_square_threshold)
    metadata = publish(warehouse, "d2b_comparisons", comparisons, {"sample_id": sample_id})
    plots = warehouse.output_dir("plots", "d2b")
    if comparisons.num_rows:
        metadata["significant_changes"] = sum(bool(v) for v in comparisons.column("significant").to_pylist())
        last = comparisons.slice(comparisons.num_rows - 1).to_pylist()[0]
        one_d = main_1d(diffractograms)
        later, earlier = (one_d.filter(pc.equal(one_d.column("measurement_index"), index))
                          for index in (last["measurement_index"], last["previous_measurement_index"]))
        png = comparison(later, earlier, compare_diffractograms(later, earlier),
                         labels=(last["measurement_id"], last["previous_measurement_id"]),
                         threshold=config.reduced_chi_square_threshold)
        metadata |= plot_metadata(png, plots / f"{sample_id}_last_comparison.png", label="last_comparison")
    if diffractograms.num_rows:
        timeseries = read_sample_table(warehouse, "cycling_timeseries", sample_id, columns=["utc_time", "voltage_volt"])
        if not timeseries.num_rows:
            context.log.warning(f"no cycling time series for {sample_id}: the series plot has no potential")
        metadata |= plot_metadata(series_heatmap(diffractograms, timeseries), plots / f"{sample_id}_series.png",
                                  label="series")
    return metadata


@dg.asset_check(asset="d2b_numors", partitions_def=PARTITIONS,
                description="Every measurement has the same number of numors as the first (a short one was cut by "
                            "a gap or an interrupted scan set).")
def measurements_are_complete(context: dg.AssetCheckExecutionContext,
                              warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return check_each(context, lambda sample_id: _complete(warehouse, sample_id))


def _complete(warehouse: WarehouseResource, sample_id: str) -> dg.AssetCheckResult:
    numors = read_sample_table(warehouse, "d2b_numors", sample_id)
    sizes = {}
    for index in numors.column("measurement_index").to_pylist():
        sizes[index] = sizes.get(index, 0) + 1
    expected = sizes[min(sizes)] if sizes else 0
    short = sorted(i for i, n in sizes.items() if n != expected)
    return dg.AssetCheckResult(passed=not short, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"numors_per_measurement": expected, "other_sized": short})


ASSETS = [d2b_ingest, d2b_comparisons]
CHECKS = [has_cycling_data("d2b_comparisons", TECHNIQUE), measurements_are_complete]
