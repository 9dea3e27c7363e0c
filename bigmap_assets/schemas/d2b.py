"""ILL D2B tables: numors and their grouping, reduced diffractograms, comparisons of consecutive ones.

Intensities are counts per 1e6 monitor counts averaged over the pixels that fall in a 2theta bin
(Mantid's PowderILLDetectorScan with SumOverlappingTubes). Times are UTC; ILL's clock is Europe/Paris.
"""

import pyarrow as pa

from . import PROVENANCE, Column, Table, register, utc_timestamp

PIXELS = 128 * 128

# What the D2B reader returns: one row per scan step of one numor.
READER_COLUMNS = (
    Column("scan_step", pa.int32(), "", "scan step index from 0", nullable=False),
    Column("detector_angle_degree", pa.float64(), "deg", "scanned Position variable: mirrored angle of the last tube",
           nullable=False),
    Column("monitor_counts", pa.float64(), "counts", "monitor 1 counts of the step", nullable=False),
    Column("duration_second", pa.float64(), "s", "counting time of the step"),
    Column("start_utc_time", utc_timestamp(), "UTC", "start of the step"),
    Column("counts", pa.list_(pa.int32(), PIXELS), "counts",
           "detector counts, tube-major [tube, pixel], pixel 0 at the bottom (U-shape undone)", nullable=False),
)

D2B_NUMORS = register(Table(
    name="d2b_numors",
    description="One row per D2B numor (detector scan file) with its metadata and the measurement it belongs to.",
    columns=(
        Column("sample_id", pa.string(), "", "cell ID", nullable=False),
        Column("run_number", pa.int64(), "", "ILL numor", nullable=False),
        Column("title", pa.string(), "", "experiment title written by the instrument"),
        Column("sample_name", pa.string(), "", "sample name written by the instrument"),
        Column("wavelength_angstrom", pa.float64(), "Angstrom", "neutron wavelength"),
        Column("start_utc_time", utc_timestamp(), "UTC", "start of the first scan step"),
        Column("end_utc_time", utc_timestamp(), "UTC", "end of the last scan step"),
        Column("timezone", pa.string(), "", "IANA timezone of the instrument clock"),
        Column("scan_steps", pa.int32(), "", "number of detector positions"),
        Column("first_detector_angle_degree", pa.float64(), "deg", "detector angle of step 0"),
        Column("detector_step_degree", pa.float64(), "deg", "median detector angle increment between steps"),
        Column("monitor_counts", pa.float64(), "counts", "monitor counts summed over the steps"),
        Column("detector_counts", pa.float64(), "counts", "detector counts summed over pixels and steps"),
        Column("counts_block", pa.string(), "", "data block read: data (ILL-calibrated or raw) or raw_data"),
        Column("instrument_definition", pa.string(), "", "Mantid D2B instrument definition of the run's date"),
        Column("pixel_pitch_metre", pa.float64(), "m", "vertical pixel pitch of that definition"),
        Column("measurement_index", pa.int64(), "", "measurement (group of numors measured together) from 0"),
        Column("measurement_id", pa.string(), "", "first-last run number of the measurement"),
        *PROVENANCE,
    ),
    partitioned_by=("sample_id",),
    notes={"grouping": "A measurement is a run of consecutive numors with the same title, sample and wavelength; "
                       "it breaks at a change, a gap in run numbers, a start-time gap, or a repeated start angle."},
))

