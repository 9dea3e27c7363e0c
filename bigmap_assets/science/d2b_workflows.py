"""The two Mantid D2B reduction workflows, as named presets of ``diffraction.reduce_measurement``.

Both run LoadILLDiffraction, NormaliseToMonitor (x1e6), ApplyDetectorScanEffCorr, masking and
SumOverlappingTubes (0.05 degree bins, mirrored, negative angles cropped, plain mean); they differ in:

==========================  =====================  =====================================================
option                      ``current``            ``2018``
==========================  =====================  =====================================================
AlignTubes                  off                    on (tube_angles / tube_centers of the era's IPF)
InitialMask                 none                   20 pixels at the bottom and top of every tube
FinalMask                   none                   2D/2DTubes rows 0..30 and n-30..n-1 zeroed
height axis, no HeightRange tube 1 heights         -MaxHeight, PixelHeight, MaxHeight (when the loader
                                                   logged MaxHeight: aligned eras, March 2018 on)
HeightRange                 any number of pairs,   one pair at most, which replaces the full height
                            each beside the full
                            height
raw-only numor (no          ``data`` as written    odd tubes flipped back from the DAQ's U-shape
``raw_data`` block)         (U-shape kept)
calibrated ``data`` block   used                   used (UseCalibratedData = True)
==========================  =====================  =====================================================

Sources (mantidproject/mantid, read for behaviour, summarised in ``../shared/docs/d2b-reduction.md``
sections 2, 4.3, 5 and 7.2): ``current`` = ``WorkflowAlgorithms/PowderILLDetectorScan.py`` @75caca2e with
``DataHandling/src/LoadILLDiffraction.cpp`` @73bd0476 (never flips; AlignTubes default off); ``2018`` =
``PowderILLDetectorScan.py`` @053fc70e (UseCalibratedData, InitialMask 20, FinalMask 30 as
``MaskDetectors(WorkspaceIndexList="0-F,n-F-n-1")``, AlignTubes default on, HeightRange of at most one
pair, else ``-MaxHeight, PixelHeight, MaxHeight``; predecessor ``PowderDiffILLDetScanReduction.py``) with
the LoadILLDiffraction of that time (flips odd tubes unless it reads a calibrated block; MaxHeight =
(128 + 1) PixelHeight / 2 + the largest tube shift, written only when it aligns by tube_centers).
The 2018-2022 workflow is the one the BIG-MAP data were reduced with.
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


WORKFLOWS = {
    "current": MantidWorkflow("current", align_tubes=False, initial_mask_pixels=0, final_mask_rows=0,
                              unflip_raw_only=False, max_height_axis=False, full_height_beside_ranges=True,
                              max_height_ranges=None),
    "2018": MantidWorkflow("2018", align_tubes=True, initial_mask_pixels=20, final_mask_rows=30,
                           unflip_raw_only=True, max_height_axis=True, full_height_beside_ranges=False,
                           max_height_ranges=1),
}
DEFAULT_WORKFLOW = "current"


def mantid_workflow(name: str | MantidWorkflow) -> MantidWorkflow:
    """The preset called ``name`` (``current`` or ``2018``); a ``MantidWorkflow`` passes through."""
    if isinstance(name, MantidWorkflow):
        return name
    if name not in WORKFLOWS:
        raise ValueError(f"unknown Mantid workflow {name!r}: choose one of {', '.join(WORKFLOWS)}")
    return WORKFLOWS[name]
