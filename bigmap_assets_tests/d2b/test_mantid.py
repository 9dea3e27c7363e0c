"""numpy reduction against Mantid's PowderILLDetectorScan, where Mantid is installed (conda only)."""

import datetime as dt

import numpy as np
import pytest

from bigmap_assets.science.d2b_mantid import mantid_available, reduce_with_mantid
from bigmap_assets.science.diffraction import reduce_measurement

from .helpers import MANTID_508093_ANGLES, write_counts_numor

pytestmark = pytest.mark.skipif(not mantid_available(),
                                reason="mantid is not importable here (it installs from conda, not PyPI)")


@pytest.mark.parametrize("output, height_range", [("1D", None), ("1D", (-0.05, 0.05)), ("2D", (-0.05, 0.05)),
                                                  ("2DTubes", None)])
def test_numpy_and_mantid_agree(tmp_path, output, height_range):
    rng = np.random.default_rng(2)
    paths, tables = [], []
    for k in range(2):
        path = tmp_path / f"{508093 + k}.nxs"
        tables.append(write_counts_numor(path, rng.poisson(40, (25, 128, 128)).astype(np.int32),
                                         MANTID_508093_ANGLES + 0.12 * k, run_number=508093 + k))
        paths.append(path)
    ours = reduce_measurement(tables, output=output, height_range=height_range)
    theirs = reduce_with_mantid(paths, output=output, height_range=height_range)
    for name in ("height_metre", "two_theta_degree"):
        np.testing.assert_allclose(ours.column(name).to_numpy(), theirs.column(name).to_numpy(), atol=1e-9)
    for name in ("intensity", "intensity_error"):
        np.testing.assert_allclose(ours.column(name).to_numpy(), theirs.column(name).to_numpy(), rtol=1e-9)
    assert ours.column("height_range_min_metre").equals(theirs.column("height_range_min_metre"))


def _mantid_of_2018_2022() -> bool:
    from mantid.api import AlgorithmManager

    return "InitialMask" in {p.name for p in AlgorithmManager.create("PowderILLDetectorScan").getProperties()}


@pytest.mark.parametrize("output", ["1D", "2D"])
def test_2018_workflow_agrees_with_mantid_of_that_time(tmp_path, output):
    if not _mantid_of_2018_2022():
        pytest.skip("this Mantid has no InitialMask/FinalMask: the 2018 workflow needs Mantid of 2018-2022")
    counts = np.random.default_rng(4).poisson(40, (25, 128, 128)).astype(np.int32)
    path = tmp_path / "535401.nxs"  # 2018 era, raw-only: aligned tubes, MaxHeight axis, odd tubes flipped
    table = write_counts_numor(path, counts, 147.5 + 0.05 * np.arange(25), run_number=535401,
                               start=dt.datetime(2018, 3, 20, 10, 0), raw_block=False)
    ours = reduce_measurement([table], output=output, workflow="2018")
    theirs = reduce_with_mantid([path], output=output, workflow="2018", align_tubes=True)
    for name in ("height_metre", "two_theta_degree", "intensity", "intensity_error"):
        np.testing.assert_allclose(ours.column(name).to_numpy(), theirs.column(name).to_numpy(), rtol=1e-9, atol=1e-9)
