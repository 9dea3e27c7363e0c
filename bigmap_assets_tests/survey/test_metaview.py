import pyarrow as pa

from bigmap_assets.schemas.survey import POINTS_OF_INTEREST
from bigmap_assets.science.survey import survey_metaview, verdict


def _answers(rows):
    keys = ("technique", "partner", "comparison", "material", "property", "answer")
    return pa.Table.from_pylist([dict(zip(keys, r)) for r in rows])


def test_verdicts_of_a_hand_made_answer_set():
    forms = [("XRD", "L1"), ("XPS", "L2"), ("SEM", "L3")]
    answers = {
        ("ageing", "LNO", "difference"): ("yes", "yes", "unsure"),  # clear difference
        ("litdi", "LNO", "difference"): ("no", "no", "n.a."),  # clear no difference
        ("litdi", "Gr", "difference"): ("yes", "no", "unsure"),  # divergent
        ("ageing", "Gr", "difference"): ("unsure", "yes", None),  # one yes, one unsure: uncertain
        ("handling", "Gr", "manipulation"): ("no", "unsure", "unsure"),  # uncertain
    }
    rows = [(t, p, *point, a[i]) for point, a in answers.items() for i, (t, p) in enumerate(forms)]
    view = {r["point_id"]: r for r in survey_metaview(_answers(rows)).to_pylist()}
    assert len(view) == len(POINTS_OF_INTEREST) == 38
    assert {k: v["verdict"] for k, v in view.items() if "/difference" in k or "manipulation" in k} == {
        "ageing/LNO/difference": "clear difference",
        "litdi/LNO/difference": "clear no difference",
        "litdi/Gr/difference": "divergent",
        "ageing/Gr/difference": "uncertain",
        "handling/Gr/manipulation": "uncertain",
        "handling/LNO/manipulation": "uncertain",  # nobody answered
    }
    divergent = view["litdi/Gr/difference"]
    assert divergent["techniques_yes"] == ["XRD (L1)"] and divergent["techniques_no"] == ["XPS (L2)"]
    assert divergent["techniques_unsure"] == ["SEM (L3)"]
    assert (view["litdi/LNO/difference"]["no_count"], view["litdi/LNO/difference"]["na_count"]) == (2, 1)
    assert view["ageing/Gr/difference"]["unanswered_count"] == 1
    assert view["litdi/LNO/morphology"]["unanswered_count"] == 3


def test_verdict_rule():
    assert verdict(3, 0, 1) == "clear difference"
    assert verdict(1, 0, 1) == "uncertain"
    assert verdict(0, 2, 0) == "clear no difference"
    assert verdict(1, 1, 0) == "divergent"
    assert verdict(0, 0, 0) == "uncertain"
