"""Shared fixtures: ``realdata`` points at ../shared/realdata or skips with a reason."""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("BIGMAP_REALDATA", REPO.parent / "shared" / "realdata"))


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The folder of real public files (see its SOURCES.md); skips when absent."""
    if not REALDATA.is_dir():
        pytest.skip(f"real data folder {REALDATA} is absent (set BIGMAP_REALDATA to point at it)")
    return REALDATA


@pytest.fixture(autouse=True)
def _no_dagster_instance_left_current():
    """Each test ends with no Dagster instance current, as a fresh process starts.

    Entering a ``DagsterInstance`` makes its definitions-state storage current (a context
    variable, reset when the instance is exited). A sensor or schedule context built without
    ``with`` enters the instance and is exited only when garbage-collected: at some moment of a
    later test, when the reset makes a dead instance's storage current again, and loading
    definitions then fails on it. Collected here, at the end of the test that made them.
    """
    yield
    if "dagster" in sys.modules:
        from dagster._core.storage.defs_state.base import _current_storage

        gc.collect()
        _current_storage.set(None)
