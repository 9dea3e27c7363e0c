"""The Dagster code location: every asset, check, job, sensor and schedule of the project.

``dagster dev`` loads ``defs`` from here (see ``[tool.dagster]`` in pyproject.toml); the data
folder is ``$BIGMAP_DATA_DIR`` or the example data in ``data/``. Loading it sets the process's
glibc allocator to keep freed memory for reuse (``allocator.keep_freed_memory``), as the
``bigmap`` command does; importing ``bigmap_assets`` alone changes nothing.
"""

from __future__ import annotations

import warnings

import dagster as dg

from .allocator import keep_freed_memory
from .defs.jobs import build_jobs
from .modules import import_if_present
from .defs.resources import WarehouseResource
from .ingest import default_data_dir
from .defs.schedules import build_nightly_schedules
from .defs.sensors import build_after_partition_sensor, build_raw_file_sensor

# The process that loads the code location runs our assets: numpy temporaries reuse freed memory (allocator.py).
keep_freed_memory()

# Partitioned asset checks (preview) and MultiPartitionMapping (beta) are used on purpose; the
# tests pin the behaviour we rely on, so their notices are not repeated at every import.
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

# Each module defines ASSETS and CHECKS; a technique that is not built yet is simply absent.
TECHNIQUE_MODULES = ("cycling", "d2b", "xas", "registry", "survey", "overview", "freshness", "accounting")


def _collect() -> tuple[list, list]:
    assets, checks = [], []
    for name in TECHNIQUE_MODULES:
        module = import_if_present(f"{__package__}.defs.{name}")
        if module is None:
            continue
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
        sensors=[build_raw_file_sensor(jobs), build_after_partition_sensor(jobs)],
        schedules=build_nightly_schedules(jobs),
        resources={"warehouse": WarehouseResource(data_dir=data_dir or default_data_dir())},
        executor=dg.in_process_executor,
    )


defs = build_defs()
