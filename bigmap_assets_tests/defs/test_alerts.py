"""Alerts end to end: an operando D2B series grows by one measurement whose diffractogram changed
significantly; the raw-file sensor asks for the sample's run, the run's check fails, and the alert
sensor posts exactly one alert to each webhook of a local HTTP server, and never again for that event."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest

from bigmap_assets.alerts.webhooks import ENV_VAR
from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.alerts import AlertResource
from bigmap_assets.defs.partitions import partition_key
from bigmap_assets.defs.resources import WarehouseResource
from bigmap_assets.simulate import d2b as simulate_d2b
from bigmap_assets.simulate import registry as simulate_registry
from bigmap_assets.warehouse.lake import Lake

SAMPLE = simulate_d2b.SAMPLE_ID
SECOND_MEASUREMENT = range(simulate_d2b.FIRST_RUN_NUMBER + simulate_d2b.NUMORS_PER_MEASUREMENT,
                           simulate_d2b.FIRST_RUN_NUMBER + 2 * simulate_d2b.NUMORS_PER_MEASUREMENT)


@pytest.fixture()
def webhook_server():
    """A local HTTP server that records every POST (path, JSON body) and answers 200."""
    received: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", received
    finally:
        server.shutdown()
        server.server_close()


def age(root):
    then = time.time() - 60
    for path in root.rglob("*"):
        os.utime(path, (then, then))


def test_a_significant_new_diffractogram_alerts_once_at_each_webhook(tmp_path, webhook_server, monkeypatch):
    url, received = webhook_server
    monkeypatch.setenv(ENV_VAR, f"json={url}/json slack={url}/slack teams={url}/teams")
    data_dir = tmp_path / "data"
    simulate_registry.generate(data_dir)
    simulate_d2b.generate(data_dir, steps_per_numor=1, measurements=2)
    folder, later = data_dir / "raw" / "d2b" / SAMPLE, tmp_path / "not_yet_measured"
    later.mkdir()
    for run in SECOND_MEASUREMENT:
        shutil.move(folder / f"{run}.nxs", later / f"{run}.nxs")
    age(data_dir)

    defs = build_defs(str(data_dir))
    resources = {"warehouse": WarehouseResource(data_dir=str(data_dir), settle_seconds=0),
                 "alerting": AlertResource(ui_url="http://dagster.example:3000")}
    raw_sensor, alert_sensor = defs.resolve_sensor_def("raw_file_sensor"), defs.resolve_sensor_def("alert_sensor")
    d2b_job = defs.resolve_job_def("d2b_job")
    with dg.instance_for_test() as instance:
        def tick(sensor, cursor):
            return sensor(dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources))

        def tick_alerts(cursor):
            result = tick(alert_sensor, cursor)
            return cursor if isinstance(result, dg.SkipReason) else result.cursor

        def run_d2b():
            result = d2b_job.execute_in_process(partition_key=partition_key(SAMPLE, "d2b"), instance=instance)
            return {e.check_name: e.passed for e in result.get_asset_check_evaluations()
                    if e.asset_key.to_user_string() == "d2b_comparisons"}

        files = tick(raw_sensor, None)
        instance.add_dynamic_partitions("d2b_samples", [SAMPLE])
        assert run_d2b()["diffractograms_unchanged"] is True  # one measurement: nothing to compare
        cursor = tick_alerts(None)
        assert received == [] and Lake(data_dir / "warehouse" / "lake").read("alerts") is None

        for run in SECOND_MEASUREMENT:  # the next measurement's numors arrive
            shutil.move(later / f"{run}.nxs", folder / f"{run}.nxs")
        age(data_dir)
        grown = tick(raw_sensor, files.cursor)
        assert [str(r.partition_key) for r in grown.run_requests] == [f"{SAMPLE}|d2b"]
        assert run_d2b()["diffractograms_unchanged"] is False
        cursor = tick_alerts(cursor)
        assert sorted(path for path, _ in received) == ["/json", "/slack", "/teams"]

        assert run_d2b()["diffractograms_unchanged"] is False  # rerun: the same event is found again
        assert tick_alerts(cursor) != cursor  # the new failed evaluation is read...
        assert len(received) == 3  # ... and not alerted again

    bodies = dict(received)
    alert = bodies["/json"]
    assert alert["rule"] == "diffractogram_changed" and alert["sample_id"] == SAMPLE
    assert alert["event_key"] == f"diffractogram_changed|{SAMPLE}|612001>612011"
    assert alert["values"]["previous_measurement_id"] == "612001-612010"
    assert alert["values"]["measurement_id"] == "612011-612020"
    assert alert["values"]["reduced_chi_square"] > alert["values"]["threshold"]
    assert alert["check_name"] == "diffractograms_unchanged" and alert["asset_key"] == "d2b_comparisons"
    assert alert["link"] == "http://dagster.example:3000/assets/d2b_comparisons?partition=LNO-OPD2B-01%7Cd2b"
    assert bodies["/slack"]["text"].startswith(f"bigmap alert: diffractogram changed ({SAMPLE})")
    card = bodies["/teams"]["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["actions"][0]["url"] == alert["link"]

    table = Lake(data_dir / "warehouse" / "lake").read("alerts")
    assert table.num_rows == 1
    row = table.to_pylist()[0]
    assert row["delivery"] == "json 200; slack 200; teams 200"
    assert row["partition_key"] == f"{SAMPLE}|d2b"
