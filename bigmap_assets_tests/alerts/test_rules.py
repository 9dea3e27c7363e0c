"""Alert rules on warehouse tables, webhook payloads and targets (no Dagster)."""

from __future__ import annotations

import datetime as dt
import json
import socket

import pyarrow as pa
import pytest

from bigmap_assets import schemas
from bigmap_assets.alerts import payloads, rules
from bigmap_assets.alerts.webhooks import Webhook, deliver, parse_webhooks
from bigmap_assets.science.soh import trajectory_outliers


def table(name: str, rows: list[dict]) -> pa.Table:
    declared = schemas.TABLES[name]
    return declared.conform(pa.Table.from_pylist(rows, schema=pa.schema(
        [f for f in declared.arrow_schema() if f.name in rows[0]])))


def test_end_of_life_alerts_once_per_cell_at_its_first_end_of_life_checkup():
    soh = [(0, 0, 1.0), (1, 100, 0.9), (2, 200, 0.79), (3, 300, 0.7)]
    rows = [{"sample_id": "C1", "checkup_index": i, "cycle_count": c, "soh": s, "end_of_life": i == 2,
             "eol_reached": True} for i, c, s in soh]
    [alert] = rules.end_of_life(table("cycling_soh", rows))
    assert alert.event_key == "end_of_life|C1"
    assert alert.values == {"checkup_index": 2, "cycle_count": 200, "soh": 0.79}
    assert alert.message == "C1: end of life reached at cycle 200 (SoH 79.0 % at check-up 2)"
    assert rules.end_of_life(table("cycling_soh", rows[:2])) == []


def test_a_cell_leaving_its_series_alerts_once_from_the_outlier_scores():
    rows = [{"sample_id": f"C{n}", "series": "LiTDI", "checkup_index": i, "cycle_count": 100 * i,
             "soh": 1.0 - 0.05 * i * (4 if n == 4 and i >= 2 else 1) - 0.001 * n}
            for n in range(5) for i in range(4)]
    alerts = rules.trajectory_departures(trajectory_outliers(table("cycling_soh", rows)))
    assert [(a.sample_id, a.values["checkup_index"]) for a in alerts] == [("C4", 2)]  # first departing check-up
    assert alerts[0].values["robust_z"] < -3.5


def test_xas_scans_outside_or_in_a_gap_alert_once_each():
    when = dt.datetime(2024, 5, 14, 12, tzinfo=dt.timezone.utc)
    rows = [{"sample_id": "X1", "source_scan": f"f.dat#{s}", "alignment": s, "scan_utc_time": when,
             "time_offset_second": 7200.0 if s == "outside" else None} for s in ("ok", "gap", "outside", "no_time")]
    alerts = rules.scans_outside(table("xas_echem", rows))
    assert [a.event_key for a in alerts] == ["xas_outside_electrochemistry|X1|f.dat#gap",
                                             "xas_outside_electrochemistry|X1|f.dat#outside"]
    assert alerts[1].message.endswith("is outside the electrochemistry (7200 s from the nearest point)")
    assert alerts[1].values["scan_utc_time"] == "2024-05-14T12:00:00+00:00"


def test_a_refused_file_alerts_once_per_content_however_many_rows_failed():
    rows = [{"path": "raw/cycling/C1/a.mpt", "technique": "cycling", "sample_id": "C1", "location": f"line {n}",
             "severity": "error", "reason": "not a number", "sha256": "ab"} for n in (10, 11, 12)]
    rows += [{"path": "raw/cycling/C1/b.mpt", "technique": "cycling", "sample_id": "C1", "location": None,
              "severity": "warning", "reason": "read as UTC", "sha256": "cd"}]
    [alert] = rules.refused_files(table("ingest_issues", rows))
    assert alert.event_key == "raw_file_refused|raw/cycling/C1/a.mpt|ab"
    assert alert.values["errors"] == 3 and alert.values["first_location"] == "line 10"
    assert alert.message == "raw/cycling/C1/a.mpt: not a number (3 errors)"


RECORD = {"rule": "raw_file_refused", "sample_id": "C1", "message": "raw/x <bad> & worse", "asset_key": "xas_scans",
          "values_json": json.dumps({"errors": 2, "path": "raw/x"}),
          "link": "http://ui/assets/xas_scans?partition=C1%7Cxas",
          "event_key": "k", "alert_utc_time": dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), "delivery": None}


def test_payloads_for_json_slack_and_teams():
    body = payloads.generic(RECORD)
    assert body["values"] == {"errors": 2, "path": "raw/x"} and body["alert_utc_time"] == "2026-01-02T00:00:00+00:00"
    assert "values_json" not in body and "delivery" not in body
    slack = payloads.slack(RECORD)
    section = slack["blocks"][0]["text"]["text"]
    assert "raw/x &lt;bad&gt; &amp; worse" in section
    assert section.endswith("<http://ui/assets/xas_scans?partition=C1%7Cxas|Open xas_scans in Dagster>")
    assert {e["text"] for e in slack["blocks"][1]["elements"]} == {"sample: C1", "asset: xas_scans", "errors: 2",
                                                                   "path: raw/x"}
    card = payloads.teams(RECORD)["attachments"][0]["content"]
    assert card["body"][0]["text"] == "bigmap alert: raw file refused (C1)"
    assert {"title": "errors", "value": "2"} in card["body"][2]["facts"]


def test_webhook_targets_are_parsed_and_bad_ones_named():
    assert parse_webhooks("slack=https://hooks.slack.com/a  http://x/y?z=1\nteams=https://t/w") == [
        Webhook("slack", "https://hooks.slack.com/a"), Webhook("json", "http://x/y?z=1"),
        Webhook("teams", "https://t/w")]
    with pytest.raises(ValueError, match="unknown kind 'mail'"):
        parse_webhooks("mail=https://x")
    with pytest.raises(ValueError, match="not an http"):
        parse_webhooks("json=ftp://x")


def test_an_unreachable_webhook_is_reported_not_raised():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    assert deliver(Webhook("json", f"http://127.0.0.1:{port}/"), RECORD, timeout_second=2).startswith("json error:")
