"""The event log ``bigmap materialize`` writes: Dagster's SQLite files, written without a flush per event."""

import shutil

import dagster as dg

from bigmap_assets.defs.event_log import PooledSqliteEventLogStorage, bulk_instance
from bigmap_assets.defs.materialize import ensure_dagster_home

PARTITIONS = dg.StaticPartitionsDefinition(["a", "b", "c"])


@dg.asset(partitions_def=PARTITIONS, backfill_policy=dg.BackfillPolicy.single_run())
def letters(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    context.log.info(f"{len(context.partition_keys)} partitions")
    return dg.MaterializeResult()


def test_the_instance_bigmap_creates_records_runs_that_dagsters_own_storage_reads(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = ensure_dagster_home(tmp_path)
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"  # the UI uses Dagster's storage
    with bulk_instance(home) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = dg.materialize([letters], instance=instance, tags={"dagster/asset_partition_range_start": "a",
                                                                    "dagster/asset_partition_range_end": "c"})
        assert result.success
        run_id = result.run_id
        # the run's database is released when the run ends: everything is in its .db file
        assert not (home / "history" / "runs" / f"{run_id}.db-wal").exists()
        events = [e.dagster_event_type for e in instance.all_logs(run_id)]
    copy = tmp_path / "moved"  # a data folder moved elsewhere keeps its history
    shutil.copytree(home, copy)
    with dg.DagsterInstance.from_config(str(copy)) as plain:
        assert type(plain.event_log_storage).__name__ == "SqliteEventLogStorage"
        assert [e.dagster_event_type for e in plain.all_logs(run_id)] == events
        assert sorted(plain.get_materialized_partitions(dg.AssetKey("letters"))) == ["a", "b", "c"]
        assert events.count(dg.DagsterEventType.ASSET_MATERIALIZATION) == 3
