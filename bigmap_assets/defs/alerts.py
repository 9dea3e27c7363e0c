"""Alerts while experiments run: asset checks that fail on an alert-worthy event (their ``alerts``
metadata lists the events), and ``alert_sensor``, which reads new check evaluations from the instance,
records each event once in the ``alerts`` table and posts it to the configured webhooks.

The rules themselves are in ``bigmap_assets/alerts/``. ``cells_follow_their_series`` (cycling) and
``scans_meet_the_electrochemistry`` (xas) carry ``alerts`` metadata too.
"""

import json
import os
from datetime import datetime, timezone
from urllib.parse import quote

import dagster as dg
import pyarrow as pa
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from .. import schemas
from ..alerts import rules
from ..alerts.webhooks import ENV_VAR, Webhook, deliver, parse_webhooks
from ..ingest.admission import NO_SAMPLE, TECHNIQUES
from .each_sample import check_each
from .partitions import partitions_for
from .publish import empty_table, read_sample_table
from .resources import WarehouseResource

ALERTS_METADATA = "alerts"
EVALUATIONS_PER_PAGE = 500
INGEST_ASSETS = {"cycling": "cycling_timeseries", "d2b": "d2b_numors", "xas": "xas_scans"}


class AlertResource(dg.ConfigurableResource):
    """Where alerts go. ``webhooks`` (``kind=url`` entries, kinds json/slack/teams) defaults to
    ``$BIGMAP_ALERT_WEBHOOKS``, read when the sensor runs so the URLs never show in the UI's config."""

    webhooks: str = ""
    ui_url: str = ""  # the Dagster UI for links; default $BIGMAP_UI_URL or http://127.0.0.1:3000
    timeout_second: float = 10.0

    def targets(self) -> list[Webhook]:
        return parse_webhooks(self.webhooks or os.environ.get(ENV_VAR, ""))

    def link(self, asset_key: str, partition: str | None) -> str:
        base = (self.ui_url or os.environ.get("BIGMAP_UI_URL") or "http://127.0.0.1:3000").rstrip("/")
        query = f"?partition={quote(partition, safe='')}" if partition else ""
        return f"{base}/assets/{quote(asset_key)}{query}"


def alert_result(alerts: list[rules.Alert], **metadata) -> dg.AssetCheckResult:
    """Passed without events; failed (WARN) with them listed under ``alerts`` metadata for ``alert_sensor``."""
    listed = dg.MetadataValue.json([a.to_json() for a in alerts])
    return dg.AssetCheckResult(passed=not alerts, severity=dg.AssetCheckSeverity.WARN,
                               metadata={**metadata, ALERTS_METADATA: listed})


@dg.asset_check(asset="d2b_comparisons", partitions_def=partitions_for("d2b"),
                description="No diffractogram differs significantly from the one before it (reduced chi-square over "
                            "the comparison's threshold): a failure alerts once per pair of measurements.")
