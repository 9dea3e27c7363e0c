"""``bigmap d2b reduce`` (numors to a diffractogram) and ``bigmap d2b compare`` (two .xye files)."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..exports.xye import read_xye, write_xye
from ..readers import attach_metadata
from ..readers.d2b_nexus import read_calibration, read_numor
from ..science.diffraction import DEFAULT_THRESHOLD, OUTPUT_TYPES, compare_diffractograms, reduce_measurement, \
    reduction_facts
from ..warehouse.provenance import sha256_of, stamp

SUFFIXES = (".parquet", ".xye", ".csv")


def register(subparsers) -> None:
    d2b = subparsers.add_parser("d2b", help="ILL D2B tools: reduce numors, compare diffractograms")
    commands = d2b.add_subparsers(dest="d2b_command", metavar="D2B_COMMAND", required=True)
    p = commands.add_parser("reduce", help="reduce numors measured together into one diffractogram",
                            description="Merge D2B numors as Mantid's PowderILLDetectorScan does (monitor x1e6, "
                                        "0.05 degree bins, mean over pixels) and write the diffractogram.")
    p.add_argument("numors", type=Path, nargs="+", metavar="NUMOR")
    p.add_argument("--output", choices=OUTPUT_TYPES, default="1D", help="1D (default), 2D or 2DTubes")
    p.add_argument("--height-range", type=float, nargs=2, metavar=("MIN", "MAX"), help="pixel heights kept, m")
    p.add_argument("--no-crop", action="store_true", help="keep negative scattering angles")
    p.add_argument("--calibration", type=Path, metavar="FILE", help="vanadium efficiency map (Mantid processed NeXus)")
    p.add_argument("--align-tubes", action="store_true",
                   help="measured tube angles and heights of the run's era (Mantid's AlignTubes, default in 2018-2022)")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUT", help="output file: .parquet, .xye or .csv")
    p.set_defaults(func=cmd_reduce)
    c = commands.add_parser("compare", help="ratio and chi-square of two diffractograms (.xye)")
    c.add_argument("first", type=Path, metavar="A.xye", help="earlier diffractogram")
    c.add_argument("second", type=Path, metavar="B.xye", help="later diffractogram")
    c.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"reduced chi-square above which the change is significant (default {DEFAULT_THRESHOLD})")
    c.set_defaults(func=cmd_compare)


def cmd_reduce(args) -> int:
    if args.out.suffix not in SUFFIXES:
        raise ValueError(f"output file must end in one of {', '.join(SUFFIXES)}: {args.out}")
    if args.out.suffix == ".xye" and args.output != "1D":
        raise ValueError(".xye holds a 1D diffractogram: use .parquet or .csv for 2D outputs")
    numors = [stamp(attach_metadata(*read_numor(path)), str(path), sha256_of(path)) for path in args.numors]
    calibration = read_calibration(args.calibration) if args.calibration else None
    reduced = reduce_measurement(numors, output=args.output, height_range=args.height_range,
                                 crop_negative=not args.no_crop, calibration=calibration,
                                 align_tubes=args.align_tubes)
    facts = reduction_facts(reduced)
    if args.out.suffix == ".xye":
        write_xye(args.out, reduced, {"run_numbers": " ".join(map(str, facts["run_numbers"])),
                                      "start_utc_time": facts["start_utc_time"]})
    elif args.out.suffix == ".csv":
        pa_csv.write_csv(reduced, args.out)
    else:
        pq.write_table(reduced, args.out)
    print(f"{len(facts['run_numbers'])} numors ({facts['run_numbers'][0]}-{facts['run_numbers'][-1]}) -> "
          f"{facts['rows']} x {facts['bins']} bins from {facts['first_edge_degree']:.3f} deg -> {args.out}")
    return 0


def cmd_compare(args) -> int:
    stats = compare_diffractograms(read_xye(args.second), read_xye(args.first))
    if not stats["bins_compared"]:
        raise ValueError(f"{args.first} and {args.second} share no 2theta bin with nonzero intensities")
    significant = stats["reduced_chi_square"] > args.threshold
    print(f"bins compared      {stats['bins_compared']}")
    print(f"ratio B/A          mean {stats['ratio_mean']:.4f}  std {stats['ratio_std']:.4f}  "
          f"min {stats['ratio_min']:.4f}  max {stats['ratio_max']:.4f}")
    print(f"chi-square         {stats['chi_square']:.2f}  reduced {stats['reduced_chi_square']:.3f}")
    print(f"significant change {'yes' if significant else 'no'} (threshold {args.threshold})")
    return 0
