"""The alerts raised while experiments run: one row per event, sent once to the configured webhooks."""

import pyarrow as pa

from . import Column, Table, register, utc_timestamp

ALERTS = register(Table(
    name="alerts",
    description="Every alert raised from a failed alert check (significant D2B change, end of life, a cell leaving "
                "its series, an XAS scan outside the electrochemistry, a raw file refused), one row per event.",
    columns=(
        Column("alert_utc_time", utc_timestamp(), "UTC", "when the alert was recorded and sent", nullable=False),
        Column("checked_utc_time", utc_timestamp(), "UTC", "when the asset check that found the event ran"),
        Column("sample_id", pa.string(), "", "cell ID (null for a file outside every sample folder)"),
        Column("rule", pa.string(), "", "diffractogram_changed, end_of_life, left_series_trajectory, "
                                        "xas_outside_electrochemistry or raw_file_refused", nullable=False),
        Column("message", pa.string(), "", "the alert in one sentence", nullable=False),
        Column("values_json", pa.string(), "", "the numbers behind the alert, as a JSON object"),
        Column("asset_key", pa.string(), "", "asset the check ran on", nullable=False),
        Column("check_name", pa.string(), "", "asset check that found the event"),
        Column("partition_key", pa.string(), "", "partition of the check's run (null: unpartitioned)"),
        Column("run_id", pa.string(), "", "Dagster run of the check"),
        Column("link", pa.string(), "", "the asset in the Dagster UI"),
        Column("event_key", pa.string(), "", "identity of the event: an event alerts once", nullable=False),
        Column("delivery", pa.string(), "", "per webhook: '<kind> <HTTP status>' or '<kind> error: <reason>'; "
                                            "empty when no webhook is configured"),
    ),
    notes={"deduplication": "an alert whose event_key is already in the table is not recorded or sent again"},
))
