"""Dagster's SQLite event log, written without a disk flush per event.

Dagster's ``SqliteEventLogStorage`` opens a new SQLite connection for every write and closes it
afterwards: each event costs a commit that flushes the write-ahead log to disk and, on the close,
a checkpoint that flushes the database too. A run over 1,000 partitions records about 15 events per
partition (planned and done materialisations, check evaluations), and on a shared disk those
flushes were most of ``bigmap materialize`` (about 30 ms per event, see ``benchmarks/fleet.py``).
Its ``store_event_batch`` (``DAGSTER_EVENT_BATCH_SIZE``) stores the events of a batch one by one
the same way, so batching does not help on SQLite.

``PooledSqliteEventLogStorage`` is the same storage (same files, same schema: ``dagster dev``, the
webserver and a plain ``SqliteEventLogStorage`` read them) that keeps one connection per database
open and commits with ``PRAGMA synchronous=NORMAL``. Under SQLite's write-ahead log that stays
consistent after any crash; a power cut may lose the last commits, not the database. A run's
database is released (checkpointed into its ``.db`` file, which the webserver watches) when the run
ends. Only ``bigmap materialize`` writes with it (``bulk_instance``): the ``dagster.yaml`` stays
Dagster's default, so the UI, the daemon and the runs they launch use Dagster's own storage and
see every event as it is written (a run of ``bigmap materialize`` shows in the UI's live view
when it ends), and the instance keeps no absolute path if the data folder moves.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import sqlalchemy as db
import yaml
from dagster._core.events import EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.dagster_run import FINISHED_STATUSES
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS

MODULE = __name__
CLASS = "PooledSqliteEventLogStorage"
OPEN_RUN_DATABASES = 4  # run databases kept open at a time (a run writes to its own and to the index)


def bulk_instance(home: Path) -> dg.DagsterInstance:
    """The instance in ``home``, its events written by ``PooledSqliteEventLogStorage`` into Dagster's own
    place (``history/runs``) when its ``dagster.yaml`` leaves the storage to Dagster's SQLite default;
    as configured otherwise (PostgreSQL, say)."""
    config = yaml.safe_load((home / "dagster.yaml").read_text()) or {}
    overrides = None
    if not {"storage", "run_storage", "event_log_storage"} & set(config):
        overrides = {"event_log_storage": {"module": MODULE, "class": CLASS,
                                           "config": {"base_dir": str(home.resolve() / "history" / "runs")}}}
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=overrides))


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """``SqliteEventLogStorage`` with one open connection per database and no disk flush per commit."""

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    @property
    def _engines(self) -> dict[str, db.engine.Engine]:
        return self.__dict__.setdefault("_open_engines", {})

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.engine.Connection]:
        with self._db_lock:
            engine = self._engines.get(shard) or self._open(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def _open(self, shard: str) -> db.engine.Engine:
        runs = [s for s in self._engines if s != INDEX_SHARD_NAME]
        for old in runs[:max(0, len(runs) - OPEN_RUN_DATABASES + 1)]:
            self._release(old)
        engine = create_engine(self.conn_string_for_shard(shard), pool_size=1, max_overflow=2,
                               connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})
        db.event.listen(engine, "connect", lambda connection, _: connection.execute("PRAGMA synchronous=NORMAL"))
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        return engine

    def _release(self, shard: str) -> None:
        engine = self._engines.pop(shard, None)
        if engine is not None:
            engine.dispose()  # the last connection's close checkpoints the log into the .db file

    def store_event(self, event) -> None:
        super().store_event(event)
        status = EVENT_TYPE_TO_PIPELINE_RUN_STATUS.get(event.dagster_event_type) if event.is_dagster_event else None
        if status in FINISHED_STATUSES:
            with self._db_lock:
                self._release(event.run_id)

    def delete_events(self, run_id: str) -> None:
        super().delete_events(run_id)
        with self._db_lock:
            self._release(run_id)

    def wipe(self) -> None:
        with self._db_lock:
            for shard in list(self._engines):
                self._release(shard)
        super().wipe()

    def dispose(self) -> None:
        with self._db_lock:
            for shard in list(self._engines):
                self._release(shard)
        super().dispose()