def diffractograms_unchanged(context: dg.AssetCheckExecutionContext,
                             warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return check_each(context, lambda sample_id: _unchanged(warehouse, sample_id))


def _unchanged(warehouse: WarehouseResource, sample_id: str) -> dg.AssetCheckResult:
    comparisons = read_sample_table(warehouse, "d2b_comparisons", sample_id)
    return alert_result(rules.diffractogram_changes(comparisons), comparisons=comparisons.num_rows)


@dg.asset_check(asset="cycling_soh", partitions_def=partitions_for("cycling"),
                description="The cell has not reached end of life (80 % SoH): a failure alerts once per cell.")
def before_end_of_life(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return check_each(context, lambda sample_id: _before_end(warehouse, sample_id))


def _before_end(warehouse: WarehouseResource, sample_id: str) -> dg.AssetCheckResult:
    soh = read_sample_table(warehouse, "cycling_soh", sample_id)
    return alert_result(rules.end_of_life(soh), checkups=soh.num_rows)


def _accepted_check(technique: str, asset: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=asset, name="raw_files_accepted", partitions_def=partitions_for(technique),
                    description=f"Every raw {technique} file of the sample was read: a refused file (an "
                                "ingest_issues error) alerts once per file content.")
    def raw_files_accepted(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        return check_each(context, lambda sample_id: accepted(warehouse, sample_id))

    def accepted(warehouse: WarehouseResource, sample_id: str) -> dg.AssetCheckResult:
        issues = warehouse.lake.read("ingest_issues", {"technique": technique, "sample_id": sample_id})
        issues = issues if issues is not None else empty_table("ingest_issues")
        return alert_result(rules.refused_files(issues), issues=issues.num_rows)

    return raw_files_accepted


@dg.asset_check(asset="raw_folder_layout", name="raw_files_accepted",
                description="Nothing outside the sample folders (surveys, registry, the raw/ layout) was refused: "
                            "a refused file alerts once per file content.")
def files_outside_samples_accepted(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    lake = warehouse.lake
    parts = [lake.read("ingest_issues", p) for p in lake.partitions("ingest_issues")
             if p.get("technique") not in TECHNIQUES or p.get("sample_id") in (None, NO_SAMPLE)]
    parts = [p for p in parts if p is not None]
    issues = pa.concat_tables(parts) if parts else empty_table("ingest_issues")
    issues = issues.set_column(issues.schema.get_field_index("sample_id"), "sample_id",  # no sample: NULL
                               pa.nulls(issues.num_rows, pa.string()))
    return alert_result(rules.refused_files(issues), issues=issues.num_rows)


def build_alert_sensor(check_keys: list[dg.AssetCheckKey]) -> dg.SensorDefinition:
    """The sensor over the failed evaluations of ``check_keys`` (those without ``alerts`` metadata are ignored)."""

    @dg.sensor(name="alert_sensor", minimum_interval_seconds=30,
               description="Reads new failed asset check evaluations; each event an alert check lists is recorded "
                           "once in the alerts table and posted to the configured webhooks.")
    def alert_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource, alerting: AlertResource):
        last_seen = json.loads(context.cursor) if context.cursor else {}
        storage = context.instance.event_log_storage
        rows, read = [], 0
        for key in check_keys:
            name = key.to_user_string()
            records = _failures_after(storage, key, last_seen.get(name, 0))
            read += len(records)
            if records:
                last_seen[name] = records[-1].id
            rows += [row for record in records for row in _alert_rows(record, alerting)]
        if not read:
            return dg.SkipReason("no new failed asset check evaluation")
        sent = record_and_send(warehouse, alerting, rows, log=context.log)
        context.log.info(f"{read} failed check evaluation(s) read, {len(rows)} event(s) listed, "
                         f"{len(sent)} new alert(s)")
        return dg.SensorResult(cursor=json.dumps(last_seen, sort_keys=True))

    return alert_sensor


def _failures_after(storage, key: dg.AssetCheckKey, after_id: int) -> list:
    """Failed executions of the check with an id above ``after_id``, oldest first."""
    found, cursor = [], None
    while True:
        page = storage.get_asset_check_execution_history(key, limit=EVALUATIONS_PER_PAGE, cursor=cursor,
                                                         status={AssetCheckExecutionRecordStatus.FAILED})
        fresh = [r for r in page if r.id > after_id]
        found += fresh
        if len(fresh) < EVALUATIONS_PER_PAGE:
            return found[::-1]
        cursor = page[-1].id


def _alert_rows(record, alerting: AlertResource) -> list[dict]:
    """The alert rows of one failed check execution (none when its evaluation lists no events)."""
    evaluation = record.evaluation
    listed = evaluation.metadata.get(ALERTS_METADATA) if evaluation is not None else None
    if listed is None:
        return []
    asset_key = evaluation.asset_key.to_user_string()
    checked = datetime.fromtimestamp(record.event.timestamp, timezone.utc)
    rows = []
    for data in listed.value:
        alert = rules.Alert.from_json(data)
        rows.append({"checked_utc_time": checked, "sample_id": alert.sample_id, "rule": alert.rule,
                     "message": alert.message, "values_json": json.dumps(alert.values, sort_keys=True, default=str),
                     "asset_key": asset_key, "check_name": evaluation.check_name, "partition_key": record.partition,
                     "run_id": record.run_id, "link": alerting.link(asset_key, record.partition),
                     "event_key": alert.event_key})
    return rows


def record_and_send(warehouse: WarehouseResource, alerting: AlertResource, rows: list[dict], log) -> list[dict]:
    """Append the rows whose event is not in the ``alerts`` table yet, posting each to every webhook."""
    declared = schemas.TABLES["alerts"]
    existing = warehouse.lake.read("alerts")
    existing = declared.conform(existing) if existing is not None else declared.arrow_schema().empty_table()
    seen = set(existing.column("event_key").to_pylist())
    fresh = []
    for row in rows:
        if row["event_key"] in seen:
            continue
        seen.add(row["event_key"])
        row = {"alert_utc_time": datetime.now(timezone.utc), **row}
        row["delivery"] = "; ".join(deliver(hook, row, alerting.timeout_second) for hook in alerting.targets())
        report = log.warning if "error" in row["delivery"] else log.info
        report(f"alert {row['event_key']}: {row['delivery'] or 'no webhook'}")
        fresh.append(row)
    if fresh:
        table = pa.Table.from_pylist(fresh, schema=declared.arrow_schema())
        warehouse.lake.write("alerts", pa.concat_tables([existing, table]))
        warehouse.publish_catalog()
    return fresh


ASSETS = []
CHECKS = [diffractograms_unchanged, before_end_of_life, files_outside_samples_accepted,
          *[_accepted_check(technique, asset) for technique, asset in INGEST_ASSETS.items()]]
