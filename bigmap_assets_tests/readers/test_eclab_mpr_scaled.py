"""A real .mpr with its data records repeated (the benchmark's large files) reads as the original, repeated."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from bigmap_assets.readers import metadata_of, read
from bigmap_assets.simulate.eclab_mpr import scaled_mpr

# real file -> repeats; both above the row count where columns stop being gathered into blocks
SCALED = {
    "navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr": 3,  # old header, current derived from dq
    "navani/00_test_04_MB_C01.mpr": 50,  # new header, I/mA
}
SHIFTED = {"test_time_second"}
CUMULATIVE = {"charging_capacity_ah", "discharging_capacity_ah"}


@pytest.fixture(scope="module", params=sorted(SCALED))
def original_and_scaled(request, realdata, tmp_path_factory):
    source = realdata / "cycling" / "eclab" / request.param
    repeat = SCALED[request.param]
    scaled = tmp_path_factory.mktemp("scaled") / f"{source.stem}_x{repeat}.mpr"
    scaled.write_bytes(scaled_mpr(source, repeat))
    return read(source), read(scaled), repeat, scaled


def test_row_count_and_metadata(original_and_scaled):
    original, scaled, repeat, _ = original_and_scaled
    assert scaled.num_rows == original.num_rows * repeat
    assert scaled.schema.remove_metadata() == original.schema.remove_metadata()
    facts = ("source_columns", "column_ids", "techniques", "start_time_local", "instrument", "warnings", "current_source")
    before, after = metadata_of(original), metadata_of(scaled)
    assert {k: after[k] for k in facts} == {k: before[k] for k in facts}


def test_values_are_the_original_repeated(original_and_scaled):
    original, scaled, repeat, _ = original_and_scaled
    n = original.num_rows
    time_s = original.column("test_time_second").to_numpy()
    shift = time_s[-1] - time_s[0] + (time_s[-1] - time_s[-2])  # the file's duration and its last interval
    expected_time = np.tile(time_s, repeat) + np.repeat(np.arange(repeat) * shift, n)
    assert np.array_equal(scaled.column("test_time_second").to_numpy(), expected_time)
    assert np.all(np.diff(expected_time) >= 0)

    for name in CUMULATIVE:
        once = original.column(name).to_numpy()
        expected = np.tile(once, repeat) + np.repeat(np.arange(repeat) * once[-1], n)
        np.testing.assert_allclose(scaled.column(name).to_numpy(), expected, rtol=1e-12, atol=1e-15)
    assert max(original.column(name).to_numpy()[-1] for name in CUMULATIVE) > 0  # the repeats do add up

    derived_current = metadata_of(original)["current_source"].startswith("dq")
    for name in set(original.column_names) - SHIFTED - CUMULATIVE:
        got = scaled.column(name).combine_chunks()
        expected = pa.concat_arrays([original.column(name).combine_chunks()] * repeat)
        if name == "current_ampere" and derived_current:
            # dq / Δt, Δt from shifted times (rounded differently); the first point of each repeat follows
            # the previous repeat's last one last interval later
            expected = expected.to_numpy().copy()
            starts = np.arange(1, repeat) * n
            dq_mah = scaled.column("dq_milliampere_hour").to_numpy()[starts]
            expected[starts] = dq_mah * 3.6 / (time_s[-1] - time_s[-2])
            np.testing.assert_allclose(got.to_numpy(), expected, rtol=1e-6, atol=1e-12)
            continue
        assert got.equals(expected), name


def test_galvani_reads_the_scaled_file_too(original_and_scaled):
    galvani = pytest.importorskip("galvani.BioLogic")
    original, scaled, repeat, path = original_and_scaled
    data = galvani.MPRfile(str(path)).data
    assert len(data) == original.num_rows * repeat
    assert np.array_equal(data["time/s"], scaled.column("test_time_second").to_numpy())
