"""``bigmap d2b reduce`` (numors to a diffractogram) and ``bigmap d2b compare`` (two .xye files)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..exports.xye import MONITOR_UNIT, read_xye, write_xye
from ..readers import attach_metadata
from ..readers.d2b_nexus import read_calibration, read_numor
from ..science.d2b_workflows import DEFAULT_WORKFLOW, WORKFLOWS
from ..science.diffraction import DEFAULT_THRESHOLD, OUTPUT_TYPES, compare_diffractograms, reduce_workflow, \
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
    p.add_argument("--mantid-workflow", choices=tuple(WORKFLOWS), default=DEFAULT_WORKFLOW,
                   help="current (default): today's Mantid; 2018: Mantid of 2018-2022 (AlignTubes, 20 pixels masked "
                        "at both tube ends, 30 rows at both ends of 2D outputs, -MaxHeight..MaxHeight height axis, "
                        "raw-only numors un-flipped)")
    p.add_argument("--output", choices=OUTPUT_TYPES, default="1D", help="1D (default), 2D or 2DTubes")
    p.add_argument("--height-range", type=float, nargs=2, action="append", default=[], metavar=("MIN", "MAX"),
                   help="pixel heights kept, m (HeightRange; repeat for several: with the current workflow each is "
                        "written beside the full height)")
    p.add_argument("--height-axis", type=float, nargs=3, metavar=("START", "STEP", "END"),
                   help="height rows START, START+STEP, ... below END, m (SumOverlappingTubes HeightAxis)")
    p.add_argument("--no-crop", action="store_true", help="keep negative scattering angles")
    p.add_argument("--no-monitor", action="store_true", help="raw counts: no monitor normalisation (NormaliseTo=None)")
    p.add_argument("--calibration", type=Path, metavar="FILE", help="vanadium efficiency map (Mantid processed NeXus)")
    p.add_argument("--align-tubes", action=argparse.BooleanOptionalAction, default=None,
                   help="tubes at the measured angles and heights of the run's era (Mantid's AlignTubes) or not; "
                        "default: the workflow's (current off, 2018 on). Alone it does not reproduce the 2018 "
                        "workflow, which also masks pixels and rows")
    p.add_argument("--mask-tubes", default="", metavar="LIST", help="tubes left out, e.g. 1,2,120-128")
    p.add_argument("--mask-pixels", action="append", default=[], metavar="TUBES:PIXELS",
                   help="pixels left out (1-based, pixel 1 at the bottom), e.g. 1-128:1-20 or 5:60-70; repeatable")
    p.add_argument("--mask-angles", type=float, nargs=2, action="append", default=[], metavar=("MIN", "MAX"),
                   help="leave out entries whose angle (2theta; tube angle for 2DTubes) lies in MIN..MAX degrees; "
                        "the angle grid stays; repeatable")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="OUT",
                   help="output file: .parquet, .xye or .csv (.xye: one file per height range, _h<min>_<max> added)")
    p.set_defaults(func=cmd_reduce)
    c = commands.add_parser("compare", help="ratio and chi-square of two diffractograms (.xye)")
    c.add_argument("first", type=Path, metavar="A.xye", help="earlier diffractogram")
    c.add_argument("second", type=Path, metavar="B.xye", help="later diffractogram")
    c.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help=f"reduced chi-square above which the change is significant (default {DEFAULT_THRESHOLD})")
    c.set_defaults(func=cmd_compare)


def _numbers(text: str, option: str) -> list[int]:
    """``1,2,10-12`` -> [1, 2, 10, 11, 12]."""
    numbers = []
    try:
        for part in text.split(","):
            first, _, last = part.strip().partition("-")
            numbers.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        raise ValueError(f"{option} expects numbers and ranges like 1,2,10-12, not {text!r}") from None
    return numbers


def _pixel_masks(texts: list[str]) -> list[tuple[int, int, int]]:
    """``TUBES:PIXELS`` -> (tube, first pixel, last pixel) for every tube of every text."""
    masks = []
    for text in texts:
        tubes, sep, pixels = text.partition(":")
        if not sep:
            raise ValueError(f"--mask-pixels expects TUBES:PIXELS like 1-128:1-20, not {text!r}")
        for first, last in _runs(_numbers(pixels, "--mask-pixels")):
            masks += [(tube, first, last) for tube in _numbers(tubes, "--mask-pixels")]
    return masks


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted ``numbers`` as (first, last) pairs."""
    runs = []
    for number in sorted(set(numbers)):
        if runs and number == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def cmd_reduce(args) -> int:
    if args.out.suffix not in SUFFIXES:
        raise ValueError(f"output file must end in one of {', '.join(SUFFIXES)}: {args.out}")
    if args.out.suffix == ".xye" and args.output != "1D":
        raise ValueError(".xye holds a 1D diffractogram: use .parquet or .csv for 2D outputs")
    numors = [stamp(attach_metadata(*read_numor(path)), str(path), sha256_of(path)) for path in args.numors]
    calibration = read_calibration(args.calibration) if args.calibration else None
    reduced = reduce_workflow(numors, outputs=[args.output], height_ranges=args.height_range,
                              height_axis=args.height_axis, workflow=args.mantid_workflow,
                              crop_negative=not args.no_crop, calibration=calibration,
                              normalise_to_monitor=not args.no_monitor, align_tubes=args.align_tubes,
                              masked_tubes=_numbers(args.mask_tubes, "--mask-tubes") if args.mask_tubes else [],
                              masked_pixels=_pixel_masks(args.mask_pixels),
                              masked_angles_degree=args.mask_angles)
    facts = reduction_facts(reduced[0])
    runs = facts["run_numbers"]
    print(f"{len(runs)} numors ({runs[0]}-{runs[-1]}), Mantid workflow {facts['mantid_workflow']}")
    if args.out.suffix == ".xye":
        for table in reduced:
            path = args.out if table is reduced[0] else _window_path(args.out, reduction_facts(table))
            write_xye(path, table, {"run_numbers": " ".join(map(str, runs)), "start_utc_time": facts["start_utc_time"],
                                    "mantid_workflow": facts["mantid_workflow"]},
                      "counts (no monitor normalisation)" if args.no_monitor else MONITOR_UNIT)
            print(_summary(read_xye(path), path, reduction_facts(table)))
        return 0
    written = pa.concat_tables(reduced)
    if args.out.suffix == ".csv":
        pa_csv.write_csv(written, args.out)
    else:
        pq.write_table(written, args.out)
    for table in reduced:
        print(_summary(table, args.out, reduction_facts(table)))
    return 0


def _window_path(out: Path, facts: dict) -> Path:
    low, high = facts["height_range_metre"]
    return out.with_name(f"{out.stem}_h{low:g}_{high:g}{out.suffix}")


def _summary(written: pa.Table, path: Path, facts: dict) -> str:
    """What ``path`` holds of one reduced output: rows x bins and the first and last bin centre as written."""
    x = np.unique(written.column("two_theta_degree").to_numpy())
    window = facts["height_range_metre"]
    heights = "full height" if window is None else f"heights {window[0]:g}..{window[1]:g} m"
    return (f"{path}: {written.num_rows // x.size} x {x.size} bins ({heights}), 2theta bin centres "
            f"{x[0]:.4f} to {x[-1]:.4f} deg every {facts['bin_degree']:.4f}")


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
