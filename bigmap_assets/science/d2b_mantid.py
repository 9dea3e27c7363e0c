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

OUTPUT_PROPERTIES = {"1D": "Output1D", "2D": "Output2D", "2DTubes": "Output2DTubes"}


def mantid_available() -> bool:
    return importlib.util.find_spec("mantid") is not None


def reduce_with_mantid(paths: Sequence[Path], *, output: str = "1D", height_range: tuple[float, float] | None = None,
                       crop_negative: bool = True, calibration_path: Path | None = None,
                       align_tubes: bool = False) -> pa.Table:
    """PowderILLDetectorScan on ``paths`` with the options of ``diffraction.reduce_measurement``; returns
    the same columns (``pixel_count`` null: Mantid does not report it). Older Mantid versions get
    ``InitialMask=0, FinalMask=0`` and ``AlignTubes=align_tubes`` so that both paths reduce the same pixels."""
    if output not in OUTPUT_TYPES:
        raise ValueError(f"output must be one of {OUTPUT_TYPES}, not {output!r}")
    from mantid.api import AlgorithmManager
    from mantid.simpleapi import DeleteWorkspace, PowderILLDetectorScan

    known = {p.name for p in AlgorithmManager.create("PowderILLDetectorScan").getProperties()}
    options = {name: name == OUTPUT_PROPERTIES[output] for name in OUTPUT_PROPERTIES.values()}
    options.update(NormaliseTo="Monitor", CropNegativeScatteringAngles=crop_negative)
    options.update({k: v for k, v in (("InitialMask", 0), ("FinalMask", 0), ("AlignTubes", align_tubes)) if k in known})
    if height_range is not None:
        options["HeightRange"] = [float(v) for v in height_range]
    if calibration_path is not None:
        options["CalibrationFile"] = str(calibration_path)
    group = PowderILLDetectorScan(Run=",".join(str(p) for p in paths), OutputWorkspace="bigmap_d2b", **options)
    try:
        workspace = group.getItem(0)
        edges, values, errors = workspace.extractX(), workspace.extractY(), workspace.extractE()
        axis = workspace.getAxis(1)
        heights = np.array([axis.getValue(i) for i in range(workspace.getNumberHistograms())], float)
    finally:
        DeleteWorkspace("bigmap_d2b")
    centres = (edges[:, :-1] + edges[:, 1:]) / 2
    n_bins = centres.shape[1]
    return pa.table({
        "output_type": pa.array([output] * values.size),
        "height_metre": np.repeat(heights if output != "1D" else np.zeros(1), n_bins),
        "two_theta_degree": centres.reshape(-1), "intensity": values.reshape(-1),
        "intensity_error": errors.reshape(-1), "pixel_count": pa.nulls(values.size, pa.int64()),
    })
