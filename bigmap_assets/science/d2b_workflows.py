"""The two Mantid D2B reduction workflows, as named presets of ``diffraction.reduce_measurement``.

``current``: today's ``PowderILLDetectorScan`` (``WorkflowAlgorithms/PowderILLDetectorScan.py`` @75caca2e)
with today's ``LoadILLDiffraction``: AlignTubes off, no pixel masks, the height axis of tube 1, every
``HeightRange`` pair reduced beside the full-height output, and the counts of ``data`` taken as they are
(the current loader never flips tubes, so a raw-only numor keeps the DAQ's U-shape).

``2018``: the workflow of Mantid in 2018-2022 (when the BIG-MAP data were reduced;
``PowderILLDetectorScan`` / ``PowderDiffILLDetScanReduction.py`` with ``LoadILLDiffraction`` of that time):
``UseCalibratedData`` (the calibrated ``data`` block where the numor has one), ``AlignTubes`` on,
``InitialMask`` 20 pixels masked at both ends of every tube (88 of 128 used), ``FinalMask`` 30 rows
zeroed at both ends of 2D/2DTubes outputs (rows 0..30 and n-30..n-1, as its ``MaskDetectors`` index
list reads), without ``HeightRange`` the height axis ``-MaxHeight, PixelHeight, MaxHeight`` where the
loader wrote ``MaxHeight`` (aligned eras, March 2018 on), at most one ``HeightRange`` pair and then no
full-height output, and the odd tubes of raw-only numors (no ``raw_data`` block) flipped from the U-shape.
Source of each value: ``../shared/docs/d2b-reduction.md`` sections 2, 4.3, 5 (older variant) and 7.2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MantidWorkflow:
    """What one Mantid D2B workflow does beyond SumOverlappingTubes (which both share)."""

    name: str
    align_tubes: bool  # LoadILLDiffraction AlignTubes default
    initial_mask_pixels: int  # InitialMask: pixels masked at the bottom and at the top of every tube
    final_mask_rows: int  # FinalMask: 2D/2DTubes rows 0..F and n-F..n-1 zeroed
    unflip_raw_only: bool  # odd tubes of a numor without raw_data read top to bottom (U-shape undone)
    max_height_axis: bool  # no HeightRange: HeightAxis = -MaxHeight, PixelHeight, MaxHeight (when logged)
    full_height_beside_ranges: bool  # HeightRange pairs reduced beside the full-height output
    max_height_ranges: int | None  # most HeightRange pairs accepted (None: any number)
    mantid_versions: str


WORKFLOWS = {
    "current": MantidWorkflow("current", align_tubes=False, initial_mask_pixels=0, final_mask_rows=0,
                              unflip_raw_only=False, max_height_axis=False, full_height_beside_ranges=True,
                              max_height_ranges=None, mantid_versions="Mantid today (PowderILLDetectorScan @75caca2e)"),
    "2018": MantidWorkflow("2018", align_tubes=True, initial_mask_pixels=20, final_mask_rows=30,
                           unflip_raw_only=True, max_height_axis=True, full_height_beside_ranges=False,
                           max_height_ranges=1, mantid_versions="Mantid of 2018-2022"),
}
DEFAULT_WORKFLOW = "current"


def mantid_workflow(name: str | MantidWorkflow) -> MantidWorkflow:
    """The preset called ``name`` (``current`` or ``2018``); a ``MantidWorkflow`` passes through."""
    if isinstance(name, MantidWorkflow):
        return name
    if name not in WORKFLOWS:
        raise ValueError(f"unknown Mantid workflow {name!r}: choose one of {', '.join(WORKFLOWS)}")
    return WORKFLOWS[name]
