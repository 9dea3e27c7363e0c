"""What the warehouse says about one sample and technique, gathered for its archive bundle. No Dagster.

``Facts`` holds plain values (registry rows, raw-file provenance, a summary of the tables);
``summarise`` reads the small derived tables only (cycles, check-ups, numors, scans), never the
time series, so a bundle of a long experiment is described in bounded memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

# The warehouse tables of each technique's partition, in the order they go into a bundle.
TABLES = {
    "cycling": ("cycling_timeseries", "cycling_cycles", "cycling_soh"),
    "d2b": ("d2b_numors", "d2b_diffractograms", "d2b_comparisons"),
    "xas": ("xas_scans", "xas_spectra", "xas_echem"),
}
TECHNIQUE_LABELS = {"cycling": "Galvanostatic cycling", "d2b": "Neutron powder diffraction (ILL D2B)",
                    "xas": "X-ray absorption spectroscopy"}
# The per-sample plots each technique's assets write under warehouse/plots/<technique>/<sample_id>_<name>.png.
PLOTS = {"cycling": ("soh_versus_cycle",), "d2b": ("last_comparison", "series"), "xas": ("spectra_over_time", "edge_versus_potential")}
# Which registry experiments (free-text technique) are this technique's.
EXPERIMENT_PATTERNS = {"cycling": re.compile(r"cycl", re.I), "d2b": re.compile(r"d2b|neutron", re.I),
                       "xas": re.compile(r"\bxas\b|absorption", re.I)}
# Instruments named by the reader that accepted the files.
READER_INSTRUMENTS = {
    "eclab_mpr": "BioLogic potentiostat (EC-Lab)", "eclab_mpt": "BioLogic potentiostat (EC-Lab)",
    "neware": "Neware battery tester", "arbin": "Arbin battery tester", "maccor": "Maccor battery tester",
    "basytec": "BaSyTec battery tester", "novonix": "Novonix high-precision charger",
    "d2b_nexus": "D2B high-resolution powder diffractometer, Institut Laue-Langevin",
    "xas_rock": "ROCK beamline, SOLEIL",
}


@dataclass
class Facts:
    """Everything a bundle's metadata states about one (sample, technique)."""

    sample_id: str
    technique: str
    sample: dict = field(default_factory=dict)  # registry row; empty when the cell is not registered
    electrodes: list[dict] = field(default_factory=list)
    experiments: list[dict] = field(default_factory=list)  # this technique's experiments that used the sample
    raw_files: list[dict] = field(default_factory=list)  # path, sha256, size_byte, reader, status
    summary: dict = field(default_factory=dict)  # technique-specific numbers (see ``summarise``)
    start_utc: datetime | None = None
    end_utc: datetime | None = None

    @property
    def instruments(self) -> list[str]:
        readers = sorted({f["reader"] for f in self.raw_files if f.get("reader")})
        return [READER_INSTRUMENTS.get(r, f"instrument read by {r}") for r in readers]


def experiments_of(experiments: list[dict], sample_id: str, technique: str) -> list[dict]:
    """The registry experiments of ``technique`` whose samples include ``sample_id``, by ID."""
    pattern = EXPERIMENT_PATTERNS[technique]
    rows = [e for e in experiments if sample_id in (e.get("sample_ids") or []) and pattern.search(e.get("technique") or "")]
    return sorted(rows, key=lambda e: e["experiment_id"])


# The columns ``summarise`` reads of each small derived table (the bundle streams the others whole).
SUMMARY_COLUMNS = {
    "cycling_cycles": ["stage", "start_utc_time", "duration_second", "complete"],
    "cycling_soh": ["soh", "eol_cycle_count"],
    "d2b_numors": ["measurement_index", "wavelength_angstrom", "start_utc_time"],
    "d2b_comparisons": ["significant"],
    "xas_scans": ["element", "edge", "start_utc_time", "stop_utc_time"],
}


def summarise(technique: str, tables: dict[str, pa.Table]) -> tuple[dict, datetime | None, datetime | None]:
    """Technique-specific numbers of the partition's tables, and the period measured (UTC)."""
    return {"cycling": _cycling, "d2b": _d2b, "xas": _xas}[technique](tables)


