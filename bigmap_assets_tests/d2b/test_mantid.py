"""numpy reduction against Mantid's PowderILLDetectorScan, where Mantid is installed (conda only)."""

import numpy as np
import pytest

from bigmap_assets.science.d2b_mantid import mantid_available, reduce_with_mantid
from bigmap_assets.science.diffraction import reduce_measurement

from .helpers import MANTID_508093_ANGLES, write_counts_numor

pytestmark = pytest.mark.skipif(not mantid_available(),
                                reason="mantid is not importable here (it installs from conda, not PyPI)")


@pytest.mark.parametrize("output, height_range", [("1D", None), ("1D", (-0.05, 0.05)), ("2DTubes", None)])
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
    np.testing.assert_allclose(ours.column("two_theta_degree").to_numpy(), theirs.column("two_theta_degree").to_numpy(),
                               atol=1e-9)
    np.testing.assert_allclose(ours.column("intensity").to_numpy(), theirs.column("intensity").to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(ours.column("intensity_error").to_numpy(), theirs.column("intensity_error").to_numpy(),
                               rtol=1e-9)
