"""HTML of the sample pages and the index: self-contained (inline CSS), images by relative path."""

from __future__ import annotations

import datetime as dt
from html import escape
from urllib.parse import quote

from .facts import SampleFacts

PLOTS_FROM_REPORT = "../plots/"  # warehouse/report/ -> warehouse/plots/

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; max-width: 48%; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85em; color: #555; } .none { color: #777; font-style: italic; }
.flag { color: #a40000; font-weight: bold; } nav { font-size: 0.9em; }
"""

REGISTRY_FIELDS = (("provider", "Provider"), ("batch", "Batch"), ("series", "Electrolyte series"),
                   ("chemistry", "Chemistry"), ("active_mass_mg", "Active mass (mg)"), ("role", "Role"),
                   ("timezone", "Site timezone"), ("assembly_date", "Assembled"),
                   ("end_of_life_date", "End of life (registry)"))
OVERVIEW_FIELDS = (("cycling_files", "Cycling files"), ("cycles", "Cycles"), ("checkups", "Check-ups"),
                   ("soh_at_end_percent", "Last SoH (%)"), ("d2b_measurements", "D2B measurements"),
                   ("xas_scans", "XAS scans"), ("experiments", "Experiments"), ("shipments", "Shipments"))


def sample_page(facts: SampleFacts, code_version: str = "") -> str:
    s = facts.sample_id
    body = [f'<nav><a href="index.html">All samples</a></nav>', f"<h1>{escape(s)}</h1>",
            _identity(facts), _shipments(facts), _soh(facts), _d2b(facts), _xas(facts), _survey(facts),
            _issues(facts), _alerts(facts)]
    return _document(f"{s}: sample report", body, code_version)


def index_page(rows: list[dict], counts: dict[str, dict[str, int]], code_version: str = "") -> str:
    """``rows``: sample_overview rows; ``counts``: sample -> {"issues": n, "alerts": n}."""
    header = ["Sample", "Series", "Provider", "Role", "Cycles", "Last SoH (%)", "End of life", "D2B measurements",
              "XAS scans", "Open ingest issues", "Alerts"]
    lines = []
    for row in rows:
        s = row["sample_id"]
        extra = counts.get(s, {})
        lines.append([f'<a href="{quote(s)}.html">{escape(s)}</a>', _text(row.get("series")),
                      _text(row.get("provider")), _text(row.get("role")), _num(row.get("cycles")), _num(row.get("soh_at_end_percent"), 1),
                      '<span class="flag">reached</span>' if row.get("reached_end_of_life") else "",
                      _num(row.get("d2b_measurements")), _num(row.get("xas_scans")), _num(extra.get("issues", 0)),
                      _num(extra.get("alerts", 0))])
    body = ["<h1>Samples</h1>", f"<p>{len(rows)} samples in the warehouse.</p>", _table(header, lines, raw=True)]
    return _document("Sample reports", body, code_version)


def _identity(f: SampleFacts) -> str:
    if not f.registry:
        known = '<p class="flag">Not in the sample registry (registry/samples.csv).</p>'
    else:
        known = _facts_table([(label, _text(f.registry.get(key))) for key, label in REGISTRY_FIELDS])
    counts = _facts_table([(label, _text(f.overview.get(key))) for key, label in OVERVIEW_FIELDS]) if f.overview else ""
    techniques = ", ".join(f.overview.get("techniques") or []) if f.overview else ""
    electrodes = (_table(["Electrode", "Material", "State"], [[e["electrode_id"], e["material"], e["state"]]
                                                                for e in f.electrodes]) if f.electrodes
                  else _none("No electrode harvested from this cell."))
    measured = f"<p>Techniques that measured it or its electrodes: {escape(techniques)}</p>" if techniques else ""
    return "<h2>Identity and registry</h2>" + known + counts + measured + "<h3>Electrodes</h3>" + electrodes


def _shipments(f: SampleFacts) -> str:
    rows = [[r["shipment_id"], r["from_site"], r["to_site"], r["sent_date"], r["received_date"]
             or ("lost" if r["lost"] else "in transit"), r["carrier"], r["contents"]] for r in f.shipments]
    return "<h2>Shipment history</h2>" + (
        _table(["Shipment", "From", "To", "Sent", "Received", "Carrier", "Contents"], rows) if rows
        else _none("No shipment carried this sample."))


def _soh(f: SampleFacts) -> str:
    if not f.checkups:
        return "<h2>State of health</h2>" + _none("No check-up cycle in cycling_soh.")
    eol = next((c for c in f.checkups if c["end_of_life"]), None)
    verdict = (f'<p class="flag">End of life (80 % SoH) reached at cycle {eol["cycle_count"]} '
               f'(check-up {eol["checkup_index"]}).</p>' if eol else "<p>End of life not reached.</p>")
    rows = [[c["checkup_index"], c["cycle_count"], _num(c["discharge_capacity_ah"], 5),
             _num(100 * c["soh"] if c["soh"] is not None else None, 1), "end of life" if c["end_of_life"] else ""]
            for c in f.checkups]
    return ("<h2>State of health</h2>" + verdict
            + _figures(f, [("cell_soh", "SoH of this cell against cycle: check-ups, formation and ageing cycles, "
                                        "80 % line and end of life"),
                           ("soh", "SoH against cycle, every cell of the warehouse (its series in colour)")])
            + _table(["Check-up", "Cycle", "Discharge capacity (Ah)", "SoH (%)", ""], rows))


def _d2b(f: SampleFacts) -> str:
    if not f.comparisons and "d2b_series" not in f.plots:
        return "<h2>Neutron diffraction (D2B)</h2>" + _none("No D2B diffractogram.")
    last = f.comparisons[-1] if f.comparisons else None
    summary = (f"<p>Last comparison: {escape(last['measurement_id'] or '')} against "
               f"{escape(last['previous_measurement_id'] or '')}: reduced chi-square {last['reduced_chi_square']:.3g} "
               f"(threshold {last['threshold']:g}), "
               + ('<span class="flag">significant change</span>' if last["significant"] else "no significant change")
               + f", intensity ratio {last['ratio_mean']:.4f} &plusmn; {last['ratio_std']:.4f}.</p>" if last else "")
    rows = [[c["previous_measurement_id"], c["measurement_id"], _num(c["reduced_chi_square"], 3),
             "yes" if c["significant"] else "no"] for c in f.comparisons]
    return ("<h2>Neutron diffraction (D2B)</h2>" + summary
            + _figures(f, [("d2b_series", "Diffractogram series beside the cell potential"),
                           ("d2b_last_comparison", "Last two diffractograms and their ratio")])
            + (_table(["Earlier", "Later", "Reduced chi-square", "Significant"], rows) if rows else ""))


def _xas(f: SampleFacts) -> str:
    if not f.xas_scans:
        return "<h2>X-ray absorption (XAS)</h2>" + _none("No XAS scan aligned with the electrochemistry.")
    statuses = [s["alignment"] for s in f.xas_scans]
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in sorted(set(statuses)))
    rows = [[s["scan_number"], s["scan_utc_time"], _num(s["voltage_volt"], 4), _num(s["state_of_charge"], 3),
             _num(s["edge_energy_ev"], 2), s["alignment"]] for s in f.xas_scans]
    return ("<h2>X-ray absorption (XAS)</h2>"
            f"<p>{len(statuses)} scans; alignment with the cycling: {escape(counts)}.</p>"
            + _figures(f, [("xas_heat_map", "Normalised spectra over time (heat map) with the cell potential"),
                           ("xas_edge_versus_potential", "Edge position against potential")])
            + _table(["Scan", "Time (UTC)", "Potential (V)", "State of charge", "Edge position (eV)", "Alignment"],
                     rows))


def _survey(f: SampleFacts) -> str:
    rows = [[f"{r['technique']} ({r['partner']})", r["comparison"], r["material"], r["property"], r["answer"],
             r["note"]] for r in f.survey_answers]
    return "<h2>Survey answers of the techniques that measured it</h2>" + (
        _table(["Technique (partner)", "Comparison", "Material", "Property", "Answer", "Note"], rows) if rows
        else _none("No survey answer from a technique that measured this sample or its electrodes."))


def _issues(f: SampleFacts) -> str:
    rows = [[r["path"], r["severity"], r["location"], r["reason"]] for r in f.issues]
    return "<h2>Open ingest issues</h2>" + (
        _table(["File", "Severity", "Where", "Reason"], rows) if rows else _none("None: every file was read."))


def _alerts(f: SampleFacts) -> str:
    rows = [[r["alert_utc_time"], r["rule"].replace("_", " "), r["message"]] for r in f.alerts]
    return "<h2>Alerts</h2>" + (_table(["When (UTC)", "Rule", "Alert"], rows) if rows else _none("No alert."))


def _figures(f: SampleFacts, wanted: list[tuple[str, str]]) -> str:
    return "".join(f'<figure><img src="{PLOTS_FROM_REPORT}{quote(f.plots[name])}" alt="{escape(caption)}">'
                   f"<figcaption>{escape(caption)}</figcaption></figure>"
                   for name, caption in wanted if name in f.plots)


def _facts_table(pairs: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in pairs) + "</table>"


def _table(header: list[str], rows: list[list], raw: bool = False) -> str:
    """A table; cells are escaped unless ``raw`` (already HTML)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{v if raw else _text(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _none(text: str) -> str:
    return f'<p class="none">{escape(text)}</p>'


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return escape(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, float):
        return f"{value:.6g}"
    return escape(str(value))


def _num(value, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else escape(str(value))


def _document(title: str, body: list[str], code_version: str) -> str:
    footer = (f'<p class="none">Made by bigmap-assets {escape(code_version)} from the warehouse.</p>'
              if code_version else "")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(body) + f"\n{footer}</body></html>\n")
