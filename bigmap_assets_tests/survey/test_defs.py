"""Registry, survey and overview assets through Dagster on the generated registry and survey forms."""

import json

import dagster as dg
import pytest

from bigmap_assets.defs.materialize import materialize_all
from bigmap_assets.simulate import registry as registry_sim
from bigmap_assets.simulate import survey as survey_sim
from bigmap_assets.warehouse import catalog


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    registry_sim.generate(data_dir)
    survey_sim.generate(data_dir)
    (data_dir / "registry" / "shipments.csv").open("a").write("SHP-09,Lab-01,ILL,2023-09-10,2023-09-01,,,UPS,1,false\n")
    report = materialize_all(data_dir, instance=dg.DagsterInstance.ephemeral())
    assert report.succeeded, report.runs
    return data_dir


def test_tables_are_published_with_provenance(data_dir):
    con = catalog.connect(data_dir / "warehouse")
    assert con.execute("SELECT count(*), count(DISTINCT technique) FROM survey_answers").fetchone() == (860, 20)
    assert con.execute("SELECT count(*) FROM survey_metaview").fetchone()[0] == 38
    ids = [r[0] for r in con.execute("SELECT point_id FROM survey_metaview ORDER BY point_number").fetchall()]
    assert ids[:5] == ["litdi/LNO/difference", "litdi/Gr/difference", "ageing/LNO/difference", "ageing/Gr/difference",
                       "litdi/LNO/morphology"]
    assert (ids[12], ids[20], ids[28], ids[36:]) == ("ageing/LNO/morphology", "litdi/Gr/morphology",
                                                     "ageing/Gr/morphology",
                                                     ["handling/LNO/manipulation", "handling/Gr/manipulation"])
    assert con.execute("SELECT DISTINCT source_file FROM experiments").fetchall() == [("registry/experiments.csv",)]
    mean, count = con.execute("SELECT value, (SELECT value FROM logistics_metrics WHERE metric = 'shipping_time' "
                              "AND statistic = 'count') FROM logistics_metrics WHERE metric = 'shipping_time' "
                              "AND statistic = 'mean'").fetchone()
    assert (mean, count) == (8.0, 7)  # the backwards SHP-09 is refused, not counted
    litdi_cells = con.execute("SELECT count(*) FROM sample_overview WHERE series = 'dried LiTDI' "
                              "AND reached_end_of_life").fetchone()[0]
    assert litdi_cells == 4


def test_bad_rows_and_cells_land_in_ingest_issues(data_dir):
    con = catalog.connect(data_dir / "warehouse")
    issues = con.execute("SELECT technique, path, location, reason FROM ingest_issues ORDER BY technique").fetchall()
    [expected] = json.loads((data_dir / "ground_truth" / "survey" / "issues.json").read_text())
    assert issues == [
        ("registry", "registry/shipments.csv", "row 10",
         "dates run backwards: received_date 2023-09-01 is before sent_date 2023-09-10"),
        ("survey", f"raw/survey/{expected['file']}", expected["location"],
         "answer 'probably' is not yes, no, unsure or n.a. (left unanswered)"),
    ]


def test_plots_are_written(data_dir):
    plots = data_dir / "warehouse" / "plots"
    assert (plots / "survey" / "survey_grid.png").stat().st_size > 10_000
    assert (plots / "registry" / "experiments_gantt.png").stat().st_size > 10_000
