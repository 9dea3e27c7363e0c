"""State of health, end of life, series statistics and trajectory outliers on hand-made tables; the Figure-14 PNG
and a cell's own SoH PNG."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest

from bigmap_assets.plots.cycling import cell_soh_versus_cycle, soh_versus_cycle
from bigmap_assets.schemas.cycling import CYCLING_CYCLES, CYCLING_SERIES, CYCLING_SOH
from bigmap_assets.science.soh import attach_registry, series_statistics, state_of_health, trajectory_outliers


def cycles_table(sample_id: str, checkup_capacities_ah: list[float], ageing_per_block: int = 20,
                 incomplete_last: bool = False) -> pa.Table:
    """rest, 3 formation, then check-ups separated by ageing blocks; ageing cycles pass 1.0 Ah each way."""
    stages = ["rest"] + ["formation"] * 3
    for index in range(len(checkup_capacities_ah)):
        stages += ["checkup"] + (["ageing"] * ageing_per_block if index < len(checkup_capacities_ah) - 1 else [])
    capacities = iter(checkup_capacities_ah)
    rows = []
    for cycle, stage in enumerate(stages):
        discharge = next(capacities) if stage == "checkup" else (0.0 if stage == "rest" else 1.0)
        rows.append({"sample_id": sample_id, "cycle_count": cycle, "stage": stage, "complete": True,
                     "charge_capacity_ah": discharge, "discharge_capacity_ah": discharge,
                     "specific_discharge_capacity_mah_per_g": discharge * 100})
    if incomplete_last:
        rows[-1]["complete"] = False
    return CYCLING_CYCLES.conform(pa.Table.from_pylist(rows))


def test_soh_and_end_of_life_per_checkup():
    soh = state_of_health(cycles_table("C1", [2.0, 1.8, 1.6, 1.5]))
    assert soh.schema.equals(CYCLING_SOH.arrow_schema(), check_metadata=False)
    assert soh.column("checkup_index").to_pylist() == [0, 1, 2, 3]
    assert soh.column("cycle_count").to_pylist() == [4, 25, 46, 67]
    assert soh.column("soh").to_pylist() == pytest.approx([1.0, 0.9, 0.8, 0.75])
    assert soh.column("end_of_life").to_pylist() == [False, False, True, False]  # first at or below 80 %
    assert set(soh.column("eol_cycle_count").to_pylist()) == {46}
    assert all(soh.column("eol_reached").to_pylist())
    # throughput before check-up 1: 3 formation x 2 Ah + check-up 0 (2 x 2.0 Ah) + 20 ageing x 2 Ah = 50 Ah
    assert soh.column("equivalent_full_cycles").to_pylist()[:2] == pytest.approx([6 / 4, 50 / 4])


def test_end_of_life_not_reached_and_incomplete_checkup_ignored():
    soh = state_of_health(cycles_table("C1", [2.0, 1.9, 1.5], incomplete_last=True))
    assert soh.column("soh").to_pylist() == pytest.approx([1.0, 0.95])
    assert not any(soh.column("eol_reached").to_pylist())
    assert soh.column("eol_cycle_count").to_pylist() == [None, None]


def test_no_checkup_gives_an_empty_table():
    cycles = cycles_table("C1", [2.0]).filter(pa.compute.not_equal(pa.compute.field("stage"), "checkup"))
    assert state_of_health(cycles).num_rows == 0


def soh_of_cells(trajectories: dict[str, tuple[str, str, list[float]]]) -> pa.Table:
    """{sample_id: (series, provider, check-up capacities)} -> every cell's SoH rows with registry columns."""
    return pa.concat_tables([
        attach_registry(state_of_health(cycles_table(cell, capacities)),
                        {"series": series, "provider": provider, "batch": f"{provider}-1"})
        for cell, (series, provider, capacities) in trajectories.items()
    ])


CELLS = {
    "R1": ("REF", "A", [2.0, 1.8, 1.6]),  # EoL at cycle 46
    "R2": ("REF", "A", [2.2, 2.0, 1.9, 1.7]),  # EoL at cycle 67
    "R3": ("REF", "B", [2.0, 1.9, 1.8, 1.7, 1.6]),  # EoL at cycle 88
    "R4": ("REF", "B", [2.0, 1.9, 1.8, 1.7, 1.6]),  # EoL at cycle 88
}


def test_series_statistics_of_cells_without_a_registry_series_is_empty():
    soh = pa.concat_tables([attach_registry(state_of_health(cycles_table("U1", [2.0, 1.8])), {}), soh_of_cells(CELLS)])
    assert series_statistics(soh.slice(0, 2)).num_rows == 0  # the unregistered cell alone
    assert series_statistics(soh).equals(series_statistics(soh_of_cells(CELLS)))


