"""deploy/dagster.yaml against a real PostgreSQL server: runs, event log, sensor and schedule state."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.resources import WarehouseResource

from .conftest import copy_cells

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CELLS = ["LNO-REF-A-01", "LNO-LTD-B-01"]

pytestmark = pytest.mark.ops


def test_local_yaml_queues_runs_per_technique_and_retries(tmp_path):
    shutil.copy(DEPLOY / "dagster-local.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.get_run_queue_config().max_concurrent_runs == 2
        limits = {(l["key"], l.get("value")): l["limit"] for l in coordinator.get_run_queue_config().tag_concurrency_limits}
        assert limits[("bigmap/technique", "d2b")] == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1


def test_postgres_instance_records_runs_sensor_and_schedule(postgres_server, example_data, tmp_path, monkeypatch):
    for name, value in postgres_server.env.items():
        monkeypatch.setenv(name, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    data_dir = copy_cells(example_data, tmp_path / "data", CELLS)
    defs = build_defs(str(data_dir))
    warehouse = WarehouseResource(data_dir=str(data_dir), settle_seconds=0)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2

        # the sensor finds both cells; the daemon would add them, as we do here
        sensor = defs.resolve_sensor_def("raw_file_sensor")
        tick = sensor(dg.build_sensor_context(instance=instance, resources={"warehouse": warehouse}))
        keys = sorted(str(r.partition_key) for r in tick.run_requests if r.partition_key)
        assert keys == sorted(f"{c}|cycling" for c in CELLS)
        instance.add_dynamic_partitions("cycling_samples", tick.dynamic_partitions_requests[0].partition_keys)
        assert sorted(instance.get_dynamic_partitions("cycling_samples")) == sorted(CELLS)

        job = defs.resolve_job_def("cycling_job")
        for key in keys:
            assert job.execute_in_process(partition_key=key, instance=instance,
                                          tags={"bigmap/technique": "cycling"}).success
        materialized = instance.get_materialized_partitions(dg.AssetKey("cycling_soh"))
        assert sorted(str(k) for k in materialized) == keys

        # the next tick sees nothing new; the nightly schedule asks for one run over every known partition
        again = sensor(dg.build_sensor_context(instance=instance, cursor=tick.cursor, resources={"warehouse": warehouse}))
        assert again.run_requests == []
        schedule = defs.resolve_schedule_def("nightly_cycling")
        night = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)
        requests = schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=night,
                                                      resources={"warehouse": warehouse}))
        (request,) = requests
        assert request.run_key == "nightly-2026-11-26-cycling" and request.partition_key is None
        order = instance.get_dynamic_partitions("cycling_samples")
        assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"]) \
            == (f"{order[0]}|cycling", f"{order[-1]}|cycling")

    rows = subprocess.run(
        ["psql", "-h", postgres_server.host, "-p", str(postgres_server.port), "-U", postgres_server.user,
         "-d", postgres_server.db_name, "-At", "-c",
         "SELECT status, count(*) FROM runs GROUP BY status; SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"],
        check=True, capture_output=True, text=True).stdout.split()
    assert rows == ["SUCCESS|2", "8"]  # 2 runs x 4 partitioned cycling assets (series, cycles, SoH, archive bundle)
