"""TimeseriesBuilder over batches of many sizes gives exactly build_timeseries on the whole data."""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pytest

from bigmap_assets import readers
from bigmap_assets.readers import metadata_of
from bigmap_assets.science.cycling import (SUMMARY_COLUMNS, _CycleTable, build_timeseries, current_signs,
                                         summarise_cycles, summarise_cycles_in_pieces)
from bigmap_assets.science.cycling_stream import TimeseriesBuilder
from bigmap_assets.simulate.cycling import FIRST_START_LOCAL, make_cell, run_protocol, write_cell
from bigmap_assets.simulate.samples import ageing_cells

SIZES = (1, 7, 100, 1000, 10**7)


def built(tables: list[pa.Table], batch_rows: int, *, timezone: str = "UTC") -> pa.Table:
    builder = TimeseriesBuilder(sample_id="cell", timezone=timezone)
    out = []
    for table in tables:
        builder.start_file(metadata_of(table))
        out += [builder.add(table.slice(i, batch_rows)) for i in range(0, table.num_rows, batch_rows)]
    out.append(builder.finish())
    assert builder.rows_out == sum(t.num_rows for t in tables)
    return pa.concat_tables(out)


def assert_same(got: pa.Table, whole: pa.Table) -> None:
    differing = [c for c in whole.column_names if not got.column(c).equals(whole.column(c))]
    assert differing == [] and got.num_rows == whole.num_rows


@pytest.fixture(scope="module")
def generated_cell(tmp_path_factory) -> tuple[list[pa.Table], str]:
    """A generated cell split into a first file and a continuation (rest unrecorded in between)."""
    sample = ageing_cells()[0]
    rng = np.random.default_rng([0, 0])
    cell = make_cell(sample, rng)
    arrays, _, _ = run_protocol(cell, rng)
    folder = tmp_path_factory.mktemp("cell")
    files = write_cell(folder, cell, arrays, float(arrays["time_s"][len(arrays["time_s"]) // 2]), FIRST_START_LOCAL)
    return [readers.read(folder / f["path"]) for f in files], sample.timezone


@pytest.mark.parametrize("batch_rows", [7, 100, 1000, 10**7])
def test_generated_cell_in_batches_equals_the_whole(generated_cell, batch_rows):
    tables, timezone = generated_cell
    whole = build_timeseries(tables, sample_id="cell", timezone=timezone)
    got = built(tables, batch_rows, timezone=timezone)
    assert_same(got, whole)
    assert got.column("cycle_count").to_numpy()[-1] > 10
    assert set(got.column("file_index").to_pylist()) == {0, 1}


REAL_FILES = ["perex_rock_operando/220726cell4operandoxas_C06.mpt", "yadg/mb.issue_223.mpt", "yadg/gcpl.pr_182.1.mpt",
              "yadg/gcpl.issue_149.mpt", "yadg/bcd.issue_241.mpr", "yadg/mb.mpt", "yadg/cv.mpt",
              "navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"]


@pytest.mark.parametrize("name", REAL_FILES)
def test_real_eclab_file_in_batches_equals_the_whole(realdata, name):
    table = readers.read(realdata / "cycling" / "eclab" / name)
    whole = build_timeseries([table], sample_id="cell", timezone="UTC")
    for batch_rows in SIZES if table.num_rows <= 200 else SIZES[2:]:
        assert_same(built([table], batch_rows), whole)


def test_real_operando_file_and_its_continuation_stitch_the_same(realdata):
    folder = realdata / "cycling" / "eclab" / "perex_rock_operando"
    tables = [readers.read(folder / "220726cell4operandoxas_C06.mpt"),
              readers.read(folder / "220726cell4operandoxascontinuation_C06.mpt")]
    whole = build_timeseries(tables, sample_id="cell", timezone="Europe/Berlin")
    assert_same(built(tables, 250, timezone="Europe/Berlin"), whole)


def test_rests_between_a_discharge_and_a_charge_wait_for_the_charge():
    """Rest rows take the cycle of the next non-rest row, so they are held until it arrives."""
    table = readers.attach_metadata(pa.table({
        "test_time_second": [0.0, 1, 2, 3, 4, 5, 6],
        "voltage_volt": [3.0, 4.0, 3.5, 3.4, 3.4, 3.6, 3.7],
        "current_ampere": [0.0, 1.0, -1.0, 0.0, 0.0, 1.0, 1.0],
        "step_id": pa.array([0, 1, 2, 3, 3, 4, 4], pa.int64()),
        "control_mode": ["REST", "CC", "CC", "REST", "REST", "CC", "CC"],
    }), {"start_time_local": "2024-01-01T00:00:00"})
    builder = TimeseriesBuilder(sample_id="cell", timezone="UTC")
    builder.start_file(metadata_of(table))
    first = builder.add(table.slice(0, 5))
    assert first.column("cycle_count").to_pylist() == [0, 1, 1]  # the two rests are held back
    second = builder.add(table.slice(5))
    assert second.column("cycle_count").to_pylist() == [2, 2]  # the rests, now that the next charge came
    rest = builder.finish()
    assert pa.concat_tables([first, second, rest]).column("cycle_count").to_pylist() == [0, 1, 1, 2, 2, 2, 2]


def test_rest_level_follows_the_running_largest_current():
    """0.004 x the largest |I| so far: 2 mA is current before the 1 A step, rest after it."""
    assert current_signs(np.array([0.1, 0.002, 1.0, 0.002, -0.002, -0.5])).tolist() == [1, 1, 1, 0, 0, -1]


@pytest.mark.parametrize("piece_rows", [1, 37, 1000, 10**6])
def test_cycles_summarised_piece_by_piece_equal_the_whole(generated_cell, piece_rows, monkeypatch):
    tables, timezone = generated_cell
    whole = build_timeseries(tables, sample_id="cell", timezone=timezone).select(list(SUMMARY_COLUMNS))
    expected = summarise_cycles(whole, active_mass_g=0.01)  # every summary row held until the end
    assert expected.num_rows < _CycleTable.FINISHED_BATCH_ROWS
    monkeypatch.setattr(_CycleTable, "FINISHED_BATCH_ROWS", 3)  # finished rows to Arrow after almost every run
    pieces = (whole.slice(i, piece_rows) for i in range(0, whole.num_rows, piece_rows))
    got = summarise_cycles_in_pieces(pieces, active_mass_g=0.01)
    assert got.num_rows == expected.num_rows > 20 and got.equals(expected)