def test_series_statistics_per_checkup_and_end_of_life():
    stats = series_statistics(soh_of_cells(CELLS))
    assert stats.schema.equals(CYCLING_SERIES.arrow_schema(), check_metadata=False)
    rows = stats.to_pylist()
    first_a = next(r for r in rows if r["provider"] == "A" and r["checkup_index"] == 1)
    assert first_a["cell_count"] == 2
    assert first_a["mean_discharge_capacity_ah"] == pytest.approx(1.9)
    assert first_a["std_discharge_capacity_ah"] == pytest.approx(np.std([1.8, 2.0], ddof=1))
    assert first_a["mean_soh"] == pytest.approx((0.9 + 2.0 / 2.2) / 2)
    eol_a = next(r for r in rows if r["provider"] == "A" and r["checkup_index"] is None)
    assert (eol_a["mean_eol_cycle"], eol_a["std_eol_cycle"]) == pytest.approx((56.5, np.std([46, 67], ddof=1)))
    pooled = next(r for r in rows if r["provider"] is None)
    assert pooled["cell_count"] == 4
    assert pooled["mean_eol_cycle"] == pytest.approx(np.mean([46, 67, 88, 88]))
    assert pooled["relative_spread_eol"] == pytest.approx(np.std([46, 67, 88, 88], ddof=1) / np.mean([46, 67, 88, 88]))
    assert pooled["relative_spread_eol_between_providers"] == pytest.approx(np.std([56.5, 88], ddof=1) / np.mean([56.5, 88]))


def test_trajectory_outliers_single_out_the_faulty_cell():
    cells = {f"C{i}": ("REF", "A", [2.0, 2.0 * (0.97 + 0.002 * i), 2.0 * (0.94 + 0.002 * i)]) for i in range(4)}
    cells["BAD"] = ("REF", "A", [2.0, 1.8, 1.6])
    cells["OTHER"] = ("LTD", "A", [2.0, 1.0, 0.5])  # alone in its series: never judged
    outliers = trajectory_outliers(soh_of_cells(cells))
    flagged = outliers.filter(outliers.column("outlier")).select(["sample_id", "checkup_index"]).to_pylist()
    assert flagged == [{"sample_id": "BAD", "checkup_index": 1}, {"sample_id": "BAD", "checkup_index": 2}]
    bad = outliers.filter(pa.compute.equal(outliers.column("sample_id"), "BAD")).column("robust_z").to_pylist()
    # check-up 1: median of (0.97, 0.972, 0.974, 0.976, 0.90) = 0.972, MAD = 0.002 -> floor 0.005
    assert bad[1] == pytest.approx(0.6745 * (0.9 - 0.972) / 0.005)
    other = outliers.filter(pa.compute.equal(outliers.column("sample_id"), "OTHER"))
    assert other.column("robust_z").null_count == other.num_rows


def test_figure_14_is_a_png_of_reasonable_size():
    png = soh_versus_cycle(soh_of_cells(CELLS | {"L1": ("LTD", "B", [2.0, 1.9, 1.5])}))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert 10_000 < len(png) < 500_000
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 2 * height  # two panels side by side


def _colour_counts(png: bytes) -> dict[str, int]:
    """Pixels of the colours the cell figure draws with: the 80 % line (red), the end-of-life marker and line
    (dark red), formation cycles (orange), check-ups (blue)."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3).astype(int)

    def near(rgb):
        return int((np.abs(pixels - rgb).max(axis=1) <= 12).sum())

    red, green, blue = pixels.T
    return {"red": int(((red > 230) & (red - np.maximum(green, blue) > 150)).sum()),  # a thin line: antialiased
            "dark_red": near((139, 0, 0)), "orange": near((255, 127, 14)), "blue": near((31, 119, 180))}


def test_a_cells_soh_figure_marks_its_end_of_life_and_tells_formation_from_checkups():
    ageing = cycles_table("C1", [2.0, 1.8, 1.6, 1.5])  # end of life at the check-up of cycle 46
    png = cell_soh_versus_cycle(state_of_health(ageing), ageing)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and 10_000 < len(png) < 300_000
    reached = _colour_counts(png)
    assert all(count > 50 for count in reached.values()), reached
    healthy = cycles_table("C2", [2.0, 1.9, 1.85])
    not_reached = _colour_counts(cell_soh_versus_cycle(state_of_health(healthy), healthy))
    assert not_reached["dark_red"] == 0 and not_reached["red"] > 50 and not_reached["orange"] > 50
    checkups_only = _colour_counts(cell_soh_versus_cycle(state_of_health(ageing)))
    assert checkups_only["orange"] == 0 and checkups_only["dark_red"] > 50
