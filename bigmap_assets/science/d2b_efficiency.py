"""D2B detector efficiency maps (PowderILLEfficiency output) and how Mantid applies them.

``ApplyDetectorScanEffCorr`` multiplies every pixel by its constant K with Mantid's ``Multiply``, so the
error of ``y K`` is ``sqrt((e K)^2 + (y sigma_K)^2)``, and masks the detectors whose bins are masked in
the map (``MaskCriterion``): bin t of spectrum p masks tube t, pixel p. A constant of 0 without a mask
flag is masked too (Mantid would average a zero in; PowderILLEfficiency writes 0 only into masked bins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .d2b_geometry import PIXELS_PER_TUBE, TUBES


@dataclass(frozen=True)
class EfficiencyMap:
    """Constants K, their errors sigma_K and mask flags, each [pixel, tube] (128 x 128) as the file holds them."""

    values: np.ndarray
    errors: np.ndarray
    masked: np.ndarray

    def __post_init__(self):
        for name in ("values", "errors", "masked"):
            if np.shape(getattr(self, name)) != (PIXELS_PER_TUBE, TUBES):
                shape = np.shape(getattr(self, name))
                raise ValueError(f"efficiency {name} must be (128 pixels, 128 tubes), not {shape}")

    def usable(self) -> np.ndarray:
        """[tube, pixel] True where the pixel is neither flagged nor zero."""
        return ~(np.asarray(self.masked, bool) | (np.asarray(self.values) == 0)).T


def efficiency_map(calibration: EfficiencyMap | np.ndarray | None) -> EfficiencyMap | None:
    """An ``EfficiencyMap``; a bare K[pixel, tube] array gets sigma_K = 0 and no flags."""
    if calibration is None or isinstance(calibration, EfficiencyMap):
        return calibration
    values = np.asarray(calibration, float)
    return EfficiencyMap(values, np.zeros_like(values), np.zeros(values.shape, bool))


def apply_efficiency(values: np.ndarray, errors_squared: np.ndarray,
                     efficiency: EfficiencyMap) -> tuple[np.ndarray, np.ndarray]:
    """``y K`` and its squared error ``(e K)^2 + (y sigma_K)^2`` for values [step, tube, pixel]."""
    k = np.asarray(efficiency.values, float).T
    sigma = np.asarray(efficiency.errors, float).T
    return values * k, errors_squared * k**2 + (values * sigma) ** 2
