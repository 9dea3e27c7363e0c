"""D2B tube alignment (Mantid's ``AlignTubes``) from the instrument parameter files of 2018 and 2023.

Mantid 2018-2022 applied it by default; today's loader and PowderILLDetectorScan leave it off.
With alignment, tube t (0..127) sits at the measured angle ``a_t`` from the last tube instead of the
nominal ``-1.25 (127 - t)`` degree, so its mirrored in-plane angle at scan step j is ``A_j + a_t``,
and all its pixels move vertically by ``-(c_t - 63.5) * pitch`` (``c_t`` = the pixel at the beam
centre of tube t). Era ``D2B_Definition.xml`` (before 2 March 2018) has no parameters: nothing moves.
Values: ``D2B_Parameters_2018-03-01.xml``, ``_2018-05-01.xml`` (same angles, other centres) and
``_2023-01-01.xml`` (nominal angles, every centre 64), as listed in the D2B reduction spec, appendix A.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .d2b_geometry import PIXELS_PER_TUBE, TUBE_RADIUS_METRE, TUBE_SPACING_DEGREE, TUBES

CENTRE_PIXEL = (PIXELS_PER_TUBE - 1) / 2

MEASURED_TUBE_ANGLES_DEGREE = np.array([
    -158.750, -157.500, -156.250, -155.000, -153.750, -152.500, -151.250, -150.000, -148.750, -147.500,
    -146.250, -145.000, -143.750, -142.500, -141.250, -140.000, -138.750, -137.500, -136.250, -135.000,
    -133.750, -132.500, -131.262, -130.027, -128.764, -127.501, -126.262, -124.986, -123.744, -122.488,
    -121.250, -119.996, -118.749, -117.503, -116.240, -115.000, -113.760, -112.510, -111.225, -110.011,
    -108.726, -107.537, -106.240, -104.974, -103.739, -102.491, -101.254, -99.9934, -98.7551, -97.5007,
    -96.2569, -94.9937, -93.7413, -92.5081, -91.2396, -89.9824, -88.7602, -87.5170, -86.2329, -84.9932,
    -83.7641, -82.5050, -81.2662, -79.9966, -78.7527, -77.5035, -76.2564, -74.9872, -73.7477, -72.5086,
    -71.2457, -70.0003, -68.7467, -67.4861, -66.2499, -65.0244, -63.7557, -62.5025, -61.2484, -59.9862,
    -58.7416, -57.4992, -56.2372, -54.9913, -53.7547, -52.4989, -51.2399, -50.0088, -48.7492, -47.4948,
    -46.2517, -45.0034, -43.7366, -42.4932, -41.2465, -39.9866, -38.7377, -37.5183, -36.2678, -35.0202,
    -33.7731, -32.4958, -31.2734, -30.0018, -28.7291, -27.4887, -26.2319, -24.9728, -23.7554, -22.4771,
    -21.2376, -20.0052, -18.7470, -17.5007, -16.2531, -14.9891, -13.7492, -12.5056, -11.2798, -10.0067,
    -8.73692, -7.50000, -6.25000, -5.00000, -3.75000, -2.50000, -1.25000, 0.000000,
])

TUBE_CENTRES_2018_03 = np.array([
    69, 58, 65, 64, 67, 61, 66, 66, 63, 68, 63, 67, 69, 67, 65, 69, 65, 66, 65, 67, 63, 69, 68, 63, 64, 67, 66, 62,
    66, 63, 65, 65, 65, 64, 63, 64, 64, 65, 64, 64, 64, 66, 65, 65, 65, 63, 65, 61, 67, 62, 65, 62, 63, 63, 65, 64,
    62, 63, 69, 60, 64, 63, 62, 63, 65, 63, 66, 62, 64, 65, 66, 67, 61, 66, 66, 63, 65, 65, 65, 63, 63, 65, 66, 62,
    63, 63, 63, 65, 64, 64, 62, 64, 66, 63, 65, 64, 66, 63, 63, 69, 62, 64, 63, 64, 68, 62, 64, 67, 65, 63, 65, 66,
    64, 65, 67, 63, 60, 67, 63, 65, 67, 63, 69, 64, 66, 65, 63, 67,
])

TUBE_CENTRES_2018_05 = np.array([
    71, 64, 66, 69, 68, 68, 67, 70, 66, 71, 69, 66, 71, 68, 67, 71, 68, 69, 66, 70, 67, 70, 68, 68, 67, 69, 68, 67,
    68, 68, 69, 69, 65, 67, 66, 68, 67, 68, 67, 67, 67, 70, 68, 69, 66, 67, 67, 66, 67, 67, 67, 67, 66, 66, 66, 69,
    66, 68, 72, 64, 66, 68, 63, 68, 68, 68, 69, 68, 67, 70, 68, 71, 64, 70, 67, 70, 69, 70, 69, 68, 66, 70, 70, 66,
    66, 69, 66, 68, 67, 69, 67, 66, 69, 66, 66, 70, 70, 68, 68, 71, 66, 69, 67, 68, 72, 68, 68, 70, 68, 69, 68, 70,
    67, 70, 69, 68, 64, 69, 68, 68, 69, 70, 71, 68, 68, 69, 70, 67,
])


@dataclass(frozen=True)
class TubeAlignment:
    """Measured tube angles (degrees from the last tube) and beam-centre pixels of one parameter file."""

    tube_angles_degree: np.ndarray
    tube_centre_pixels: np.ndarray


ALIGNMENTS = {
    "D2B_Definition_2018-03-01.xml": TubeAlignment(MEASURED_TUBE_ANGLES_DEGREE, TUBE_CENTRES_2018_03),
    "D2B_Definition_2018-05-01.xml": TubeAlignment(MEASURED_TUBE_ANGLES_DEGREE, TUBE_CENTRES_2018_05),
    "D2B_Definition_2023-01-01.xml": TubeAlignment(-TUBE_SPACING_DEGREE * (TUBES - 1 - np.arange(TUBES)),
                                                   np.full(TUBES, 64)),
}


def alignment_for(instrument_definition: str) -> TubeAlignment | None:
    """The alignment of an era's instrument definition, or None where Mantid has none (before March 2018)."""
    return ALIGNMENTS.get(instrument_definition)


