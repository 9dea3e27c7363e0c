"""What the warehouse knows about one sample, as plain rows for the report page."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from .. import schemas
from ..warehouse.lake import Lake

# The pipeline's plots about a sample, relative to warehouse/plots/ ({s}: the sample ID).
SAMPLE_PLOTS = {
    "cell_soh": "cycling/{s}_soh_versus_cycle.png",
    "soh": "cycling/soh_versus_cycle.png",
    "d2b_series": "d2b/{s}_series.png",
    "d2b_last_comparison": "d2b/{s}_last_comparison.png",
    "xas_heat_map": "xas/{s}_spectra_over_time.png",
    "xas_edge_versus_potential": "xas/{s}_edge_versus_potential.png",
}


@dataclass
class SampleFacts:
    sample_id: str
    registry: dict = field(default_factory=dict)  # the samples row (empty: not in the registry)
    overview: dict = field(default_factory=dict)  # the sample_overview row
    electrodes: list[dict] = field(default_factory=list)
    shipments: list[dict] = field(default_factory=list)
    experiments: list[dict] = field(default_factory=list)
    survey_answers: list[dict] = field(default_factory=list)
    checkups: list[dict] = field(default_factory=list)
    comparisons: list[dict] = field(default_factory=list)
    xas_scans: list[dict] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    plots: dict[str, str] = field(default_factory=dict)  # name -> path relative to warehouse/plots/


class Warehouse:
    """The lake's tables, each read once."""

    def __init__(self, warehouse_dir: Path):
        self.dir = Path(warehouse_dir)
        self.lake = Lake(self.dir / "lake")
        self._tables: dict[str, pa.Table] = {}

    def table(self, name: str) -> pa.Table:
        if name not in self._tables:
            declared = schemas.TABLES[name]
            parts = ([self.lake.read(name, p) for p in self.lake.partitions(name)] if declared.partitioned_by
                     else [self.lake.read(name)])
            parts = [declared.conform(p) for p in parts if p is not None]
            self._tables[name] = pa.concat_tables(parts) if parts else declared.arrow_schema().empty_table()
        return self._tables[name]

    def rows(self, name: str, sample_id: str, sort_by: list[str] | None = None) -> list[dict]:
        table = self.table(name)
        table = table.filter(pc.equal(table.column("sample_id"), sample_id))
        return (table.sort_by([(c, "ascending") for c in sort_by]) if sort_by else table).to_pylist()

    def sample_ids(self) -> list[str]:
        """Every sample of the overview (registry and data), in order."""
        return sorted(set(self.table("sample_overview").column("sample_id").to_pylist()))


def sample_facts(warehouse: Warehouse, sample_id: str) -> SampleFacts:
    facts = SampleFacts(sample_id)
    facts.registry = next(iter(warehouse.rows("samples", sample_id)), {})
    facts.overview = next(iter(warehouse.rows("sample_overview", sample_id)), {})
    facts.electrodes = warehouse.rows("electrodes", sample_id, ["electrode_id"])
    named = {sample_id} | {e["electrode_id"] for e in facts.electrodes}
    facts.shipments = [r for r in warehouse.table("shipments").sort_by("sent_date").to_pylist()
                       if named & set(r["sample_ids"] or [])]
    facts.experiments = [r for r in warehouse.table("experiments").sort_by("experiment_id").to_pylist()
                         if named & set(r["sample_ids"] or [])]
    forms = {(e["technique"], e["partner"]) for e in facts.experiments}
    facts.survey_answers = [r for r in warehouse.table("survey_answers").to_pylist()
                            if (r["technique"], r["partner"]) in forms and r["answer"] is not None]
    facts.checkups = warehouse.rows("cycling_soh", sample_id, ["checkup_index"])
    facts.comparisons = warehouse.rows("d2b_comparisons", sample_id, ["measurement_index"])
    facts.xas_scans = warehouse.rows("xas_echem", sample_id, ["scan_number"])
    facts.issues = warehouse.rows("ingest_issues", sample_id, ["path"])
    facts.alerts = warehouse.rows("alerts", sample_id, ["alert_utc_time"])
    plots = warehouse.dir / "plots"
    for name, pattern in SAMPLE_PLOTS.items():
        relative = pattern.format(s=sample_id)
        wanted = name != "soh" or facts.checkups  # the SoH plot is of every cell: shown where the cell has check-ups
        if wanted and (plots / relative).is_file():
            facts.plots[name] = relative
    return facts
