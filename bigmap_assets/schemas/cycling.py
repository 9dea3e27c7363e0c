"""Cycling tables: time series, per-cycle summary, state of health, series statistics.

Names follow the Battery Data Format (BDF) where it has one; units are in the names.
Current is positive on charge. Times are UTC; the site timezone is recorded per row.
"""

import pyarrow as pa

from . import PROVENANCE, Column, Table, register, utc_timestamp

# What every cycling reader returns (one file, before stitching and derivation).
# Readers fill what the file knows; missing optional columns are nulls.
READER_COLUMNS = (
    Column("test_time_second", pa.float64(), "s", "time since the file's acquisition start", nullable=False),
    Column("voltage_volt", pa.float64(), "V", "cell voltage (Ecell, else Ewe)", nullable=False),
    Column("current_ampere", pa.float64(), "A", "current, positive = charge", nullable=False),
    Column("step_id", pa.int64(), "", "vendor step/sequence index (EC-Lab Ns)"),
    Column("control_mode", pa.string(), "", "vendor control mode: CC, CV, REST or OTHER"),
    Column("vendor_cycle_number", pa.int64(), "", "vendor's own cycle number, as written"),
    Column("charging_capacity_ah", pa.float64(), "Ah", "cumulative charge passed on charge since file start"),
    Column("discharging_capacity_ah", pa.float64(), "Ah", "cumulative charge passed on discharge since file start"),
    Column("temperature_celsius", pa.float64(), "degC", "cell or ambient temperature"),
)

CYCLING_TIMESERIES = register(Table(
    name="cycling_timeseries",
    description="One row per measured point of a cell, all its files stitched in time order.",
    columns=(
        Column("sample_id", pa.string(), "", "cell ID", nullable=False),
        Column("test_time_second", pa.float64(), "s", "time since the first file's start (files stitched)", nullable=False),
        Column("unix_time_second", pa.float64(), "s", "absolute time, seconds since 1970-01-01 UTC"),
        Column("utc_time", utc_timestamp(), "UTC", "absolute time"),
        Column("voltage_volt", pa.float64(), "V", "cell voltage", nullable=False),
        Column("current_ampere", pa.float64(), "A", "current, positive = charge", nullable=False),
        Column("charging_capacity_ah", pa.float64(), "Ah", "cumulative charge capacity since test start, never reset"),
        Column("discharging_capacity_ah", pa.float64(), "Ah", "cumulative discharge capacity since test start, never reset"),
        Column("net_capacity_ah", pa.float64(), "Ah", "charging minus discharging capacity"),
        Column("charging_energy_wh", pa.float64(), "Wh", "cumulative charge energy since test start"),
        Column("discharging_energy_wh", pa.float64(), "Wh", "cumulative discharge energy since test start"),
        Column("temperature_celsius", pa.float64(), "degC", "temperature when the file has one"),
        Column("cycle_count", pa.int64(), "", "cycle derived by the project: a new cycle at each charge after a discharge"),
        Column("vendor_cycle_number", pa.int64(), "", "vendor's own cycle number, offset across files"),
        Column("step_count", pa.int64(), "", "increments at each change of step, mode or current sign; never resets"),
        Column("step_id", pa.int64(), "", "vendor step index (EC-Lab Ns)"),
        Column("step_type", pa.string(), "", "CC_CHG, CV_CHG, CC_DCH, CV_DCH or REST"),
        Column("file_index", pa.int32(), "", "index of the source file in the stitched order"),
        Column("timezone", pa.string(), "", "IANA timezone of the site clock the file was written in"),
        *PROVENANCE,
    ),
    partitioned_by=("sample_id",),
))

