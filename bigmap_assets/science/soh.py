"""State of health from check-ups, end of life, series statistics and trajectory outliers.

SoH_k = Q_dis(check-up k) / Q_dis(check-up 0), the check-up discharge capacity including
its CV tail at 2.5 V; end of life is the first check-up at or below the threshold (80 %).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schemas.cycling import CYCLING_SERIES, CYCLING_SOH

REGISTRY_COLUMNS = ("series", "provider", "batch")
MAD_TO_SIGMA = 0.6745  # robust z = 0.6745 (x - median) / MAD (Iglewicz and Hoaglin)
MIN_SOH_MAD = 0.005  # spreads below 0.5 % SoH (cell-to-cell, provider) are not a fault
MIN_CELLS_FOR_OUTLIERS = 4  # a median/MAD of fewer cells is too unstable to judge one of them


# The cycling_cycles columns state_of_health reads (read only these from the lake).
SOH_COLUMNS = ("sample_id", "cycle_count", "stage", "complete", "start_utc_time", "charge_capacity_ah",
               "discharge_capacity_ah", "specific_discharge_capacity_mah_per_g")


def state_of_health(cycles: pa.Table, *, eol_threshold: float = 0.8) -> pa.Table:
    """One ``cycling_soh`` row per complete check-up of one cell (``cycles`` per ``cycling_cycles``).

    Equivalent full cycles: charge throughput (charge + discharge capacity of every cycle
    before the check-up) / (2 x the begin-of-life check-up's discharge capacity).
    """
    if cycles.num_rows == 0:
        return CYCLING_SOH.arrow_schema().empty_table()
    cycle_count = cycles.column("cycle_count").to_numpy()
    order = np.argsort(cycle_count, kind="stable")
    cycles = cycles.take(pa.array(order))
    throughput_ah = np.nan_to_num(cycles.column("charge_capacity_ah").to_numpy(zero_copy_only=False).astype(float)) + \
        np.nan_to_num(cycles.column("discharge_capacity_ah").to_numpy(zero_copy_only=False).astype(float))
    throughput_before_ah = np.cumsum(throughput_ah) - throughput_ah
    is_checkup = pc.fill_null(pc.and_(pc.equal(cycles.column("stage"), "checkup"), cycles.column("complete")), False)
    rows = np.flatnonzero(is_checkup.to_numpy(zero_copy_only=False))
    if rows.size == 0:
        return CYCLING_SOH.arrow_schema().empty_table()
    checkups = cycles.take(pa.array(rows))
    capacity_ah = checkups.column("discharge_capacity_ah").to_numpy(zero_copy_only=False).astype(float)
    soh = capacity_ah / capacity_ah[0]
    at_or_below = soh <= eol_threshold
    eol_row = int(np.argmax(at_or_below)) if at_or_below.any() else None
    checkup_cycles = checkups.column("cycle_count").to_numpy()
    table = pa.table({
        "sample_id": checkups.column("sample_id"),
        "checkup_index": np.arange(rows.size, dtype=np.int64),
        "cycle_count": checkup_cycles,
        "equivalent_full_cycles": throughput_before_ah[rows] / (2 * capacity_ah[0]),
        "utc_time": checkups.column("start_utc_time"),
        "discharge_capacity_ah": capacity_ah,
        "specific_discharge_capacity_mah_per_g": checkups.column("specific_discharge_capacity_mah_per_g"),
        "soh": soh,
        "end_of_life": np.arange(rows.size) == (eol_row if eol_row is not None else -1),
        "eol_reached": np.full(rows.size, eol_row is not None),
        "eol_cycle_count": pa.array([int(checkup_cycles[eol_row]) if eol_row is not None else None] * rows.size,
                                    pa.int64()),
    })
    return CYCLING_SOH.conform(table)


def attach_registry(soh: pa.Table, sample: dict) -> pa.Table:
    """``soh`` with the registry's ``series``, ``provider`` and ``batch`` of the cell (nulls when unknown)."""
    for name in REGISTRY_COLUMNS:
        value = sample.get(name) or None
        column = pa.array([value] * soh.num_rows, pa.string())
        if name in soh.column_names:
            soh = soh.set_column(soh.column_names.index(name), name, column)
        else:
            soh = soh.append_column(name, column)
    return CYCLING_SOH.conform(soh)


def series_statistics(soh_all_cells: pa.Table) -> pa.Table:
    """Per series x provider x batch and check-up: cells, mean/std of capacity and SoH; plus end-of-life rows.

    End-of-life rows have a null ``checkup_index``: one per series x provider x batch (spread
    between cells) and one per series with null provider and batch (spread between all its cells,
    and ``relative_spread_eol_between_providers``: std / mean of the providers' mean EoL cycles).
    Standard deviations are sample ones (ddof 1).
    """
    soh = soh_all_cells.filter(pc.is_valid(soh_all_cells.column("series")))
    if soh.num_rows == 0:  # no cell, or none with a series in the registry
        return CYCLING_SERIES.arrow_schema().empty_table()
    keys = list(REGISTRY_COLUMNS)
    per_checkup = soh.group_by(keys + ["checkup_index"]).aggregate([
        ("sample_id", "count_distinct"),
        ("discharge_capacity_ah", "mean"), ("discharge_capacity_ah", "stddev", pc.VarianceOptions(ddof=1)),
        ("soh", "mean"), ("soh", "stddev", pc.VarianceOptions(ddof=1)),
    ]).rename_columns(keys + ["checkup_index", "cell_count", "mean_discharge_capacity_ah",
                              "std_discharge_capacity_ah", "mean_soh", "std_soh"])
    per_checkup = per_checkup.append_column("relative_spread_capacity", pc.divide(
        per_checkup.column("std_discharge_capacity_ah"), per_checkup.column("mean_discharge_capacity_ah")))
    per_checkup = per_checkup.sort_by([(k, "ascending") for k in keys + ["checkup_index"]])
    return CYCLING_SERIES.conform(pa.concat_tables(
        [CYCLING_SERIES.conform(per_checkup), CYCLING_SERIES.conform(end_of_life_spread(soh))]))


def end_of_life_spread(soh: pa.Table) -> pa.Table:
    """End-of-life cycle statistics per series x provider x batch, then per series (providers pooled)."""
    eol = soh.filter(pc.fill_null(soh.column("end_of_life"), False))
    rows = []
    groups = sorted({tuple(r[k] for k in REGISTRY_COLUMNS) for r in soh.select(list(REGISTRY_COLUMNS)).to_pylist()})
    for series, provider, batch in groups:
        rows.append(_eol_row(eol, soh, series=series, provider=provider, batch=batch))
    for series in sorted({g[0] for g in groups}):
        pooled = _eol_row(eol, soh, series=series)
        provider_means = [r["mean_eol_cycle"] for r in rows if r["series"] == series and r["mean_eol_cycle"] is not None]
        pooled["relative_spread_eol_between_providers"] = _relative_std(provider_means)
        rows.append(pooled)
    return pa.Table.from_pylist(rows)


def _eol_row(eol: pa.Table, soh: pa.Table, **where: str | None) -> dict:
    def matching(table: pa.Table) -> pa.Table:
        mask = np.ones(table.num_rows, dtype=bool)
        for key, value in where.items():
            mask &= np.asarray(table.column(key).to_pylist(), dtype=object) == value
        return table.filter(pa.array(mask))

    cells = matching(soh).column("sample_id").unique()
    eol_cycles = np.asarray(matching(eol).column("cycle_count").to_pylist(), dtype=float)
    mean = float(eol_cycles.mean()) if eol_cycles.size else None
    std = float(eol_cycles.std(ddof=1)) if eol_cycles.size > 1 else None
    return {
        "series": where["series"], "provider": where.get("provider"), "batch": where.get("batch"),
        "checkup_index": None, "cell_count": len(cells), "mean_eol_cycle": mean, "std_eol_cycle": std,
        "relative_spread_eol": std / mean if std is not None and mean else None,
        "relative_spread_eol_between_providers": None,
    }


def _relative_std(values: list[float]) -> float | None:
    return float(np.std(values, ddof=1) / np.mean(values)) if len(values) > 1 else None


def trajectory_outliers(soh_all_cells: pa.Table, *, threshold: float = 3.5) -> pa.Table:
    """Robust z-score of each cell's SoH among the cells of its series at the same check-up.

    z = 0.6745 (SoH - median) / max(MAD, ``MIN_SOH_MAD``) over the cells of the series at that
    check-up index; ``outlier`` when |z| > ``threshold``. Groups of fewer than
    ``MIN_CELLS_FOR_OUTLIERS`` cells get no score. Columns: sample_id, series, checkup_index,
    cycle_count, soh, robust_z, outlier.
    """
    columns = ["sample_id", "series", "checkup_index", "cycle_count", "soh"]
    empty = pa.table({**{c: pa.array([], soh_all_cells.schema.field(c).type) for c in columns},
                      "robust_z": pa.array([], pa.float64()), "outlier": pa.array([], pa.bool_())})
    if soh_all_cells.num_rows == 0:
        return empty
    table = soh_all_cells.select(columns)
    series = np.asarray(table.column("series").to_pylist(), dtype=object)
    checkup = table.column("checkup_index").to_numpy()
    soh = table.column("soh").to_numpy(zero_copy_only=False).astype(float)
    robust_z = np.full(table.num_rows, np.nan)
    for key in {(s, c) for s, c in zip(series, checkup)}:
        rows = np.flatnonzero((series == key[0]) & (checkup == key[1]))
        if rows.size < MIN_CELLS_FOR_OUTLIERS:
            continue
        median = np.median(soh[rows])
        mad = max(np.median(np.abs(soh[rows] - median)), MIN_SOH_MAD)
        robust_z[rows] = MAD_TO_SIGMA * (soh[rows] - median) / mad
    order = np.lexsort((checkup, table.column("sample_id").to_pylist()))
    result = table.append_column("robust_z", pa.array(robust_z, from_pandas=True)).append_column(
        "outlier", pa.array(np.abs(np.nan_to_num(robust_z)) > threshold))
    return result.take(pa.array(order))
