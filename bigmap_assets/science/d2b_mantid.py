"""The same reduction through Mantid's PowderILLDetectorScan, when ``mantid`` is importable.

Mantid comes from conda (``mantid`` / ``mantidworkbench``), not PyPI, so this path is optional:
``mantid_available()`` says whether it can run. Mantid loads the numor files itself.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from .diffraction import OUTPUT_TYPES

GROUP = "bigmap_d2b"
OUTPUT_PROPERTIES = {"1D": "Output1D", "2D": "Output2D", "2DTubes": "Output2DTubes"}


def mantid_available() -> bool:
    return importlib.util.find_spec("mantid") is not None


def reduce_with_mantid(paths: Sequence[Path], *, output: str = "1D", height_range: tuple[float, float] | None = None,
                       crop_negative: bool = True, calibration_path: Path | None = None,
                       align_tubes: bool = False, workflow: str = "current") -> pa.Table:
    """PowderILLDetectorScan on ``paths`` with the options of ``diffraction.reduce_measurement``; returns the
    same columns (``pixel_count`` null: Mantid does not report it). Mantid versions of 2018-2022 get
    ``InitialMask=0, FinalMask=0`` for the ``current`` workflow and their defaults for ``2018``."""
    if output not in OUTPUT_TYPES:
        raise ValueError(f"output must be one of {OUTPUT_TYPES}, not {output!r}")
    from mantid.api import AlgorithmManager
    from mantid.simpleapi import DeleteWorkspace, PowderILLDetectorScan, mtd

    known = {p.name for p in AlgorithmManager.create("PowderILLDetectorScan").getProperties()}
    options = {name: name == OUTPUT_PROPERTIES[output] for name in OUTPUT_PROPERTIES.values()}
    options.update(NormaliseTo="Monitor", CropNegativeScatteringAngles=crop_negative, AlignTubes=align_tubes)
    if workflow == "current":
        options.update({k: 0 for k in ("InitialMask", "FinalMask") if k in known})
    if height_range is not None:
        options["HeightRange"] = [float(v) for v in height_range]
    if calibration_path is not None:
        options["CalibrationFile"] = str(calibration_path)
    group = PowderILLDetectorScan(Run=",".join(str(p) for p in paths), OutputWorkspace=GROUP, **options)
    try:
        workspace = mtd[output_workspace_name(group.getNames(), output, height_range)]
        edges, values, errors = workspace.extractX(), workspace.extractY(), workspace.extractE()
        axis = workspace.getAxis(1)
        heights = np.array([axis.getValue(i) for i in range(workspace.getNumberHistograms())], float)
    finally:
        DeleteWorkspace(GROUP)
    centres = (edges[:, :-1] + edges[:, 1:]) / 2
    n_bins = centres.shape[1]
    window = (None, None) if height_range is None else tuple(map(float, height_range))
    return pa.table({
        "output_type": pa.array([output] * values.size),
        "height_metre": np.repeat(heights, n_bins),
        "two_theta_degree": centres.reshape(-1), "intensity": values.reshape(-1),
        "intensity_error": errors.reshape(-1), "pixel_count": pa.nulls(values.size, pa.int64()),
        "height_range_min_metre": pa.array([window[0]] * values.size, pa.float64()),
        "height_range_max_metre": pa.array([window[1]] * values.size, pa.float64()),
    })


def output_workspace_name(names: Sequence[str], output: str, height_range: tuple[float, float] | None) -> str:
    """The workspace of ``output`` for ``height_range`` in PowderILLDetectorScan's group: today's Mantid puts
    the full-height ``<group>_<output>`` first and a ``<group>_<output>_<min>, <max>`` per range after it;
    Mantid of 2018-2022 made only ``<group>_<output>``, windowed when a range was given."""
    base = f"{GROUP}_{output}"
    wanted = base if height_range is None else f"{base}_{float(height_range[0])}, {float(height_range[1])}"
    if wanted in names:
        return wanted
    if base in names and not any(name.startswith(f"{base}_") for name in names):
        return base
    raise LookupError(f"PowderILLDetectorScan made no {wanted!r}: it made {', '.join(names)}")
