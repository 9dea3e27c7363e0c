"""``bigmap xas normalise FILE...``: E0 and edge step of every scan, without Dagster."""

from __future__ import annotations

import sys
from pathlib import Path

from tabulate import tabulate

from ..ingest.errors import UnreadableFile
from ..readers import metadata_of, read
from ..science.xas import NormalisationSettings, build_scans
from ..warehouse.provenance import sha256_of, stamp


def register(subparsers) -> None:
    xas = subparsers.add_parser("xas", help="XAS tools: normalise spectra")
    commands = xas.add_subparsers(dest="xas_command", metavar="XAS_COMMAND", required=True)
    p = commands.add_parser("normalise", aliases=["normalize"], help="print E0, edge step and edge position per scan",
                            description="Read XAS files (ROCK, XDI, NXxas, column text), calibrate on the reference "
                                        "foil, normalise as larch's pre_edge does with its defaults (each unset "
                                        "parameter derived per scan by larch's rules) and print one line per scan. "
                                        "Points left out or merged, fit ranges with too few points, an ignored E0 "
                                        "and missing edge energies are warnings on stderr.")
    p.add_argument("files", type=Path, nargs="+", metavar="FILE")
    p.add_argument("--e0", type=float, default=None,
                   help="fixed E0 for every scan in eV (default: found per scan; ignored with a warning for a scan "
                        "whose second to last-but-one point does not bracket it, as larch does)")
    p.add_argument("--pre", type=float, nargs=2, default=(None, None), metavar=("PRE1", "PRE2"),
                   help="pre-edge range relative to E0, eV (default larch's: from the second point rounded to 5 eV, "
                        "to half of that)")
    p.add_argument("--norm", type=float, nargs=2, default=(None, None), metavar=("NORM1", "NORM2"),
                   help="post-edge range relative to E0, eV (default larch's: from min(25, NORM2/15) to the last "
                        "point, rounded to 5 eV)")
    p.add_argument("--nnorm", type=int, default=None,
                   help="post-edge polynomial degree (default: 2, 1 or 0 for a range of >= 300, >= 30 or < 30 eV)")
    p.add_argument("--level", type=float, default=0.5, help="normalised level of the edge position (default 0.5)")
    p.set_defaults(func=cmd_normalise)


def cmd_normalise(args) -> int:
    settings = NormalisationSettings(e0_ev=args.e0, pre1_ev=args.pre[0], pre2_ev=args.pre[1], norm1_ev=args.norm[0],
                                     norm2_ev=args.norm[1], nnorm=args.nnorm, edge_level=args.level)
    tables = [stamp(read_xas(path), str(path), sha256_of(path)) for path in args.files]
    scans, _ = build_scans(tables, sample_id="cli", settings=settings)
    columns = ["source_file", "scan_name", "start_utc_time", "element", "normalised_by", "e0_ev", "edge_step", "edge_energy_ev",
               "inflection_energy_ev", "energy_shift_ev"]
    rows = [[Path(row["source_file"]).name, *(_cell(row[c]) for c in columns[1:])] for row in scans.select(columns).to_pylist()]
    print(tabulate(rows, headers=["file", *(c.replace("_ev", " (eV)") for c in columns[1:])], tablefmt="simple",
                   disable_numparse=True))
    for row in scans.select(["source_file", "scan_name", "notes"]).to_pylist():
        for note in row["notes"].split("; ") if row["notes"] else []:
            print(f"warning: {Path(row['source_file']).name}#{row['scan_name']}: {note}", file=sys.stderr)
    return 0


def read_xas(path: Path):
    """The file's table, or ``UnreadableFile`` when it is not an XAS file."""
    table = read(path)
    meta = metadata_of(table)
    if meta.get("technique") != "xas":
        raise UnreadableFile(path, f"not an XAS file: it reads as {meta.get('format')} ({meta.get('technique')})")
    return table


def _cell(value):
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 100 else f"{value:.2f}"
    return "" if value is None else value