CYCLING_CYCLES = register(Table(
    name="cycling_cycles",
    description="One row per cycle (charge then discharge) with capacities, energies, efficiencies and protocol stage.",
    columns=(
        Column("sample_id", pa.string(), "", "cell ID", nullable=False),
        Column("cycle_count", pa.int64(), "", "project cycle number (0 = leading rest)", nullable=False),
        Column("stage", pa.string(), "", "rest, formation, checkup, ageing or unknown"),
        Column("stage_block", pa.int64(), "", "index of the run of equal stages this cycle belongs to"),
        Column("cycle_in_block", pa.int64(), "", "position of the cycle within its block, from 1"),
        Column("start_utc_time", utc_timestamp(), "UTC", "start of the cycle"),
        Column("duration_second", pa.float64(), "s", "cycle duration"),
        Column("charge_capacity_ah", pa.float64(), "Ah", "charge passed on charge, CV tail included"),
        Column("discharge_capacity_ah", pa.float64(), "Ah", "charge passed on discharge, CV tail included"),
        Column("charge_energy_wh", pa.float64(), "Wh", "energy on charge"),
        Column("discharge_energy_wh", pa.float64(), "Wh", "energy on discharge"),
        Column("coulombic_efficiency", pa.float64(), "1", "discharge capacity / charge capacity of the same cycle"),
        Column("energy_efficiency", pa.float64(), "1", "discharge energy / charge energy of the same cycle"),
        Column("mean_charge_voltage_volt", pa.float64(), "V", "charge-weighted: charge energy / charge capacity"),
        Column("mean_discharge_voltage_volt", pa.float64(), "V", "charge-weighted: discharge energy / discharge capacity"),
        Column("voltage_hysteresis_volt", pa.float64(), "V", "mean charge minus mean discharge voltage"),
        Column("max_voltage_volt", pa.float64(), "V", "highest voltage in the cycle"),
        Column("min_voltage_volt", pa.float64(), "V", "lowest voltage in the cycle"),
        Column("cc_charge_current_ampere", pa.float64(), "A", "median current of the constant-current charge"),
        Column("cc_discharge_current_ampere", pa.float64(), "A", "median |current| of the constant-current discharge"),
        Column("c_rate_charge", pa.float64(), "1/h", "CC charge current / 1C current (active mass x 225 mAh/g)"),
        Column("c_rate_discharge", pa.float64(), "1/h", "CC discharge current / 1C current"),
        Column("cv_charge_capacity_ah", pa.float64(), "Ah", "capacity of the constant-voltage charge tail"),
        Column("cv_charge_end_current_ampere", pa.float64(), "A", "current at the end of the CV charge"),
        Column("cv_discharge_capacity_ah", pa.float64(), "Ah", "capacity of the constant-voltage discharge tail"),
        Column("cv_discharge_end_current_ampere", pa.float64(), "A", "|current| at the end of the CV discharge"),
        Column("specific_discharge_capacity_mah_per_g", pa.float64(), "mAh/g", "discharge capacity per gram of active material"),
        Column("specific_charge_capacity_mah_per_g", pa.float64(), "mAh/g", "charge capacity per gram of active material"),
        Column("complete", pa.bool_(), "", "false for a cycle cut short (no discharge yet, or file ends)"),
        Column("flags", pa.string(), "", "deviations from the expected protocol, ';'-separated"),
        Column("code_version", pa.string(), "", "code version that made the row"),
    ),
    partitioned_by=("sample_id",),
    notes={"coulombic_efficiency": "Q_discharge / Q_charge within one cycle; a cycle is a charge followed by the next discharge (charge-first)."},
))

CYCLING_SOH = register(Table(
    name="cycling_soh",
    description="One row per check-up: discharge capacity, state of health and end of life per cell.",
    columns=(
        Column("sample_id", pa.string(), "", "cell ID", nullable=False),
        Column("checkup_index", pa.int64(), "", "0 = begin-of-life check-up", nullable=False),
        Column("cycle_count", pa.int64(), "", "project cycle number of the check-up"),
        Column("equivalent_full_cycles", pa.float64(), "", "charge throughput / (2 x begin-of-life capacity) up to the check-up"),
        Column("utc_time", utc_timestamp(), "UTC", "start of the check-up cycle"),
        Column("discharge_capacity_ah", pa.float64(), "Ah", "check-up discharge capacity, CV tail included"),
        Column("specific_discharge_capacity_mah_per_g", pa.float64(), "mAh/g", "per gram of active material"),
        Column("soh", pa.float64(), "1", "discharge capacity / begin-of-life check-up's"),
        Column("end_of_life", pa.bool_(), "", "true on the first check-up at or below the end-of-life SoH"),
        Column("eol_reached", pa.bool_(), "", "the cell reached end of life (any check-up)"),
        Column("eol_cycle_count", pa.int64(), "", "cycle of the end-of-life check-up (null if not reached)"),
        Column("series", pa.string(), "", "electrolyte series from the registry"),
        Column("provider", pa.string(), "", "cell provider from the registry"),
        Column("batch", pa.string(), "", "batch from the registry"),
        Column("code_version", pa.string(), "", "code version that made the row"),
    ),
    partitioned_by=("sample_id",),
    notes={"soh": "SoH_k = Q_dis(check-up k) / Q_dis(check-up 0); end of life at the first SoH <= 0.80."},
))

CYCLING_SERIES = register(Table(
    name="cycling_series",
    description="Per series (electrolyte x provider x batch) and check-up: mean and spread of capacity and SoH, and end-of-life spread.",
    columns=(
        Column("series", pa.string(), "", "electrolyte series", nullable=False),
        Column("provider", pa.string(), "", "cell provider"),
        Column("batch", pa.string(), "", "batch"),
        Column("checkup_index", pa.int64(), "", "check-up number (null on the end-of-life summary rows)"),
        Column("cell_count", pa.int64(), "", "cells contributing"),
        Column("mean_discharge_capacity_ah", pa.float64(), "Ah", "mean check-up discharge capacity"),
        Column("std_discharge_capacity_ah", pa.float64(), "Ah", "sample standard deviation"),
        Column("relative_spread_capacity", pa.float64(), "1", "std / mean of the capacity"),
        Column("mean_soh", pa.float64(), "1", "mean SoH"),
        Column("std_soh", pa.float64(), "1", "sample standard deviation of SoH"),
        Column("mean_eol_cycle", pa.float64(), "", "mean end-of-life cycle of the cells that reached it"),
        Column("std_eol_cycle", pa.float64(), "", "standard deviation of the end-of-life cycle"),
        Column("relative_spread_eol", pa.float64(), "1", "std / mean of the end-of-life cycle (report: within 1 %, 5 %, 10 %)"),
        Column("relative_spread_eol_between_providers", pa.float64(), "1",
               "std / mean of the providers' mean end-of-life cycles (per-series rows, provider null)"),
        Column("code_version", pa.string(), "", "code version that made the row"),
    ),
))
