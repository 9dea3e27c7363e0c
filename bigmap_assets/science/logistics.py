"""Logistics figures from the registry tables: shipping times, experiment delays, archive completion.

Durations are whole days between calendar dates; months are 30.4375 days (365.25 / 12).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..schemas.registry import DAYS_PER_MONTH, LOGISTICS_METRICS


def days_between(start: pa.ChunkedArray, end: pa.ChunkedArray) -> np.ndarray:
    """``end - start`` in days (float, NaN where either date is missing)."""
    start_day = start.cast(pa.int32()).to_numpy(zero_copy_only=False).astype(float)
    end_day = end.cast(pa.int32()).to_numpy(zero_copy_only=False).astype(float)
    return end_day - start_day


def logistics_metrics(shipments: pa.Table, experiments: pa.Table, archive_records: pa.Table) -> pa.Table:
    """``logistics_metrics`` rows: per-shipment and per-experiment durations, then their summaries.

    Lost or undelivered shipments and unfinished experiments have no duration and are not counted.
    """
    rows: list[dict] = []
    shipping_day = days_between(shipments["sent_date"], shipments["received_date"])
    rows += _per_subject("shipping_time", shipments["shipment_id"].to_pylist(), shipping_day, "day")
    rows += _summary("shipping_time", shipping_day, "day")
    rows.append(_row("cumulative_shipping_time", "sum", np.nansum(shipping_day) / DAYS_PER_MONTH, "month"))

    delay_month = days_between(experiments["received_date"], experiments["completed_date"]) / DAYS_PER_MONTH
    measure_day = days_between(experiments["started_date"], experiments["completed_date"])
    ids = experiments["experiment_id"].to_pylist()
    rows += _per_subject("reception_to_completion", ids, delay_month, "month")
    rows += _summary("reception_to_completion", delay_month, "month")
    rows += _per_subject("experimental_time", ids, measure_day, "day")
    rows.append(_row("cumulative_experimental_time", "sum", np.nansum(measure_day) / DAYS_PER_MONTH, "month"))

    linked = sum(1 for entry in archive_records["notebook_entry"].to_pylist() if entry)
    total = archive_records.num_rows
    rows += [
        _row("archive_completion", "count", linked, "count"),
        _row("archive_records", "count", total, "count"),
        _row("archive_completion", "ratio", 100.0 * linked / total if total else float("nan"), "percent"),
    ]
    return LOGISTICS_METRICS.conform(pa.Table.from_pylist(rows))


def _row(metric: str, statistic: str, value: float, unit: str, subject_id: str | None = None) -> dict:
    return {"metric": metric, "subject_id": subject_id, "statistic": statistic, "value": float(value), "unit": unit}


def _per_subject(metric: str, ids: list[str], values: np.ndarray, unit: str) -> list[dict]:
    return [_row(metric, "value", v, unit, i) for i, v in zip(ids, values) if np.isfinite(v)]


def _summary(metric: str, values: np.ndarray, unit: str) -> list[dict]:
    done = values[np.isfinite(values)]
    if done.size == 0:
        return [_row(metric, "count", 0, "count")]
    return [
        _row(metric, "count", done.size, "count"),
        _row(metric, "mean", done.mean(), unit),
        _row(metric, "min", done.min(), unit),
        _row(metric, "max", done.max(), unit),
        _row(metric, "sum", done.sum(), unit),
    ]


def metric_value(metrics: pa.Table, metric: str, statistic: str, subject_id: str | None = None) -> float:
    """One number out of a ``logistics_metrics`` table (``KeyError`` when absent)."""
    for row in metrics.to_pylist():
        if (row["metric"], row["statistic"], row["subject_id"]) == (metric, statistic, subject_id):
            return row["value"]
    raise KeyError((metric, statistic, subject_id))
