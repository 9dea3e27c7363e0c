from datetime import date

import pyarrow as pa

from bigmap_assets.plots.logistics import experiments_gantt, gantt_rows
from bigmap_assets.plots.survey import answer_grid, survey_grid
from bigmap_assets.ingest.registry import load_table
from bigmap_assets.simulate import registry as registry_sim

PNG = b"\x89PNG"


def test_the_grid_places_each_answer_in_its_row_and_column():
    answers = pa.table({
        "technique": ["XRD", "XRD", "SEM", "SEM"], "partner": ["L1", "L1", "L2", "L2"],
        "comparison": ["litdi", "handling", "ageing", "general"], "material": ["LNO", "Gr", "Gr", None],
        "property": ["difference", "manipulation", "morphology", "additional_information"],
        "answer": ["yes", "unsure", "no", None],
    })
    labels, points, grid = answer_grid(answers)
    assert labels == ["SEM (L2)", "XRD (L1)"] and len(points) == 38
    assert grid[1, points.index("litdi/LNO/difference")] == 1  # yes
    assert grid[1, points.index("handling/Gr/manipulation")] == 3  # unsure
    assert grid[0, points.index("ageing/Gr/morphology")] == 2  # no
    assert grid.sum() == 6
    assert survey_grid(answers).startswith(PNG)


def test_the_gantt_chart_draws_the_example_experiments(tmp_path):
    registry_sim.generate(tmp_path)
    experiments, _ = load_table(tmp_path / "registry", "experiments", set())
    assert experiments_gantt(experiments).startswith(PNG)


def test_gantt_rows_order_experiments_and_keep_a_running_one(tmp_path):
    (tmp_path / "experiments.csv").write_text(
        "experiment_id,partner,technique,site_type,sample_ids,received_date,started_date,completed_date,percent_done\n"
        "E1,ILL,D2B,large-scale facility,C1,2023-05-01,2023-05-03,,40\n"
        "E2,Lab-01,XRD,lab,C1,2023-03-01,2023-03-02,2023-04-01,100\n")
    experiments, _ = load_table(tmp_path, "experiments", {"C1"})
    assert gantt_rows(experiments) == [
        {"label": "XRD (Lab-01)", "site_type": "lab", "waiting": (date(2023, 3, 1), date(2023, 3, 2)),
         "measuring": (date(2023, 3, 2), date(2023, 4, 1)), "running_percent": None},
        {"label": "D2B (ILL)", "site_type": "large-scale facility", "waiting": (date(2023, 5, 1), date(2023, 5, 3)),
         "measuring": None, "running_percent": 40.0},
    ]
    assert experiments_gantt(experiments).startswith(PNG)
