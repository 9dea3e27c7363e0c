"""Per-sample work in runs over one partition (the sensor) or a range of them (``bigmap materialize``,
the nightly schedules).

Every technique asset has a single-run backfill policy: one run materialises every partition of
a range, the asset function receiving all their keys. These helpers run the per-sample body once
per key, record each partition's own metadata (materialisation) or evaluation (check), and
publish the DuckDB catalog once per step rather than once per partition. Every event costs a
write to the instance, so a ranged run writes the bodies' INFO lines as one log line per step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dagster as dg

from .partitions import sample_of_key
from .resources import WarehouseResource

BACKFILL_POLICY = dg.BackfillPolicy.single_run()
LOG_LINES = 200  # INFO lines of a ranged step kept in its one log line


class _InfoKept:
    """A step's logger whose INFO and DEBUG lines are kept (``lines``) instead of written one by one."""

    def __init__(self, log):
        self._log, self.lines = log, []

    def info(self, message, *args, **kwargs) -> None:
        self.lines.append(str(message) % args if args else str(message))

    debug = info

    def __getattr__(self, name):
        return getattr(self._log, name)


class _RangeContext:
    """The step's context for one partition's body in a ranged run: the same, with ``_InfoKept`` as its log."""

    def __init__(self, context: dg.AssetExecutionContext, log: _InfoKept):
        self._context, self.log = context, log

    def __getattr__(self, name):
        return getattr(self._context, name)


def samples_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[tuple[str, str]]:
    """``(partition key, sample ID)`` of every partition of the run, in order."""
    return [(key, sample_of_key(key)) for key in context.partition_keys]


def materialize_each(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                     build: Callable[[dg.AssetExecutionContext, str], dict[str, dict]]) -> Iterator[dg.MaterializeResult]:
    """Run ``build(context, sample_id)`` -> ``{asset key: metadata}`` for each partition of the run; each
    partition's materialisation carries its own metadata. Publishes the catalog once, after every partition.
    In a ranged run, the INFO lines of the bodies become one log line (warnings still come one by one)."""
    if context.has_partition_key:  # one partition: its results as they are
        results = build(context, sample_of_key(context.partition_key))
        warehouse.publish_catalog()
        for asset_key, metadata in results.items():
            yield dg.MaterializeResult(asset_key=asset_key, metadata=metadata)
        return
    asset_keys: set[str] = set()
    log = _InfoKept(context.log)
    for key, sample_id in samples_of(context):
        for asset_key, metadata in build(_RangeContext(context, log), sample_id).items():
            context.add_asset_metadata(metadata, asset_key=asset_key, partition_key=key)
            asset_keys.add(asset_key)
    if log.lines:
        more = len(log.lines) - LOG_LINES
        context.log.info("\n".join(log.lines[:LOG_LINES] + ([f"... and {more} more line(s)"] if more > 0 else [])))
    warehouse.publish_catalog()
    for asset_key in sorted(asset_keys):
        yield dg.MaterializeResult(asset_key=asset_key)


def check_each(context: dg.AssetCheckExecutionContext,
               evaluate: Callable[[str], dg.AssetCheckResult]) -> dg.AssetCheckResult:
    """``evaluate(sample_id)`` for each partition of the run.

    A per-partition run returns its evaluation as is. A ranged run records one evaluation per
    partition (with that partition's metadata) and returns their summary, recorded without a
    partition: how many partitions, which failed (Dagster records a check result of a ranged
    step against no partition).
    """
    if context.has_partition_key:
        return evaluate(sample_of_key(context.partition_key))
    (spec,) = context.check_specs
    failed, severities = [], set()
    for key, sample_id in samples_of(context):
        result = evaluate(sample_id)
        context.op_execution_context.log_event(dg.AssetCheckEvaluation(
            asset_key=spec.asset_key, check_name=spec.name, passed=result.passed, metadata=result.metadata,
            severity=result.severity, description=result.description, partition=key))
        if not result.passed:
            failed.append(key)
            severities.add(result.severity)
    severity = dg.AssetCheckSeverity.ERROR if dg.AssetCheckSeverity.ERROR in severities else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(passed=not failed, severity=severity,
                               metadata={"partitions": len(context.partition_keys),
                                         "failed_partitions": dg.MetadataValue.json(failed)})