D2B_DIFFRACTOGRAMS = register(Table(
    name="d2b_diffractograms",
    description="Reduced D2B diffractograms, one row per 2theta bin (and height row for 2D outputs) per measurement.",
    columns=(
        Column("sample_id", pa.string(), "", "cell ID", nullable=False),
        Column("measurement_index", pa.int64(), "", "measurement from 0", nullable=False),
        Column("measurement_id", pa.string(), "", "first-last run number"),
        Column("output_type", pa.string(), "", "1D, 2D or 2DTubes (Mantid SumOverlappingTubes OutputType)"),
        Column("height_metre", pa.float64(), "m", "height row centre (1D: centre of the height range)"),
        Column("two_theta_degree", pa.float64(), "deg", "bin centre: scattering angle (1D, 2D) or tube angle (2DTubes)",
               nullable=False),
        Column("intensity", pa.float64(), "counts/1e6 monitor", "mean monitor-normalised counts of the bin's pixels"),
        Column("intensity_error", pa.float64(), "counts/1e6 monitor", "propagated 1-sigma error of the mean"),
        Column("pixel_count", pa.int64(), "", "pixel x step x numor entries averaged in the bin (0 = empty or masked)"),
        Column("height_range_min_metre", pa.float64(), "m", "HeightRange pair of this output (null: full height)"),
        Column("height_range_max_metre", pa.float64(), "m", "HeightRange pair of this output (null: full height)"),
        Column("mantid_workflow", pa.string(), "", "Mantid workflow preset reduced with: current or 2018"),
        Column("aligned_tubes", pa.bool_(), "", "tubes at their measured angles and heights (Mantid's AlignTubes)"),
        Column("start_utc_time", utc_timestamp(), "UTC", "start of the measurement's first numor"),
        Column("end_utc_time", utc_timestamp(), "UTC", "end of its last numor"),
        *PROVENANCE,
    ),
    partitioned_by=("sample_id",),
    notes={"intensity": "Y = sum(y_i)/N, error = sqrt(sum(e_i^2))/N over the N entries in the bin; "
                        "y_i = 1e6 C/M, e_i = 1e6 sqrt(C + C^2/M)/M for pixel counts C and step monitor M.",
           "binning": "0.05 deg bins from min(tube angle) - 0.025 to max + 0.025, negative angles cropped "
                      "keeping the bin that straddles 0; bin k holds floor((angle - start)/0.05) = k.",
           "workflow": "current: today's Mantid PowderILLDetectorScan (no alignment, no pixel masks, full height beside "
                       "every HeightRange pair); 2018: Mantid of 2018-2022 (AlignTubes, InitialMask 20 pixels, "
                       "FinalMask 30 rows, -MaxHeight..MaxHeight height axis, raw-only numors un-flipped).",
           "efficiency": "y K with error sqrt((e K)^2 + (y sigma_K)^2); pixels whose map bin is masked (or K = 0) "
                         "are left out."},
))

D2B_COMPARISONS = register(Table(
    name="d2b_comparisons",
    description="One row per pair of consecutive 1D diffractograms of a sample: ratio statistics and chi-square.",
    columns=(
        Column("sample_id", pa.string(), "", "cell ID", nullable=False),
        Column("measurement_index", pa.int64(), "", "the later measurement", nullable=False),
        Column("previous_measurement_index", pa.int64(), "", "the earlier measurement", nullable=False),
        Column("measurement_id", pa.string(), "", "first-last run number of the later measurement"),
        Column("previous_measurement_id", pa.string(), "", "of the earlier measurement"),
        Column("bins_compared", pa.int64(), "", "2theta bins where both intensities are finite and nonzero"),
        Column("ratio_mean", pa.float64(), "1", "mean of I_later / I_earlier over the compared bins"),
        Column("ratio_std", pa.float64(), "1", "standard deviation (ddof 0) of the ratio"),
        Column("ratio_min", pa.float64(), "1", "smallest ratio"),
        Column("ratio_max", pa.float64(), "1", "largest ratio"),
        Column("chi_square", pa.float64(), "1", "sum of (I_later - I_earlier)^2 / (err_later^2 + err_earlier^2)"),
        Column("reduced_chi_square", pa.float64(), "1", "chi_square / bins_compared"),
        Column("threshold", pa.float64(), "1", "reduced chi-square above which the change is significant"),
        Column("significant", pa.bool_(), "", "reduced_chi_square > threshold"),
        *PROVENANCE,
    ),
    partitioned_by=("sample_id",),
    notes={"chi_square": "chi2 = sum_k (I1_k - I2_k)^2 / (s1_k^2 + s2_k^2) over bins k where both intensities are "
                         "finite and nonzero; reduced chi2 = chi2 / N_bins (no fitted parameters). "
                         "~1 when the two patterns differ by noise only.",
           "ratio": "r_k = I1_k / I2_k, I1 the later and I2 the earlier diffractogram, on their common 2theta bins."},
))
