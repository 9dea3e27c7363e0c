"""ILL D2B detector geometry as Mantid's instrument definitions (IDF) describe it, per date era.

Beam along +z, y up, sample at the origin. 128 vertical tubes of 128 pixels on a cylinder of
radius 1.296 m, 1.25 degree apart. For scan step j with detector angle ``A_j`` (the scanned
``Position`` variable, degrees), tube t (0..127) sits at the mirrored in-plane angle
``psi = A_j - 1.25 * (127 - t)`` degrees: ``A_j`` is the angle of the last tube. Pixel p (0 = bottom)
of every tube is at height ``y_p = first_pixel_height_metre + p * pixel_pitch_metre``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

TUBES = 128
PIXELS_PER_TUBE = 128
TUBE_RADIUS_METRE = 1.296
TUBE_SPACING_DEGREE = 1.25
ILL_TIMEZONE = "Europe/Paris"


@dataclass(frozen=True)
class Era:
    """One Mantid D2B instrument definition and the local start time from which it applies."""

    idf_name: str
    valid_from: dt.datetime
    pixel_pitch_metre: float
    first_pixel_height_metre: float


ERAS = (
    Era("D2B_Definition.xml", dt.datetime(1900, 1, 31), 0.00234375, -0.148828125),
    Era("D2B_Definition_2018-03-01.xml", dt.datetime(2018, 3, 1, 23, 59, 59), 0.00276953125, -0.175865234375),
    Era("D2B_Definition_2018-05-01.xml", dt.datetime(2018, 5, 1, 23, 59, 59), 0.00276953125, -0.175865234375),
    Era("D2B_Definition_2023-01-01.xml", dt.datetime(2023, 1, 1), 0.00234375, -0.148828125),
)


def era_for(start_local_time: dt.datetime) -> Era:
    """The instrument definition Mantid picks for a run that started at ``start_local_time`` (ILL clock)."""
    return [era for era in ERAS if era.valid_from <= start_local_time.replace(tzinfo=None)][-1]


def pixel_heights_metre(pixel_pitch_metre: float, first_pixel_height_metre: float) -> np.ndarray:
    """Height y (m) of the 128 pixels of a tube, bottom to top."""
    return first_pixel_height_metre + np.arange(PIXELS_PER_TUBE) * pixel_pitch_metre


def tube_angles_degree(detector_angle_degree: np.ndarray) -> np.ndarray:
    """Mirrored in-plane angle (degrees) of every tube at every scan step, shape (steps, 128).

    Computed as Mantid does from the tube position: ``-atan2(x, z)`` with
    ``x = -R sin(psi)``, ``z = R cos(psi)``.
    """
    psi = np.radians(np.asarray(detector_angle_degree, float)[:, None]
                     - TUBE_SPACING_DEGREE * (TUBES - 1 - np.arange(TUBES))[None, :])
    x = -TUBE_RADIUS_METRE * np.sin(psi)
    z = TUBE_RADIUS_METRE * np.cos(psi)
    return -np.degrees(np.arctan2(x, z))


def two_theta_degree(tube_angle_degree: np.ndarray, heights_metre: np.ndarray) -> np.ndarray:
    """Mirrored signed scattering angle 2theta (degrees) of every pixel, shape (steps, 128, pixels).

    ``2theta = sign(psi) * arccos(R cos(psi) / sqrt(R^2 + y^2))``: the angle between the beam and the
    pixel, so pixels above or below the equator sit on wider Debye-Scherrer cones at low angle
    (the cone correction). A pixel at psi = 0 gets the negative sign, as in Mantid.
    """
    psi = np.radians(tube_angle_degree)
    cos_scale = TUBE_RADIUS_METRE / np.hypot(TUBE_RADIUS_METRE, np.asarray(heights_metre, float))
    cosine = np.clip(np.cos(psi)[..., None] * cos_scale, -1.0, 1.0)
    sign = np.where(tube_angle_degree > 0, 1.0, -1.0)[..., None]
    return sign * np.degrees(np.arccos(cosine))
