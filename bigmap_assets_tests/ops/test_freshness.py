"""Freshness checks: a sample's tables pass after its run and are stale once a raw file has new content."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest

import bigmap_assets.definitions as definitions
from bigmap_assets.defs import freshness

from .conftest import copy_cells

CELL = "LNO-REF-A-01"


@pytest.fixture()
def defs_with_freshness():
    assert freshness in definitions.ASSET_MODULES
    return definitions.build_defs


def test_one_check_per_sample_table_of_each_technique():
    keys = sorted(str(key.asset_key.to_user_string()) for check in freshness.CHECKS for key in check.check_keys)
    assert {"cycling_timeseries", "cycling_cycles", "cycling_soh"} <= set(keys)
    assert all(key.name == "newer_than_raw_files" for check in freshness.CHECKS for key in check.check_keys)
    assert freshness.technique_tables("cycling")[:2] == ["raw_files", "cycling_timeseries"]


def test_checks_pass_after_the_run_and_fail_when_a_raw_file_is_newer(example_data, tmp_path, defs_with_freshness):
    data_dir = copy_cells(example_data, tmp_path, [CELL])
    assert {s.table for s in freshness.stale_tables(data_dir)} == set(freshness.technique_tables("cycling"))

    job = defs_with_freshness(str(data_dir)).resolve_job_def("cycling_job")
    key = f"{CELL}|cycling"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("cycling_samples", [CELL])
        run = job.execute_in_process(partition_key=key, instance=instance)
        fresh = {e.asset_key.to_user_string(): e.passed for e in run.get_asset_check_evaluations()
                 if e.check_name == "newer_than_raw_files"}
        assert fresh == {"cycling_timeseries": True, "cycling_cycles": True, "cycling_soh": True}
        assert freshness.stale_tables(data_dir) == []

        newer = data_dir / "raw" / "cycling" / CELL / f"{CELL}_C01.mpt"
        touched_only = time.time() + 30
        os.utime(newer, (touched_only, touched_only))
        assert freshness.stale_tables(data_dir) == []  # a touch without new content is no news
        newer.write_bytes(newer.read_bytes() + b"\n")
        later = time.time() + 60
        os.utime(newer, (later, later))
        # the check's verdict (the same function the check calls) turns to stale ...
        stale_now = {s.table for s in freshness.stale_tables(data_dir)}
        assert stale_now == set(freshness.technique_tables("cycling"))
        # ... and a run of the partition, assets then checks, makes every table fresh again
        rerun = job.execute_in_process(partition_key=key, instance=instance)
        evaluations = [e for e in rerun.get_asset_check_evaluations() if e.check_name == "newer_than_raw_files"]
        assert len(evaluations) == 3 and all(e.passed for e in evaluations)
        assert freshness.stale_tables(data_dir) == []
        newer.write_bytes(newer.read_bytes() + b"\n")
        os.utime(newer, (later + 1, later + 1))

    stale = freshness.stale_tables(data_dir)
    assert {(s.sample_id, s.table) for s in stale} == {(CELL, t) for t in freshness.technique_tables("cycling")}
    assert all(s.newest_raw_mtime_second == pytest.approx(later + 1) for s in stale)


def test_a_sample_without_raw_files_is_never_stale(tmp_path):
    state = freshness.freshness_of(tmp_path, "cycling", "LNO-REF-A-02", "cycling_timeseries")
    assert state.newest_raw_file is None and state.table_mtime_second is None and not state.stale