def aligned_tube_angles_degree(detector_angle_degree: np.ndarray, alignment: TubeAlignment) -> np.ndarray:
    """Mirrored in-plane angle (degrees) of every aligned tube at every scan step, shape (steps, 128):
    ``A_j + a_t``, passed through ``-atan2(x, z)`` as Mantid computes it from the tube position."""
    psi = np.radians(np.asarray(detector_angle_degree, float)[:, None] + alignment.tube_angles_degree[None, :])
    return -np.degrees(np.arctan2(-TUBE_RADIUS_METRE * np.sin(psi), TUBE_RADIUS_METRE * np.cos(psi)))


def aligned_pixel_heights_metre(pixel_pitch_metre: float, first_pixel_height_metre: float,
                                alignment: TubeAlignment) -> np.ndarray:
    """Height y (m) of every pixel of every aligned tube, shape (128 tubes, 128 pixels), pixel 0 at the bottom."""
    nominal = first_pixel_height_metre + np.arange(PIXELS_PER_TUBE) * pixel_pitch_metre
    shift = -(alignment.tube_centre_pixels - CENTRE_PIXEL) * pixel_pitch_metre
    return shift[:, None] + nominal[None, :]


def max_height_metre(pixel_pitch_metre: float, alignment: TubeAlignment) -> float:
    """Mantid's ``MaxHeight`` log: half the tube length plus half a pixel, plus the largest vertical shift."""
    largest_shift = np.max(np.abs(alignment.tube_centre_pixels - CENTRE_PIXEL)) * pixel_pitch_metre
    return (PIXELS_PER_TUBE + 1) * pixel_pitch_metre / 2 + float(largest_shift)
