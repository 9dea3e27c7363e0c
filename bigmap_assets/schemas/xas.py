"""XAS tables: scans with their normalisation and edge quantities, spectra, scans aligned with cycling.

Energies in eV, absorbance (mu) dimensionless. Scan times are UTC; the beamline's clock
timezone is recorded per scan.
"""

import pyarrow as pa

from . import PROVENANCE, Column, Table, register, utc_timestamp

# What every XAS reader returns: one row per (scan, energy point). Per-scan facts (start
# time, duration, element, edge, normalisation the file carries) are in the metadata
# under "scans", one dict per scan_index.
READER_COLUMNS = (
    Column("scan_index", pa.int32(), "", "scan number within the file, from 0", nullable=False),
    Column("scan_name", pa.string(), "", "scan name (file stem, entry name or series number)", nullable=False),
    Column("energy_ev", pa.float64(), "eV", "photon energy (calibrated when the file says so)", nullable=False),
    Column("mu", pa.float64(), "1", "absorbance mu(E) (ln(I0/I1), fluorescence/I0 or as given)"),
    Column("norm_mu", pa.float64(), "1", "normalised mu as written in the file"),
    Column("i0", pa.float64(), "counts", "incident intensity"),
    Column("reference_mu", pa.float64(), "1", "reference-foil absorbance measured with the scan"),
)

_SCAN_KEY = (
    Column("sample_id", pa.string(), "", "cell ID", nullable=False),
    Column("source_scan", pa.string(), "", "source file and scan name: '<file>#<scan_name>'", nullable=False),
    Column("scan_name", pa.string(), "", "scan name within its file"),
)

_EDGE_QUANTITIES = (
    Column("e0_ev", pa.float64(), "eV", "edge energy E0 used for normalisation"),
    Column("edge_step", pa.float64(), "1", "edge jump in mu at E0"),
    Column("edge_energy_ev", pa.float64(), "eV", "energy where normalised mu first reaches edge_level"),
    Column("edge_level", pa.float64(), "1", "normalised intensity level that defines edge_energy_ev (0.5 by default)"),
    Column("inflection_energy_ev", pa.float64(), "eV", "energy of the maximum of d(norm mu)/dE"),
    Column("white_line_energy_ev", pa.float64(), "eV", "energy of the highest normalised mu above the edge"),
    Column("white_line_height", pa.float64(), "1", "normalised mu at the white line"),
)

XAS_SCANS = register(Table(
    name="xas_scans",
    description="One row per XAS scan: time, edge, energy calibration, normalisation parameters and edge quantities.",
    columns=(
        *_SCAN_KEY,
        Column("scan_number", pa.int64(), "", "position of the scan in the sample's time-ordered series, from 0"),
        Column("start_utc_time", utc_timestamp(), "UTC", "start of the acquisition (null when the file has no time)"),
        Column("mid_utc_time", utc_timestamp(), "UTC", "middle of the acquisition"),
        Column("stop_utc_time", utc_timestamp(), "UTC", "end of the acquisition"),
        Column("duration_second", pa.float64(), "s", "acquisition (averaging) time"),
        Column("timezone", pa.string(), "", "IANA timezone of the beamline clock"),
        Column("element", pa.string(), "", "absorbing element"),
        Column("edge", pa.string(), "", "absorption edge (K, L3...)"),
        Column("mu_source", pa.string(), "", "where mu came from: file, transmission, fluorescence, normalised-in-file"),
        Column("normalised_by", pa.string(), "", "'file' (normalisation kept from the file), 'bigmap' (pre_edge here) "
               "or 'not normalised: <reason>'"),
        Column("point_count", pa.int64(), "", "energy points"),
        Column("dropped_point_count", pa.int64(), "", "points whose mu (the file's normalised mu when normalised "
               "there) is not a finite number: left out of this scan's normalisation and edge search only"),
        Column("notes", pa.string(), "", "'; '-separated: points left out or merged, parameters larch's rules changed, "
               "why a value is missing (each also a warning in ingest_issues)"),
        Column("reference_e0_ev", pa.float64(), "eV", "E0 of the reference foil as measured (max derivative)"),
        Column("energy_shift_ev", pa.float64(), "eV", "calibration shift added to the energy (tabulated - measured foil E0)"),
        Column("pre1_ev", pa.float64(), "eV", "pre-edge fit range start, relative to E0 (as used: larch's defaults, "
               "clipping and swaps applied)"),
        Column("pre2_ev", pa.float64(), "eV", "pre-edge fit range end, relative to E0"),
        Column("norm1_ev", pa.float64(), "eV", "post-edge fit range start, relative to E0"),
        Column("norm2_ev", pa.float64(), "eV", "post-edge fit range end, relative to E0"),
        Column("nnorm", pa.int64(), "", "degree of the post-edge polynomial"),
        *_EDGE_QUANTITIES,
        *PROVENANCE,
    ),
    partitioned_by=("sample_id",),
    notes={"normalisation": "larch pre_edge, defaults included: line below the edge, polynomial above, step at E0, "
                            "flattening; each scan on its own finite points."},
))

