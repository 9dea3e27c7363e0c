"""Hand-computed cases for the shared cycler helpers."""

import numpy as np
import pyarrow as pa
import pytest

from bigmap_assets.readers.cycler_common import (
    CCCV,
    control_mode_array,
    cumulative_by_direction,
    increments_of_resetting,
    infer_control_mode,
    seconds_from_duration_text,
    split_cccv,
    unit_column_name,
)
from bigmap_assets.schemas.cycling import READER_COLUMNS


def test_counter_reset_per_step_becomes_increments():
    # step 1 charges 0.1 -> 0.3 Ah, step 2 restarts at 0.05 and reaches 0.2 Ah
    values = np.array([0.1, 0.2, 0.3, 0.05, 0.2])
    steps = np.array([1, 1, 1, 2, 2])
    np.testing.assert_allclose(increments_of_resetting(values, steps), [0.1, 0.1, 0.1, 0.05, 0.15])


def test_reset_at_step_boundary_is_seen_even_when_the_counter_does_not_fall():
    values = np.array([0.01, 0.02, 0.03])  # a new step starts at 0.03 Ah after 1 s
    steps = np.array([1, 1, 2])
    np.testing.assert_allclose(increments_of_resetting(values, steps), [0.01, 0.01, 0.03])


def test_unannounced_reset_is_detected_by_the_fall():
    np.testing.assert_allclose(increments_of_resetting(np.array([0.0, 0.4, 0.5, 0.1])), [0.0, 0.4, 0.1, 0.1])


def test_missing_counter_values_count_as_no_change():
    # an empty (NaN) or "inf" cell inside a step is not a reset to zero
    values = np.array([np.nan, 0.1, 0.2, np.nan, np.inf, 0.3])
    np.testing.assert_allclose(increments_of_resetting(values, np.ones(6)), [0.0, 0.1, 0.1, 0.0, 0.0, 0.1])


def test_cumulative_split_by_current_sign_and_zero_current_rows_follow_the_previous_sign():
    increments = np.array([0.0, 0.1, 0.1, 0.0, 0.2, 0.2])
    current = np.array([0.0, 1.0, 0.0, 0.0, -1.0, -1.0])
    charge, discharge = cumulative_by_direction(increments, current)
    np.testing.assert_allclose(charge, [0.0, 0.1, 0.2, 0.2, 0.2, 0.2])
    np.testing.assert_allclose(discharge, [0.0, 0.0, 0.0, 0.0, 0.2, 0.4])


def test_control_mode_inferred_per_step():
    current = np.array([0, 0, 1e-3, 1e-3, 1.01e-3, 8e-4, 4e-4, 1e-4, -1e-3, -1e-3])
    voltage = np.array([3.0, 3.0, 3.5, 3.8, 4.2, 4.2, 4.2, 4.201, 4.0, 3.9])
    step = np.array([1, 1, 2, 2, 2, 3, 3, 3, 4, 4])
    modes = control_mode_array(infer_control_mode(current, voltage, step)).to_pylist()
    assert modes == ["REST"] * 2 + ["CC"] * 3 + ["CV"] * 3 + ["CC"] * 2


def test_cccv_step_splits_at_the_voltage_limit():
    modes = np.full(5, CCCV, dtype=np.int8)
    voltage = np.array([3.9, 4.1, 4.2, 4.2, 4.2])
    current = np.array([1.0, 1.0, 0.8, 0.4, 0.1])
    step = np.ones(5, dtype=int)
    assert control_mode_array(split_cccv(modes, voltage, current, step)).to_pylist() == ["CC", "CC", "CV", "CV", "CV"]


def test_maccor_duration_text_to_seconds():
    text = pa.array(["  0d 00:00:01.5000", "1d 02:03:04.0", "00:10:00"])
    assert seconds_from_duration_text(text).to_pylist() == [1.5, 93784.0, 600.0]


@pytest.mark.parametrize("vendor, expected", [
    ("Power (W)", "power_watt"),
    ("Aux_Temperature_1 (C)", "aux_temperature_1_celsius"),
    ("dV/dt (V/s)", "dv_dt_volt_per_second"),
    ("ACImp/Ohms", "acimp_ohm"),
    ("dV/dt", "dv_dt"),
    ("t-Step[s]", "t_step_second"),
    ("Charge Energy (Wh)", "charge_energy_wh"),
])
def test_vendor_names_become_unit_bearing_snake_case(vendor, expected):
    assert unit_column_name(vendor) == expected


def test_reader_columns_are_the_schema_contract():
    assert [c.name for c in READER_COLUMNS][:3] == ["test_time_second", "voltage_volt", "current_ampere"]


def test_cccv_split_per_step_on_charge_and_discharge():
    modes = np.full(9, CCCV, dtype=np.int8)
    modes[4] = 2  # a rest row between the two steps stays REST
    voltage = np.array([3.9, 4.1, 4.2, 4.2, 3.6, 3.5, 3.2, 3.0, 3.0])
    current = np.array([1.0, 1.0, 0.5, 0.1, 0.0, -1.0, -1.0, -0.4, -0.1])
    step = np.array([1, 1, 1, 1, 2, 3, 3, 3, 3])
    assert control_mode_array(split_cccv(modes, voltage, current, step)).to_pylist() == [
        "CC", "CC", "CV", "CV", "REST", "CC", "CC", "CV", "CV"]
