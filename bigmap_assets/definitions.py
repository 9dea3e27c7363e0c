"""The Dagster code location: every asset, check, job, sensor and schedule of the project.

``dagster dev`` loads ``defs`` from here (see ``[tool.dagster]`` in pyproject.toml); the data
folder is ``$BIGMAP_DATA_DIR`` or the example data in ``data/``; the lake is in it, or at
``$BIGMAP_LAKE`` (``s3://bucket/prefix``, see ``warehouse/storage.py``). Loading it sets the process's
glibc allocator to keep freed memory for reuse (``allocator.keep_freed_memory``), as the
``bigmap`` command does; importing ``bigmap_assets`` alone changes nothing.
"""

from __future__ import annotations

import os

import dagster as dg

from .ingest.allocator import keep_freed_memory
from .defs import (accounting, alerts, archive, cycling, d2b, freshness, overview, registry, report, survey,
                   xas)
from .defs.alerts import AlertResource, build_alert_sensor
from .defs.jobs import build_jobs
from .defs.resources import WarehouseResource
from .defs.schedules import build_nightly_schedules
from .defs.sensors import build_after_partition_sensor, build_raw_file_sensor
from .warehouse.storage import LAKE_ENV, default_data_dir

# The process that loads the code location runs our assets: numpy temporaries reuse freed memory (ingest/allocator.py).
keep_freed_memory()

# Each module defines ASSETS and CHECKS.
ASSET_MODULES = (cycling, d2b, xas, registry, survey, overview, freshness, accounting, archive, alerts, report)


def _collect() -> tuple[list, list]:
    assets, checks = [], []
    for module in ASSET_MODULES:
        assets += module.ASSETS
        checks += module.CHECKS
    return assets, checks


def build_defs(data_dir: str | None = None) -> dg.Definitions:
    assets, checks = _collect()
    jobs = build_jobs(assets)
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=list(jobs.values()),
        sensors=[build_raw_file_sensor(jobs), build_after_partition_sensor(jobs),
                 build_alert_sensor([key for c in checks for key in c.check_keys])],
        schedules=build_nightly_schedules(jobs),
        resources={"warehouse": WarehouseResource(data_dir=data_dir or default_data_dir(),
                                                  lake_location=os.environ.get(LAKE_ENV, "")),
                   "alerting": AlertResource()},
        executor=dg.in_process_executor,
    )


defs = build_defs()
