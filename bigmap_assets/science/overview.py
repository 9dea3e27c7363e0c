"""The cross-technique view: per sample, what every technique holds, and the coverage matrix.

Inputs are warehouse tables as Arrow tables; any of them may be ``None`` (not built yet),
which counts as nothing for that technique.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..schemas.registry import SAMPLE_COVERAGE, SAMPLE_OVERVIEW


def sample_overview(
    samples: pa.Table,
    *,
    raw_files: pa.Table | None = None,
    cycling_cycles: pa.Table | None = None,
    cycling_soh: pa.Table | None = None,
    d2b_numors: pa.Table | None = None,
    xas_scans: pa.Table | None = None,
    experiments: pa.Table | None = None,
    survey_answers: pa.Table | None = None,
    shipments: pa.Table | None = None,
    electrodes: pa.Table | None = None,
) -> pa.Table:
    """One ``sample_overview`` row per registry sample (plus any sample only the data knows).

    Experiments and shipments may name a cell or one of its electrodes; an electrode counts for its cell.
    """
    cycling_files = _count(_where(raw_files, technique="cycling", status="ok"))
    cycles = _count(_cycles_after_rest(cycling_cycles))
    checkups = _count(cycling_soh)
    d2b = _count(d2b_numors, distinct="measurement_index")
    xas = _count(xas_scans)
    cell_of = dict(zip(_column(electrodes, "electrode_id"), _column(electrodes, "sample_id")))
    used_by = _experiments_by_sample(experiments, cell_of)
    answers = _answers_by_form(survey_answers)
    carried = Counter(s for ids in _column(shipments, "sample_ids") for s in _cells(ids, cell_of))
    harvested = _count(electrodes)
    last_soh, eol_reached = _end_of_life_state(cycling_soh)
    registry = {row["sample_id"]: row for row in samples.to_pylist()}
    known = set(registry) | set(cycling_files) | set(cycles) | set(d2b) | set(xas)
    rows = []
    for sample_id in sorted(known):
        row = registry.get(sample_id, {})
        forms = used_by.get(sample_id, [])
        rows.append({
            "sample_id": sample_id, "series": row.get("series"), "provider": row.get("provider"),
            "role": row.get("role"), "cycling_files": cycling_files.get(sample_id, 0),
            "cycles": cycles.get(sample_id, 0), "checkups": checkups.get(sample_id, 0),
            "soh_at_end_percent": last_soh.get(sample_id),
            "reached_end_of_life": eol_reached.get(sample_id, False) or row.get("end_of_life_date") is not None,
            "d2b_measurements": d2b.get(sample_id, 0), "xas_scans": xas.get(sample_id, 0),
            "experiments": len(forms), "techniques": sorted({technique for technique, _ in forms}),
            "survey_answers": sum(answers.get(form, 0) for form in set(forms)),
            "shipments": carried.get(sample_id, 0), "electrodes": harvested.get(sample_id, 0),
        })
    return SAMPLE_OVERVIEW.conform(pa.Table.from_pylist(rows, schema=SAMPLE_OVERVIEW.arrow_schema()))


def sample_coverage(overview: pa.Table, experiments: pa.Table | None = None,
                    electrodes: pa.Table | None = None) -> pa.Table:
    """``sample_coverage`` rows: the warehouse's counts (cycling files, D2B measurements, XAS scans)
    and the experiments of the registry (an electrode counting for its cell), one row per (sample, technique)
    with something."""
    rows = []
    for row in overview.to_pylist():
        for technique, column in (("cycling", "cycling_files"), ("d2b", "d2b_measurements"), ("xas", "xas_scans")):
            if row[column]:
                rows.append({"sample_id": row["sample_id"], "technique": technique, "source": "warehouse",
                             "item_count": row[column]})
    cell_of = dict(zip(_column(electrodes, "electrode_id"), _column(electrodes, "sample_id")))
    per_technique = Counter((s, technique) for s, forms in _experiments_by_sample(experiments, cell_of).items()
                            for technique, _ in forms)
    rows += [{"sample_id": s, "technique": t, "source": "experiments", "item_count": n}
             for (s, t), n in sorted(per_technique.items())]
    return SAMPLE_COVERAGE.conform(pa.Table.from_pylist(rows, schema=SAMPLE_COVERAGE.arrow_schema()))


def coverage_matrix(coverage: pa.Table) -> tuple[list[str], list[str], np.ndarray]:
    """(sample IDs, techniques, counts[sample, technique]) of a ``sample_coverage`` table."""
    sample_ids = sorted(set(coverage["sample_id"].to_pylist()))
    techniques = sorted(set(coverage["technique"].to_pylist()))
    counts = np.zeros((len(sample_ids), len(techniques)), dtype=np.int64)
    for row in coverage.to_pylist():
        counts[sample_ids.index(row["sample_id"]), techniques.index(row["technique"])] += row["item_count"]
    return sample_ids, techniques, counts


def _column(table: pa.Table | None, name: str) -> list:
    return table[name].to_pylist() if table is not None and name in table.column_names else []


def _where(table: pa.Table | None, **equal: str) -> pa.Table | None:
    if table is None:
        return None
    for column, value in equal.items():
        table = table.filter(pc.equal(table[column], value))
    return table


def _cycles_after_rest(cycles: pa.Table | None) -> pa.Table | None:
    """Cycles proper: cycle 0 is the leading rest."""
    return None if cycles is None else cycles.filter(pc.greater(cycles["cycle_count"], 0))


def _count(table: pa.Table | None, distinct: str | None = None) -> dict[str, int]:
    """Rows (or distinct values of ``distinct``) per sample_id."""
    if table is None or table.num_rows == 0:
        return {}
    if distinct is None:
        return dict(Counter(table["sample_id"].to_pylist()))
    return dict(Counter(s for s, _ in set(zip(table["sample_id"].to_pylist(), table[distinct].to_pylist()))))


def _end_of_life_state(soh: pa.Table | None) -> tuple[dict[str, float], dict[str, bool]]:
    """Per sample: SoH (%) of its last check-up, and whether it reached end of life."""
    last: dict[str, tuple[int, float]] = {}
    reached: dict[str, bool] = defaultdict(bool)
    for row in soh.select(["sample_id", "checkup_index", "soh", "eol_reached"]).to_pylist() if soh is not None else []:
        if row["soh"] is not None and row["checkup_index"] >= last.get(row["sample_id"], (-1, 0.0))[0]:
            last[row["sample_id"]] = (row["checkup_index"], 100.0 * row["soh"])
        reached[row["sample_id"]] |= bool(row["eol_reached"])
    return {s: v for s, (_, v) in last.items()}, dict(reached)


def _cells(ids: list[str] | None, cell_of: dict[str, str]) -> set[str]:
    """The cells named by a list of cell or electrode IDs."""
    return {cell_of.get(i, i) for i in ids or []}


def _experiments_by_sample(experiments: pa.Table | None, cell_of: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """sample_id -> [(technique, partner)] of the experiments that used the cell or its electrodes."""
    used: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in experiments.select(["sample_ids", "technique", "partner"]).to_pylist() if experiments is not None else []:
        for sample_id in _cells(row["sample_ids"], cell_of):
            used[sample_id].append((row["technique"], row["partner"]))
    return dict(used)


def _answers_by_form(answers: pa.Table | None) -> dict[tuple[str, str], int]:
    """(technique, partner) -> number of given answers (yes, no, unsure, n.a.)."""
    if answers is None:
        return {}
    given = answers.filter(pc.is_valid(answers["answer"]))
    return dict(Counter(zip(given["technique"].to_pylist(), given["partner"].to_pylist())))
