"""Shared fixtures: ``realdata`` points at ../shared/realdata or skips with a reason."""

from __future__ import annotations

import gc
import os
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


@pytest.fixture(scope="session", autouse=True)
def _imports_outside_the_collector():
    """The project and Dagster imported once per worker, their objects frozen out of the garbage
    collector's reach (``gc.freeze``), so that the collection after each test stays quick."""
    import bigmap_assets.definitions  # noqa: F401 - imports Dagster and every module of the project

    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def _no_dagster_instance_left_current():
    """Each test ends with no Dagster instance current, as a fresh process starts.

    Entering a ``DagsterInstance`` makes its definitions-state storage current (a context
    variable, reset when the instance is exited). A context of Dagster's that enters an instance
    and is not exited (a sensor or schedule context built without ``with``, say) resets it when it
    is garbage-collected: at some moment of a later test, when the reset makes a dead instance's
    storage current again, and loading definitions then fails on it. Collected here, at the end
    of the test that made them.
    """
    yield
    from dagster._core.storage.defs_state.base import _current_storage

    gc.collect()
    _current_storage.set(None)
