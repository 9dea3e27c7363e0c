"""Notebook-style entries: one Markdown page per sample saying what was done to it and where its data are.
No Dagster.

Made from the registry (the cell, its electrodes, shipments, experiments, archive records), the
``sample_overview`` row and the archive bundles. Nothing in an entry depends on the clock, so an
unchanged sample gives a byte-identical entry.
"""

from __future__ import annotations

from pathlib import Path

from .bundle import Bundle
from .facts import TECHNIQUE_LABELS, iso_date

NOTEBOOK_NAME = "notebook.md"


def notebook_entry(sample_id: str, *, sample: dict, overview: dict | None, electrodes: list[dict],
                   shipments: list[dict], experiments: list[dict], archive_records: list[dict],
                   bundles: dict[str, Bundle], data_dir: Path) -> str:
    """The Markdown entry of ``sample_id``; ``bundles`` maps a technique to its bundle."""
    lines = [f"# {sample_id}", ""]
    lines += _cell(sample) + _done(overview, experiments, shipments, electrodes)
    lines += _where(bundles, archive_records, experiments, data_dir)
    return "\n".join(lines).rstrip() + "\n"


def _cell(sample: dict) -> list[str]:
    if not sample:
        return ["Not in the registry: no provider, series or active mass known.", ""]
    mass = f"{sample['active_mass_mg']:g} mg" if sample.get("active_mass_mg") is not None else "unknown"
    rows = [("provider", sample.get("provider")), ("batch", sample.get("batch")), ("series", sample.get("series")),
            ("chemistry", sample.get("chemistry")), ("cathode active mass", mass), ("role", sample.get("role")),
            ("assembled", iso_date(sample.get("assembly_date"))),
            ("end of life (80 % SoH)", iso_date(sample.get("end_of_life_date")) or "not reached"),
            ("site clock", sample.get("timezone"))]
    return ["## The cell", "", "| | |", "|---|---|", *[f"| {k} | {_cell_text(v)} |" for k, v in rows], ""]


def _done(overview: dict | None, experiments: list[dict], shipments: list[dict], electrodes: list[dict]) -> list[str]:
    lines = ["## What was done", ""]
    if overview:
        soh = overview.get("soh_at_end_percent")
        lines.append(f"- Cycling: {overview['cycling_files']} file(s), {overview['cycles']} cycles, "
                     f"{overview['checkups']} check-ups"
                     + (f", last SoH {soh:.1f} %" if soh is not None else "")
                     + (", end of life reached" if overview.get("reached_end_of_life") else ""))
        lines.append(f"- D2B: {overview['d2b_measurements']} measurement(s); XAS: {overview['xas_scans']} scan(s)")
    else:
        lines.append("- Nothing in the warehouse yet (no `sample_overview` row).")
    if electrodes:
        lines.append("- Electrodes harvested: " + ", ".join(
            f"{e['electrode_id']} ({e['material']}{', ' + e['state'] if e.get('state') else ''})" for e in electrodes))
    lines.append("")
    if experiments:
        lines += ["| experiment | partner | technique | site | received | started | completed |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {e['experiment_id']} | {_cell_text(e.get('partner'))} | {_cell_text(e.get('technique'))} | "
                  f"{_cell_text(e.get('site_type'))} | {iso_date(e.get('received_date')) or ''} | "
                  f"{iso_date(e.get('started_date')) or ''} | {iso_date(e.get('completed_date')) or 'running'} |"
                  for e in experiments]
        lines.append("")
    if shipments:
        lines += ["| shipment | from | to | sent | received |", "|---|---|---|---|---|"]
        lines += [f"| {s['shipment_id']} | {_cell_text(s.get('from_site'))} | {_cell_text(s.get('to_site'))} | "
                  f"{iso_date(s.get('sent_date')) or ''} | "
                  f"{'lost' if s.get('lost') else iso_date(s.get('received_date')) or 'in transit'} |" for s in shipments]
        lines.append("")
    return lines


def _where(bundles: dict[str, Bundle], archive_records: list[dict], experiments: list[dict],
           data_dir: Path) -> list[str]:
    lines = ["## Where the data are", ""]
    if not bundles:
        lines += ["No archive bundle yet.", ""]
    for technique, bundle in sorted(bundles.items()):
        state = "record valid, ready to upload" if not bundle.problems else \
            f"record NOT valid ({len(bundle.problems)} problem(s), first: {bundle.problems[0]})"
        lines += [f"### {TECHNIQUE_LABELS[technique]}", "",
                  f"Bundle `{_relative(bundle.folder, data_dir)}/` ({state}):", ""]
        lines += [f"- `{f.name}` ({f.size_byte:,} bytes, sha256 `{f.sha256[:12]}`)" for f in bundle.files]
        lines.append("")
    partners = {(e.get("partner"), e.get("technique")) for e in experiments}
    records = [r for r in archive_records if (r.get("partner"), r.get("technique")) in partners]
    if records:
        lines += ["Archive records of these experiments (registry):", ""]
        lines += [f"- {r['record_id']} ({r.get('partner')}, {r.get('technique')}): notebook entry "
                  f"{r.get('notebook_entry') or 'missing'}" for r in sorted(records, key=lambda r: r["record_id"])]
        lines.append("")
    return lines


def _relative(folder: Path, data_dir: Path) -> str:
    try:
        return str(Path(folder).resolve().relative_to(Path(data_dir).resolve()))
    except ValueError:
        return str(folder)


def _cell_text(value) -> str:
    return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")
