"""Registry and logistics tables: samples, electrodes, shipments, experiments, archive records,
their logistics metrics, and the per-sample overview across techniques.

All small and unpartitioned: a registry file is read whole; dates are calendar dates (no
time of day), months are 365.25 / 12 = 30.4375 days.
"""

import pyarrow as pa

from . import PROVENANCE, Column, Table, register

DAYS_PER_MONTH = 365.25 / 12

SAMPLES = register(Table(
    name="samples",
    description="Valid rows of registry/samples.csv: one coin cell each.",
    columns=(
        Column("sample_id", pa.string(), "", "cell ID from its provider", nullable=False),
        Column("provider", pa.string(), "", "cell provider"),
        Column("batch", pa.string(), "", "provider's batch"),
        Column("series", pa.string(), "", "electrolyte series (no LiTDI, dried LiTDI, non-dried LiTDI)"),
        Column("chemistry", pa.string(), "", "cathode||anode"),
        Column("active_mass_mg", pa.float64(), "mg", "cathode active mass"),
        Column("timezone", pa.string(), "", "IANA timezone of the site that cycled it"),
        Column("role", pa.string(), "", "ageing, d2b_operando or xas_operando"),
        Column("assembly_date", pa.date32(), "date", "cell assembled"),
        Column("end_of_life_date", pa.date32(), "date", "cell reached 80 % SoH (null when not yet)"),
        *PROVENANCE,
    ),
))

ELECTRODES = register(Table(
    name="electrodes",
    description="Electrodes harvested from the cells: ID derived from the cell ID, material, which cell.",
    columns=(
        Column("electrode_id", pa.string(), "", "<cell ID>-<material>", nullable=False),
        Column("sample_id", pa.string(), "", "cell it was harvested from", nullable=False),
        Column("material", pa.string(), "", "LNO or Gr", nullable=False),
        Column("state", pa.string(), "", "pristine or aged"),
        *PROVENANCE,
    ),
))

SHIPMENTS = register(Table(
    name="shipments",
    description="Parcels between sites (Table 1 of the report): dates, contents, carrier, cost, loss.",
    columns=(
        Column("shipment_id", pa.string(), "", "shipment ID", nullable=False),
        Column("from_site", pa.string(), "", "sender"),
        Column("to_site", pa.string(), "", "receiver"),
        Column("sent_date", pa.date32(), "date", "sent"),
        Column("received_date", pa.date32(), "date", "received (null when lost or in transit)"),
        Column("contents", pa.string(), "", "contents by sample type, as written"),
        Column("sample_ids", pa.list_(pa.string()), "", "cells whose samples travelled"),
        Column("carrier", pa.string(), "", "carrier"),
        Column("cost_eur", pa.float64(), "EUR", "shipping cost"),
        Column("lost", pa.bool_(), "", "parcel lost"),
        *PROVENANCE,
    ),
))

EXPERIMENTS = register(Table(
    name="experiments",
    description="One experiment per partner and technique (Figure 19): samples used and its dates.",
    columns=(
        Column("experiment_id", pa.string(), "", "experiment ID", nullable=False),
        Column("partner", pa.string(), "", "partner or facility"),
        Column("technique", pa.string(), "", "technique, as named in the survey forms"),
        Column("site_type", pa.string(), "", "lab or large-scale facility"),
        Column("sample_ids", pa.list_(pa.string()), "", "cells whose samples were measured"),
        Column("received_date", pa.date32(), "date", "samples received"),
        Column("started_date", pa.date32(), "date", "measurements started"),
        Column("completed_date", pa.date32(), "date", "measurements completed (null when running)"),
        Column("percent_done", pa.float64(), "%", "progress (100 when completed)"),
        *PROVENANCE,
    ),
))

ARCHIVE_RECORDS = register(Table(
    name="archive_records",
    description="Records in the data archive, one per experiment's dataset; complete when linked to a notebook entry.",
    columns=(
        Column("record_id", pa.string(), "", "archive record ID", nullable=False),
        Column("partner", pa.string(), "", "partner"),
        Column("technique", pa.string(), "", "technique"),
        Column("created_date", pa.date32(), "date", "record created"),
        Column("updated_date", pa.date32(), "date", "record last updated"),
        Column("notebook_entry", pa.string(), "", "linked electronic-notebook entry (null when missing)"),
        *PROVENANCE,
    ),
))

LOGISTICS_METRICS = register(Table(
    name="logistics_metrics",
    description="Shipping and experiment times and archive completion: one row per metric.",
    columns=(
        Column("metric", pa.string(), "", "shipping_time, reception_to_completion, experimental_time, "
                                          "cumulative_*, archive_completion", nullable=False),
        Column("subject_id", pa.string(), "", "shipment or experiment ID; null for a summary"),
        Column("statistic", pa.string(), "", "value, mean, min, max, sum, count or ratio", nullable=False),
        Column("value", pa.float64(), "", "the number, in `unit`", nullable=False),
        Column("unit", pa.string(), "", "day, month, count or percent", nullable=False),
    ),
    notes={"month": "30.4375 days (365.25 / 12)", "experimental_time": "completed minus started",
           "reception_to_completion": "completed minus received", "archive_completion":
           "records with a linked notebook entry over all records"},
))

SAMPLE_OVERVIEW = register(Table(
    name="sample_overview",
    description="One row per sample: what exists for it in every technique. The analyst's entry point.",
    columns=(
        Column("sample_id", pa.string(), "", "cell ID", nullable=False),
        Column("series", pa.string(), "", "electrolyte series"),
        Column("provider", pa.string(), "", "cell provider"),
        Column("role", pa.string(), "", "ageing, d2b_operando or xas_operando"),
        Column("cycling_files", pa.int64(), "", "cycling files read", nullable=False),
        Column("cycles", pa.int64(), "", "cycles in cycling_cycles", nullable=False),
        Column("checkups", pa.int64(), "", "check-up cycles", nullable=False),
        Column("soh_at_end_percent", pa.float64(), "%", "last state of health measured"),
        Column("reached_end_of_life", pa.bool_(), "", "80 % SoH reached in cycling_soh, or an end-of-life date "
                                                      "in the registry"),
        Column("d2b_measurements", pa.int64(), "", "D2B measurements (groups of numors)", nullable=False),
        Column("xas_scans", pa.int64(), "", "XAS scans", nullable=False),
        Column("experiments", pa.int64(), "", "experiments that used its samples", nullable=False),
        Column("techniques", pa.list_(pa.string()), "", "techniques that measured its samples"),
        Column("survey_answers", pa.int64(), "", "survey answers of those techniques", nullable=False),
        Column("shipments", pa.int64(), "", "shipments that carried its samples", nullable=False),
        Column("electrodes", pa.int64(), "", "electrodes harvested from it", nullable=False),
    ),
))

SAMPLE_COVERAGE = register(Table(
    name="sample_coverage",
    description="Sample-by-technique coverage, long form: what each technique holds for each sample.",
    columns=(
        Column("sample_id", pa.string(), "", "cell ID", nullable=False),
        Column("technique", pa.string(), "", "cycling, d2b, xas (warehouse) or an experiment's technique",
               nullable=False),
        Column("source", pa.string(), "", "warehouse (data read here) or experiments (registry says measured)",
               nullable=False),
        Column("item_count", pa.int64(), "", "files, measurements, scans or experiments", nullable=False),
    ),
))
