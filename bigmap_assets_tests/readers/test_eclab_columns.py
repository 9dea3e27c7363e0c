"""EC-Lab column names and the mapping onto READER_COLUMNS, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from bigmap_assets.readers.eclab_columns import canonical_name, column_name, measurement_kind, reader_table


@pytest.mark.parametrize("eclab, ours", [
    ("Q charge/discharge/mA.h", "q_charge_discharge_milliampere_hour"),
    ("control/V/mA", "control_volt_or_milliampere"),
    ("(Q-Qo)/C", "q_minus_q0_coulomb"),
    ("|Z|/Ohm", "abs_z_ohm"),
    ("-Im(Z)/Ohm", "minus_im_z_ohm"),
    ("<I>/mA", "mean_i_milliampere"),
    ("Re(Conductivity)/mS/cm", "re_conductivity_millisiemens_per_cm"),
    ("Capacitance charge/µF", "capacitance_charge_microfarad"),
    ("Efficiency/%", "efficiency_percent"),
    ("Tan(Delta)", "tan_delta"),
    ("ox/red", "ec_ox_red"),
    ("half cycle", "ec_half_cycle"),
    ("col_112", "raw_col_112"),
    ("Foo bar/furlong", "raw_foo_bar_furlong"),
])
def test_column_names_carry_units(eclab, ours):
    assert column_name(eclab) == ours


def test_canonical_name_restores_characters_lost_to_utf8_resaving():
    assert canonical_name("Temperature/\ufffdC") == "Temperature/°C"
    assert canonical_name("Capacitance charge/\ufffdF") == "Capacitance charge/µF"
    assert canonical_name("<Ewe/V>") == "<Ewe>/V"


def test_capacities_accumulate_charge_and_discharge_separately():
    # 1 mA for 3.6 s = 1e-3 mA·h per point; charge 2 points, rest, discharge 1 point
    table, meta = reader_table({
        "time/s": np.array([0.0, 3.6, 7.2, 10.8, 14.4]),
        "Ewe/V": np.array([3.0, 3.1, 3.2, 3.2, 3.1], dtype=np.float32),
        "mode": np.array([3, 1, 1, 3, 1]),
        "dq/mA.h": np.array([0.0, 1e-3, 1e-3, 0.0, -1e-3]),
        "half cycle": np.array([0, 0, 0, 0, 1]),
    })
    np.testing.assert_allclose(table.column("charging_capacity_ah").to_numpy(), [0, 1e-6, 2e-6, 2e-6, 2e-6])
    np.testing.assert_allclose(table.column("discharging_capacity_ah").to_numpy(), [0, 0, 0, 0, 1e-6])
    np.testing.assert_allclose(table.column("current_ampere").to_numpy(), [0, 1e-3, 1e-3, 0, -1e-3])
    assert table.column("control_mode").to_pylist() == ["REST", "CC", "CC", "REST", "CC"]
    assert table.column("vendor_cycle_number").to_pylist() == [0, 0, 0, 0, 0]
    assert meta["current_source"] == "dq·3.6/Δt" and meta["cycle_source"] == "half cycle // 2"
    assert table.column("ec_mode").to_pylist() == [3, 1, 1, 3, 1]


def test_q_minus_q0_restarts_are_not_counted_as_discharge():
    # (Q-Qo) restarts at a new impedance sweep while the mean current stays positive
    table, meta = reader_table({
        "time/s": np.array([0.0, 36.0, 72.0, 108.0]),
        "<Ewe>/V": np.array([3.0, 3.0, 3.0, 3.0]),
        "<I>/mA": np.array([0.1, 0.1, 0.1, 0.1]),
        "(Q-Qo)/mA.h": np.array([0.0, 1e-3, 2e-3, 0.5e-3]),
    })
    np.testing.assert_allclose(table.column("charging_capacity_ah").to_numpy(), [0, 1e-6, 2e-6, 2e-6])
    np.testing.assert_allclose(table.column("discharging_capacity_ah").to_numpy(), [0, 0, 0, 0])
    assert meta["capacity_source"] == "increments of (Q-Qo)/mA.h"


def test_measurement_kind():
    assert measurement_kind(["GCPL"], []) == "cycling"
    assert measurement_kind(["PEIS"], []) == "impedance"
    assert measurement_kind(["CV"], []) == "voltammetry"
    assert measurement_kind(["OCV"], []) == "other"
    assert measurement_kind([], ["time/s", "Ewe/V", "half cycle"]) == "cycling"
    assert measurement_kind([], ["freq/Hz", "Re(Z)/Ohm"]) == "impedance"
