"""Small synthetic D2B numors written in the real NeXus layout for the tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from bigmap_assets.readers import read
from bigmap_assets.simulate.d2b import write_numor

# numor 508093 (Mantid's test file): 25 steps of 0.05 degree, last tube from 147.496 degree, 16 Apr 2015
MANTID_508093_ANGLES = 147.496 + 0.05 * np.arange(25)
MANTID_508093_START = dt.datetime(2015, 4, 16, 16, 25, 31)


def write_counts_numor(path: Path, counts: np.ndarray, angles: np.ndarray, *, run_number: int = 508093,
                       monitor: float = 1e5, start: dt.datetime = MANTID_508093_START, raw_block: bool = True,
                       title: str = "test"):
    """Write a numor with the given counts [step, tube, pixel] and read it back (reader table)."""
    write_numor(path, run_number=run_number, counts=counts, detector_angle_degree=angles,
                monitor_counts=np.full(angles.size, monitor), start_local=start, raw_block=raw_block,
                compression=None, title=title, sample_name="S1")
    return read(path)


def ramp_counts(steps: int) -> np.ndarray:
    """Counts that name their place: 1 + tube + 2 * pixel + 3 * step (all distinct per tube/pixel/step)."""
    step, tube, pixel = np.meshgrid(np.arange(steps), np.arange(128), np.arange(128), indexing="ij")
    return (1 + tube + 2 * pixel + 3 * step).astype(np.int32)