XAS_SPECTRA = register(Table(
    name="xas_spectra",
    description="One row per energy point of every scan: energy, mu and normalised mu.",
    columns=(
        *_SCAN_KEY,
        Column("energy_ev", pa.float64(), "eV", "calibrated photon energy", nullable=False),
        Column("mu", pa.float64(), "1", "absorbance as read (null when the file holds only normalised mu)"),
        Column("norm_mu", pa.float64(), "1", "normalised mu"),
        Column("flat_mu", pa.float64(), "1", "flattened normalised mu (post-edge curvature removed above E0)"),
        Column("i0", pa.float64(), "counts", "incident intensity"),
        Column("reference_mu", pa.float64(), "1", "reference-foil absorbance"),
        *PROVENANCE,
    ),
    partitioned_by=("sample_id",),
))

XAS_ECHEM = register(Table(
    name="xas_echem",
    description="One row per scan: the cell's electrochemistry at the scan's time, with the scan's edge quantities.",
    columns=(
        *_SCAN_KEY,
        Column("scan_number", pa.int64(), "", "position in the time-ordered series"),
        Column("scan_utc_time", utc_timestamp(), "UTC", "scan time used for the join"),
        Column("time_reference", pa.string(), "", "which scan time was joined: start, mid or stop"),
        Column("time_offset_second", pa.float64(), "s", "scan time minus the nearest electrochemistry point"),
        Column("alignment", pa.string(), "", "ok, gap (nearest point further than max_gap_second), outside or no_time"),
        Column("test_time_second", pa.float64(), "s", "cycling test time at the scan"),
        Column("voltage_volt", pa.float64(), "V", "cell voltage, linear in time"),
        Column("current_ampere", pa.float64(), "A", "current (+ = charge), linear in time"),
        Column("net_capacity_ah", pa.float64(), "Ah", "charge minus discharge capacity since test start"),
        Column("charging_capacity_ah", pa.float64(), "Ah", "cumulative charge capacity"),
        Column("discharging_capacity_ah", pa.float64(), "Ah", "cumulative discharge capacity"),
        Column("cycle_count", pa.int64(), "", "cycle label of the preceding point"),
        Column("step_count", pa.int64(), "", "step label of the preceding point"),
        Column("step_type", pa.string(), "", "CC_CHG, CV_CHG, CC_DCH, CV_DCH or REST of the preceding point"),
        Column("state_of_charge", pa.float64(), "1", "net capacity / (active mass x 225 mAh/g)"),
        Column("x_li", pa.float64(), "1", "x in Li_xNiO2: 1 - net capacity / (active mass x 274.5 mAh/g)"),
        *_EDGE_QUANTITIES,
        *PROVENANCE,
    ),
    partitioned_by=("sample_id",),
    notes={"alignment": "continuous columns interpolated linearly in time; labels taken from the last point at or before the scan."},
))
