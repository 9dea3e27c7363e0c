"""Survey answers -> the meta-view of Figure 34: per point of interest, counts and a verdict."""

from __future__ import annotations

import pyarrow as pa

from ..schemas.survey import POINTS_OF_INTEREST, SURVEY_METAVIEW, describe_point


def verdict(yes_count: int, no_count: int, unsure_count: int) -> str:
    """'divergent' when techniques say both yes and no; 'clear difference' / 'clear no difference' when
    one side has answers, the other none, and they outnumber the unsure; 'uncertain' otherwise."""
    if yes_count and no_count:
        return "divergent"
    if yes_count > unsure_count:
        return "clear difference"
    if no_count > unsure_count:
        return "clear no difference"
    return "uncertain"


def survey_metaview(answers: pa.Table) -> pa.Table:
    """One ``survey_metaview`` row per point of interest, numbered 1-38 in the order of the report's Figure 34.

    Every form (partner, technique) in ``answers`` counts once per point: a point its form
    lacks or leaves blank counts as unanswered.
    """
    forms = sorted({(r["technique"], r["partner"]) for r in answers.select(["technique", "partner"]).to_pylist()})
    given = {(r["technique"], r["partner"], r["comparison"], r["material"], r["property"]): r["answer"]
             for r in answers.select(["technique", "partner", "comparison", "material", "property", "answer"])
             .to_pylist()}
    rows = []
    for number, (comparison, material, prop) in enumerate(POINTS_OF_INTEREST, start=1):
        by_answer: dict[str | None, list[str]] = {"yes": [], "no": [], "unsure": [], "n.a.": [], None: []}
        for technique, partner in forms:
            by_answer[given.get((technique, partner, comparison, material, prop))].append(f"{technique} ({partner})")
        counts = {k: len(v) for k, v in by_answer.items()}
        rows.append({
            "point_number": number, "point_id": f"{comparison}/{material}/{prop}",
            "description": describe_point(comparison, material, prop), "comparison": comparison, "material": material,
            "property": prop, "yes_count": counts["yes"], "no_count": counts["no"],
            "unsure_count": counts["unsure"], "na_count": counts["n.a."], "unanswered_count": counts[None],
            "verdict": verdict(counts["yes"], counts["no"], counts["unsure"]),
            "techniques_yes": by_answer["yes"], "techniques_no": by_answer["no"],
            "techniques_unsure": by_answer["unsure"],
        })
    return SURVEY_METAVIEW.conform(pa.Table.from_pylist(rows))
