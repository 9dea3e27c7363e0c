"""Alert rules: a warehouse table in, the events it holds out, each with a stable key so it alerts once."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pyarrow as pa

DIFFRACTOGRAM_CHANGED = "diffractogram_changed"
END_OF_LIFE = "end_of_life"
LEFT_SERIES_TRAJECTORY = "left_series_trajectory"
XAS_OUTSIDE = "xas_outside_electrochemistry"
RAW_FILE_REFUSED = "raw_file_refused"
RULES = (DIFFRACTOGRAM_CHANGED, END_OF_LIFE, LEFT_SERIES_TRAJECTORY, XAS_OUTSIDE, RAW_FILE_REFUSED)


@dataclass(frozen=True)
class Alert:
    """One event: which rule, which sample, the numbers behind it, and the key that identifies it."""

    rule: str
    sample_id: str | None
    event_key: str
    message: str
    values: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Alert:
        return cls(**{k: data[k] for k in ("rule", "sample_id", "event_key", "message", "values")})


def diffractogram_changes(comparisons: pa.Table) -> list[Alert]:
    """A ``d2b_comparisons`` row flagged significant. The key names the two measurements by their first
    run number, which stays the same while the later measurement's numors are still arriving."""
    alerts = []
    for row in comparisons.to_pylist():
        if not row["significant"]:
            continue
        later, earlier = _first_run(row["measurement_id"]), _first_run(row["previous_measurement_id"])
        alerts.append(Alert(
            DIFFRACTOGRAM_CHANGED, row["sample_id"], f"{DIFFRACTOGRAM_CHANGED}|{row['sample_id']}|{earlier}>{later}",
            f"{row['sample_id']}: diffractogram {row['measurement_id']} differs significantly from "
            f"{row['previous_measurement_id']} (reduced chi-square {row['reduced_chi_square']:.3g} > "
            f"{row['threshold']:g})",
            _rounded({k: row[k] for k in ("measurement_id", "previous_measurement_id", "reduced_chi_square",
                                          "threshold", "ratio_mean", "ratio_min", "ratio_max", "bins_compared")})))
    return alerts


def end_of_life(soh: pa.Table) -> list[Alert]:
    """The first check-up at or below the end-of-life SoH (``cycling_soh.end_of_life``), once per cell."""
    alerts = []
    for row in soh.to_pylist():
        if row["end_of_life"]:
            alerts.append(Alert(
                END_OF_LIFE, row["sample_id"], f"{END_OF_LIFE}|{row['sample_id']}",
                f"{row['sample_id']}: end of life reached at cycle {row['cycle_count']} "
                f"(SoH {100 * row['soh']:.1f} % at check-up {row['checkup_index']})",
                _rounded({k: row[k] for k in ("checkup_index", "cycle_count", "soh")})))
    return _first_per_sample(alerts)


def trajectory_departures(outliers: pa.Table) -> list[Alert]:
    """Each cell's first check-up flagged by ``science.soh.trajectory_outliers``, once per cell."""
    alerts = []
    for row in outliers.to_pylist():
        if row["outlier"]:
            alerts.append(Alert(
                LEFT_SERIES_TRAJECTORY, row["sample_id"], f"{LEFT_SERIES_TRAJECTORY}|{row['sample_id']}",
                f"{row['sample_id']}: SoH {100 * row['soh']:.1f} % at check-up {row['checkup_index']} departs from "
                f"its series {row['series']} (robust z {row['robust_z']:.2f})",
                _rounded({k: row[k] for k in ("series", "checkup_index", "cycle_count", "soh", "robust_z")})))
    return _first_per_sample(alerts)


def scans_outside(echem: pa.Table) -> list[Alert]:
    """An XAS scan whose time lies outside the cell's electrochemistry or in a gap of it (``xas_echem.alignment``)."""
    alerts = []
    for row in echem.to_pylist():
        if row["alignment"] in ("outside", "gap"):
            offset = row["time_offset_second"]
            alerts.append(Alert(
                XAS_OUTSIDE, row["sample_id"], f"{XAS_OUTSIDE}|{row['sample_id']}|{row['source_scan']}",
                f"{row['sample_id']}: XAS scan {row['source_scan']} is {row['alignment']} the electrochemistry"
                + (f" ({offset:.0f} s from the nearest point)" if offset is not None else ""),
                _rounded({"source_scan": row["source_scan"], "alignment": row["alignment"],
                          "scan_utc_time": _iso(row["scan_utc_time"]), "time_offset_second": offset})))
    return alerts


def refused_files(issues: pa.Table) -> list[Alert]:
    """A raw file (one content) with ``ingest_issues`` errors: one alert per file and content, however many
    of its rows were refused."""
    by_file: dict[tuple, list[dict]] = {}
    for row in issues.to_pylist():
        if row["severity"] == "error":
            by_file.setdefault((row["path"], row["sha256"]), []).append(row)
    alerts = []
    for (path, sha256), rows in by_file.items():
        first = rows[0]
        count = f" ({len(rows)} errors)" if len(rows) > 1 else ""
        alerts.append(Alert(
            RAW_FILE_REFUSED, first["sample_id"], f"{RAW_FILE_REFUSED}|{path}|{sha256 or ''}",
            f"{path}: {first['reason']}{count}",
            {"path": path, "technique": first["technique"], "sha256": sha256, "errors": len(rows),
             "first_location": first["location"], "first_reason": first["reason"]}))
    return alerts


def _first_per_sample(alerts: list[Alert]) -> list[Alert]:
    """Each event once (rules whose key is the sample keep its first row)."""
    return list({a.event_key: a for a in reversed(alerts)}.values())[::-1]


def _first_run(measurement_id: str | None) -> str:
    return (measurement_id or "").split("-")[0]


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _rounded(values: dict) -> dict:
    return {k: round(v, 6) if isinstance(v, float) else v for k, v in values.items()}
