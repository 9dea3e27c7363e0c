"""Scale-out: the unchanged assets run on a real Dask cluster through dagster-dask's executor."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from bigmap_assets.definitions import build_defs
from bigmap_assets.defs.jobs import reconstructable_job_on_executor

from .conftest import copy_cells, write_instance_yaml
from .test_concurrency import FILES_MTIME_SECOND, lake_bytes

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
pytest.importorskip("dagster_dask", reason="dagster-dask is not installed")

CELLS = ["LNO-REF-A-01", "LNO-LTD-B-01"]

pytestmark = pytest.mark.ops


def test_assets_run_unchanged_on_a_dask_cluster(example_data, tmp_path, pinned_code_version):
    keys = [f"{cell}|cycling" for cell in CELLS]

    local_dir = copy_cells(example_data, tmp_path / "in-process", CELLS, FILES_MTIME_SECOND)
    job = build_defs(str(local_dir)).resolve_job_def("cycling_job")
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("cycling_samples", CELLS)
        assert all(job.execute_in_process(partition_key=k, instance=instance).success for k in keys)

    dask_dir = copy_cells(example_data, tmp_path / "dask", CELLS, FILES_MTIME_SECOND)
    on_dask = reconstructable_job_on_executor(str(dask_dir), "cycling_job", "dask")  # what a facility deploys
    home = write_instance_yaml(tmp_path / "dagster_home")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("cycling_samples", CELLS)
        run_config = {"execution": {"config": {"cluster": {"existing": {"address": cluster.scheduler_address}}}}}
        step_pids = set()
        for key in keys:
            with dg.execute_job(on_dask, instance, run_config=run_config,
                                tags={"dagster/partition": key, "bigmap/technique": "cycling"}) as result:
                assert result.success
                step_pids |= {e.pid for e in result.all_events if e.event_type_value == "STEP_START"}
        with distributed.Client(cluster.scheduler_address) as client:
            worker_pids = set(client.run(os.getpid).values())

    assert step_pids and step_pids <= worker_pids  # every step ran in a Dask worker process
    assert lake_bytes(dask_dir) == lake_bytes(local_dir)
