import pytest

from bigmap_assets.ingest.registry import load_samples, load_table
from bigmap_assets.science.logistics import logistics_metrics, metric_value
from bigmap_assets.simulate import registry as registry_sim


@pytest.fixture(scope="module")
def metrics(tmp_path_factory):
    folder = tmp_path_factory.mktemp("registry")
    registry_sim.generate(folder)
    samples, _ = load_samples(folder / "registry")
    tables = {n: load_table(folder / "registry", n, set(samples))[0]
              for n in ("shipments", "experiments", "archive_records")}
    return logistics_metrics(tables["shipments"], tables["experiments"], tables["archive_records"])


def test_shipping_times_match_the_report(metrics):
    # 7 delivered parcels of 2, 15, 5, 9, 11, 6, 8 days; SHP-08 lost
    assert metric_value(metrics, "shipping_time", "value", "SHP-02") == 15
    assert metric_value(metrics, "shipping_time", "count") == 7
    assert (metric_value(metrics, "shipping_time", "min"), metric_value(metrics, "shipping_time", "max")) == (2, 15)
    assert metric_value(metrics, "shipping_time", "mean") == 8.0
    assert metric_value(metrics, "cumulative_shipping_time", "sum") == pytest.approx(56 / 30.4375)
    assert round(metric_value(metrics, "cumulative_shipping_time", "sum"), 1) == 1.8
    with pytest.raises(KeyError):
        metric_value(metrics, "shipping_time", "value", "SHP-08")


def test_experiment_times_and_archive_completion_match_the_report(metrics):
    assert metric_value(metrics, "reception_to_completion", "min") == pytest.approx(31 / 30.4375)  # EXP-01: 3 + 28 d
    assert metric_value(metrics, "reception_to_completion", "max") == pytest.approx(122 / 30.4375)  # EXP-02: 12 + 110 d
    assert metric_value(metrics, "experimental_time", "value", "EXP-02") == 110
    assert metric_value(metrics, "cumulative_experimental_time", "sum") == pytest.approx(1659 / 30.4375)
    assert round(metric_value(metrics, "cumulative_experimental_time", "sum"), 1) == 54.5
    assert metric_value(metrics, "archive_completion", "count") == 14
    assert metric_value(metrics, "archive_records", "count") == 21
    assert round(metric_value(metrics, "archive_completion", "ratio")) == 67