def _cycling(tables: dict[str, pa.Table]) -> tuple[dict, datetime | None, datetime | None]:
    """Counted in Arrow, not row by row: a long test has hundreds of thousands of cycles."""
    cycles, soh = tables.get("cycling_cycles"), tables.get("cycling_soh")
    summary: dict = {}
    start = end = None
    if cycles is not None and cycles.num_rows:
        stages = cycles["stage"].drop_null()
        stages = pc.filter(stages, pc.invert(pc.is_in(stages, pa.array(["rest", ""])))).value_counts()
        summary["cycles"] = int(pc.sum(pc.fill_null(cycles["complete"], False).cast(pa.int64())).as_py() or 0)
        summary["cycles_by_stage"] = dict(sorted((s["values"].as_py(), s["counts"].as_py()) for s in stages))
        start = pc.min(cycles["start_utc_time"]).as_py()
        if start is not None:
            microseconds = pc.multiply(pc.fill_null(cycles["duration_second"], 0.0), 1e6)
            ends = pc.add(cycles["start_utc_time"], pc.cast(pc.round(microseconds), pa.int64()).cast(pa.duration("us")))
            end = pc.max(ends).as_py()
    if soh is not None and soh.num_rows:
        last = soh.slice(soh.num_rows - 1).select(["soh", "eol_cycle_count"]).to_pylist()[0]
        summary["checkups"] = soh.num_rows
        summary["last_soh"] = round(last["soh"], 4) if last["soh"] is not None else None
        summary["end_of_life_cycle"] = last["eol_cycle_count"]
    return summary, start, end


def _d2b(tables: dict[str, pa.Table]) -> tuple[dict, datetime | None, datetime | None]:
    numors, comparisons = tables.get("d2b_numors"), tables.get("d2b_comparisons")
    summary: dict = {}
    start = end = None
    if numors is not None and numors.num_rows:
        rows = numors.select(["measurement_index", "wavelength_angstrom", "start_utc_time"]).to_pylist()
        summary["numors"] = len(rows)
        summary["measurements"] = len({r["measurement_index"] for r in rows})
        summary["wavelengths_angstrom"] = sorted({round(r["wavelength_angstrom"], 4) for r in rows
                                                  if r["wavelength_angstrom"] is not None})
        times = [r["start_utc_time"] for r in rows if r["start_utc_time"] is not None]
        start, end = (min(times), max(times)) if times else (None, None)
    if comparisons is not None and comparisons.num_rows:
        summary["significant_changes"] = sum(bool(v) for v in comparisons.column("significant").to_pylist())
    return summary, start, end


def _xas(tables: dict[str, pa.Table]) -> tuple[dict, datetime | None, datetime | None]:
    scans = tables.get("xas_scans")
    summary: dict = {}
    start = end = None
    if scans is not None and scans.num_rows:
        rows = scans.select(["element", "edge", "start_utc_time", "stop_utc_time"]).to_pylist()
        summary["scans"] = len(rows)
        summary["edges"] = sorted({f"{r['element']} {r['edge']}" for r in rows if r["element"] and r["edge"]})
        starts = [r["start_utc_time"] for r in rows if r["start_utc_time"] is not None]
        stops = [r["stop_utc_time"] for r in rows if r["stop_utc_time"] is not None]
        start = min(starts) if starts else None
        end = max(stops) if stops else None
    return summary, start, end


def iso_utc(moment: datetime | None) -> str | None:
    """``2023-06-24T10:00:00Z`` (seconds), or None."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def iso_date(value: date | datetime | str | None) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).date().isoformat()
    return value.isoformat() if isinstance(value, date) else str(value)


def pipeline_outputs(warehouse_dir: Path, technique: str, sample_id: str) -> list[Path]:
    """Files the pipeline already wrote for the partition: exports (``.xye``, XDI) and plots, sorted."""
    exports = Path(warehouse_dir) / "exports" / technique / sample_id
    plots = Path(warehouse_dir) / "plots" / technique
    found = sorted(p for p in exports.glob("*") if p.is_file()) if exports.is_dir() else []
    found += [p for name in PLOTS[technique] if (p := plots / f"{sample_id}_{name}.png").is_file()]
    return found
