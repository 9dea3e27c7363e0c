"""BaSyTec result text written by hand: what the real sample files do not show."""

import numpy as np

from bigmap_assets import metadata_of, read

RUNNING_TOTAL_WITH_A_GAP = """~Resultfile from Basytec Battery Test System
~Start of Test: 19.06.2023 17:56:53
~
~Time[s]\tLine\tCommand\tU[V]\tI[A]\tAh[Ah]
0\t3\tCharge\t3.5\t1\t0
3600\t3\tCharge\t3.6\t1\t1
7200\t3\tCharge\t3.7\t1\t
10800\t3\tCharge\t3.8\t1\t3
14400\t4\tDischarge\t3.6\t-1\t2
"""


def test_an_empty_cell_in_the_running_total_is_no_change(tmp_path):
    path = tmp_path / "gap.txt"
    path.write_text(RUNNING_TOTAL_WITH_A_GAP)
    table = read(path)
    assert metadata_of(table)["format"] == "basytec"
    # read as a dip to 0 and back, the empty cell used to add 2 Ah of charge
    np.testing.assert_allclose(table.column("charging_capacity_ah").to_numpy(), [0, 1, 1, 3, 3])
    np.testing.assert_allclose(table.column("discharging_capacity_ah").to_numpy(), [0, 0, 0, 0, 1])
