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
PROPERTY_WORDS = {  # as the form prints them
    "morphology": "morphology", "crystal_structure": "crystal structure", "li_distribution": "Li distribution",
    "phase_transformation": "phase transformation", "reaction_dynamic": "reaction dynamic",
    "homogeneity": "homogeneity", "sei_and_interfaces": "SEI and interfaces",
    "electronic_structure": "electronic structure",
}
ANSWERS = ("yes", "no", "unsure", "n.a.")

# Points of interest of the meta-view: the 38 columns of the report's Figure 34, in its order.
# The form asks, for each of the 2 comparisons and 2 materials, whether there is a difference
# (columns 1-4) and which of 9 properties differ (8 named ones plus "other" with free text).
# "Other" names a different property in every form, so it is not a column (its answers and texts
# stay in survey_answers): 5-12 LiTDI-induced and 13-20 ageing-induced changes in LNO, 21-28 and
# 29-36 the same in Gr; 37-38 the "notable difference in manipulating aged samples" for LNO and Gr.
POINTS_OF_INTEREST = (
    tuple((comparison, material, "difference") for comparison in COMPARISONS for material in MATERIALS)
    + tuple((comparison, material, prop) for material in MATERIALS for comparison in COMPARISONS
            for prop in PROPERTIES)
    + tuple(("handling", material, "manipulation") for material in MATERIALS)
)
_CHANGES = {"litdi": "LiTDI-induced", "ageing": "ageing-induced"}


def describe_point(comparison: str, material: str, prop: str) -> str:
    """The report's wording of a point of interest, e.g. 'ageing-induced changes in LNO: crystal structure'."""
    if prop == "difference":
        return f"differences {COMPARISONS[comparison]} in {material}"
    if prop == "manipulation":
        return f"ageing-induced changes in handling {material} electrodes"
    return f"{_CHANGES[comparison]} changes in {material}: {PROPERTY_WORDS[prop]}"


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
    description="Per point of interest (the 38 columns of Figure 34, in its order): answer counts across techniques "
                "and a verdict.",
    columns=(
        Column("point_number", pa.int64(), "", "column of Figure 34 (1-38)", nullable=False),
        Column("point_id", pa.string(), "", "comparison/material/property", nullable=False),
        Column("description", pa.string(), "", "the point in the report's words", nullable=False),
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
        "points_of_interest": "1-4 the differences (LiTDI in LNO, LiTDI in Gr, ageing in LNO, ageing in Gr); "
                              "5-12 LiTDI-induced and 13-20 ageing-induced changes in LNO over the 8 properties; "
                              "21-28 and 29-36 the same in Gr; 37-38 handling aged LNO and Gr electrodes. 'Other' "
                              "(free text, a different property per form) is not a point",
        "verdict": "divergent: both yes and no; clear difference: yes, no 'no', more yes than unsure; clear no "
                   "difference: no, no 'yes', more no than unsure; uncertain: anything else",
    },
))
