"""Survey tables: the partners' result forms (annex 5.3 of BIG-MAP D5.3) and their meta-view.

Small tables, unpartitioned: every form is read into ``survey_answers`` and the meta-view
is recomputed over all of them.
"""

import pyarrow as pa

from . import PROVENANCE, Column, Table, register

COMPARISONS = {"litdi": "with vs without LiTDI", "ageing": "pristine vs aged"}
MATERIALS = ("LNO", "Gr")
PROPERTIES = (
    "morphology", "crystal_structure", "li_distribution", "phase_transformation", "reaction_dynamic",
    "homogeneity", "sei_and_interfaces", "electronic_structure",
)
ANSWERS = ("yes", "no", "unsure", "n.a.")

# Points of interest of the meta-view (Figure 34 has 38 columns). The form asks, for each of
# the 2 comparisons and 2 materials, the yes/no "is there a difference" question and 9
# properties (8 named ones plus "other" with free text): 2 x 2 x 10 = 40 answers. "Other"
# names a different property in every form, so it cannot be one column across techniques:
# minus 4 (its answers and texts stay in survey_answers). The form adds the "notable
# difference in manipulating aged samples" question for LNO and Gr: plus 2. 40 - 4 + 2 = 38.
POINTS_OF_INTEREST = tuple(
    (comparison, material, prop)
    for comparison in COMPARISONS
    for material in MATERIALS
    for prop in ("difference", *PROPERTIES)
) + tuple(("handling", material, "manipulation") for material in MATERIALS)

VERDICTS = ("clear difference", "clear no difference", "uncertain", "divergent")

SURVEY_ANSWERS = register(Table(
    name="survey_answers",
    description="One row per answer of a survey form: (partner, technique, comparison, material, property).",
    columns=(
        Column("sample_id", pa.string(), "", "null: a form answers for a sample series, not one cell"),
        Column("partner", pa.string(), "", "partner that filled the form", nullable=False),
        Column("technique", pa.string(), "", "technique the form is about", nullable=False),
        Column("comparison", pa.string(), "", "litdi, ageing, handling or general", nullable=False),
        Column("material", pa.string(), "", "LNO, Gr, or null for the general text"),
        Column("property", pa.string(), "", "difference, a property name, other, manipulation or additional_information",
               nullable=False),
        Column("answer", pa.string(), "", "yes, no, unsure, n.a., or null when blank or not understood"),
        Column("raw_text", pa.string(), "", "the cell as typed"),
        Column("note", pa.string(), "", "free text (what 'other' is, additional information)"),
        Column("sheet", pa.string(), "", "sheet of the workbook"),
        Column("cell", pa.string(), "", "cell reference of the answer, e.g. B7"),
        *PROVENANCE,
    ),
    notes={"answers": "accepted spellings are normalised (Yes, y, N/A, na, 'unsure '); anything else is null "
                      "here and an ingest issue with its cell"},
))

SURVEY_METAVIEW = register(Table(
    name="survey_metaview",
    description="Per point of interest (38, Figure 34): answer counts across techniques and a verdict.",
    columns=(
        Column("point_id", pa.string(), "", "comparison/material/property", nullable=False),
        Column("comparison", pa.string(), "", "litdi, ageing or handling", nullable=False),
        Column("material", pa.string(), "", "LNO or Gr", nullable=False),
        Column("property", pa.string(), "", "difference, a property name or manipulation", nullable=False),
        Column("yes_count", pa.int64(), "", "techniques answering yes", nullable=False),
        Column("no_count", pa.int64(), "", "techniques answering no", nullable=False),
        Column("unsure_count", pa.int64(), "", "techniques answering unsure", nullable=False),
        Column("na_count", pa.int64(), "", "techniques answering n.a.", nullable=False),
        Column("unanswered_count", pa.int64(), "", "techniques with a blank or unreadable cell", nullable=False),
        Column("verdict", pa.string(), "", ", ".join(VERDICTS), nullable=False),
        Column("techniques_yes", pa.list_(pa.string()), "", "'technique (partner)' answering yes"),
        Column("techniques_no", pa.list_(pa.string()), "", "'technique (partner)' answering no"),
        Column("techniques_unsure", pa.list_(pa.string()), "", "'technique (partner)' answering unsure"),
    ),
    notes={
        "points_of_interest": "2 comparisons x 2 materials x (difference + 9 properties) = 40, minus the 4 'other' "
                              "(free text, a different property per form), plus 'manipulation of aged samples' "
                              "for LNO and Gr = 38",
        "verdict": "divergent: both yes and no; clear difference: yes, no 'no', more yes than unsure; clear no "
                   "difference: no, no 'yes', more no than unsure; uncertain: anything else",
    },
))
