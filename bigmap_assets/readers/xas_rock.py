"""SOLEIL ROCK normalised spectra written by *extranormal* (one averaged scan per text file).

Header (``#`` lines): ``Time at start=YYYY-MM-DD HH:MM:SS.fff`` (the beamline clock, local
time at SOLEIL, Europe/Paris), ``Time from start (seconds)`` (the averaging time),
``E0=<foil E0> Eshift=<shift applied>``, ``E0_pivot``, pre/post-edge ranges and ``I jump``
(the edge step). Data: calibrated energy, normalised mu, reference foil mu, its
derivative, I0, whitespace-aligned.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from ..ingest.errors import UnreadableFile
from ..science.xas import guess_k_edge
from .xas_columns import energy_order, numeric_block, reader_table, to_utc

NAME = "xas_rock"
TECHNIQUE = "xas"

SITE_TIMEZONE = "Europe/Paris"  # SOLEIL, Saint-Aubin
_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%b-%d %H:%M:%S.%f", "%Y-%b-%d %H:%M:%S")
_COLUMNS = ("energy_ev", "norm_mu", "reference_mu", "reference_derivative", "i0")
_NUMBER = r"([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan)"
_HEADER = {
    "start_local_time": re.compile(r"^#\s*Time at start\s*=\s*(.+)$"),
    "duration_second": re.compile(rf"^#\s*Time from start \(seconds\)\s*=\s*{_NUMBER}"),
    "reference_e0_ev": re.compile(rf"^#\s*E0\s*=\s*{_NUMBER}"),
    "energy_shift_ev": re.compile(rf"Eshift\s*=\s*{_NUMBER}"),
    "e0_pivot_ev": re.compile(rf"^#\s*E0_pivot\s*=\s*{_NUMBER}"),
    "pre_edge_range_ev": re.compile(rf"^#\s*pre-edge range:\s*\[{_NUMBER},\s*{_NUMBER}\]"),
    "post_edge_range_ev": re.compile(rf"^#\s*post-edge range:\s*\[{_NUMBER},\s*{_NUMBER}\]"),
    "edge_step": re.compile(rf"^#\s*I jump at E0_pivot\s*=\s*{_NUMBER}"),
    "pivot_spectrum": re.compile(r"^#\s*pivot spectrum:\s*(\S+)"),
}
_SERIES_NAME = re.compile(r"^(?:norm_)?(?P<series>.+?)_(?P<number>\d{4})(?:_av\d+)?(?:_\d+)?$")


def sniff(path: Path, head: bytes) -> bool:
    return b"produced by extranormal" in head[:400] or (head.startswith(b"#") and b"#Time at start=" in head
                                                        and b"I jump at E0_pivot" in head)


def _header(lines: list[str]) -> dict:
    facts: dict = {}
    for line in lines:
        for key, pattern in _HEADER.items():
            match = pattern.search(line)
            if match and key not in facts:
                values = list(match.groups())
                if key in ("start_local_time", "pivot_spectrum"):
                    facts[key] = values[0].strip()
                elif len(values) == 2:
                    facts[key] = [float(v) for v in values]
                else:
                    facts[key] = float(values[0])
    return facts


def _relative_ranges(facts: dict, e0_ev: float | None) -> dict:
    """The absolute pre/post-edge ranges of the header as pre1/pre2/norm1/norm2 relative to E0 (eV)."""
    ranges = {}
    for key, names in (("pre_edge_range_ev", ("pre1_ev", "pre2_ev")), ("post_edge_range_ev", ("norm1_ev", "norm2_ev"))):
        if key in facts and e0_ev is not None:
            ranges |= {name: bound - e0_ev for name, bound in zip(names, facts[key])}
    return ranges


def read(path: Path) -> tuple[pa.Table, dict]:
    path = Path(path)
    lines = path.read_text(encoding="latin-1").splitlines()
    header_end = next((i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), len(lines))
    facts = _header(lines[:header_end])
    if "start_local_time" not in facts:
        raise UnreadableFile(path, "no '#Time at start=' line: the scan cannot be placed in time")
    start_utc = to_utc(facts["start_local_time"], SITE_TIMEZONE, _TIME_FORMATS)
    if start_utc is None:
        raise UnreadableFile(path, f"start time {facts['start_local_time']!r} is not YYYY-MM-DD HH:MM:SS[.fff]")
    data = numeric_block(path, lines, header_end, len(_COLUMNS))
    repeats: list[str] = []
    order = energy_order(path, data[:, 0], repeats)
    columns = dict(zip(_COLUMNS, data[order].T))

    match = _SERIES_NAME.match(path.stem)
    scan_name = f"{match['series']}_{match['number']}" if match else path.stem
    e0_ev = facts.get("e0_pivot_ev", facts.get("reference_e0_ev"))
    element = guess_k_edge(facts["reference_e0_ev"]) if "reference_e0_ev" in facts else None
    assumed = [f"start time read as {SITE_TIMEZONE} local time (SOLEIL's clock)"]
    if element:
        assumed.append(f"{element} K edge inferred from the foil E0 {facts['reference_e0_ev']} eV")
    warnings = ["assumed: " + "; ".join(assumed), *repeats]
    scan = {
        "scan_index": 0, "scan_name": scan_name, "series": match["series"] if match else None,
        "series_number": int(match["number"]) if match else None,
        "start_utc_time": start_utc, "start_local_time": facts["start_local_time"], "timezone": SITE_TIMEZONE,
        "duration_second": facts.get("duration_second"), "element": element, "edge": "K" if element else None,
        "mu_source": "normalised in file (extranormal)", "normalised_by": "file",
        "e0_ev": e0_ev, "edge_step": facts.get("edge_step"),
        "reference_e0_ev": facts.get("reference_e0_ev"), "energy_shift_ev": facts.get("energy_shift_ev"),
        **_relative_ranges(facts, e0_ev),
        "pivot_spectrum": facts.get("pivot_spectrum"),
    }
    metadata = {"instrument": "SOLEIL ROCK (extranormal)", "timezone": SITE_TIMEZONE, "scans": [scan],
                "warnings": warnings}
    table = reader_table([{"scan_name": scan_name, "energy_ev": columns["energy_ev"], "norm_mu": columns["norm_mu"],
                           "i0": columns["i0"], "reference_mu": columns["reference_mu"]}],
                         channels={"reference_derivative": columns["reference_derivative"]})
    return table, metadata
