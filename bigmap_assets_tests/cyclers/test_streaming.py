"""Streaming big cycler files (text exports, .mpr): batches must add up to exactly what the whole-file read gives."""

import io
import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from bigmap_assets.ingest.errors import UnreadableFile
from bigmap_assets.readers import METADATA_KEY, read
from bigmap_assets.readers.streaming import _WithoutTrailingDelimiter, iter_batches
from bigmap_assets.schemas.cycling import READER_COLUMNS

CANONICAL = [c.name for c in READER_COLUMNS]

# file, batch rows small enough to cut it into many batches (and through steps)
STREAMED = (
    ("eclab/perex_rock_operando/220726cell4operandoxas_C06.mpt", 200),  # Latin-1, decimal comma, CRLF
    ("eclab/yadg/gcpl.issue_211.mpt", 100),
    ("maccor/cellpy_maccor_002.txt", 300),  # every row ends with a TAB, US dates, minutes
    ("maccor/beep_maccor_test_file_4267-66-6519.041", 10),  # test time stalls for 63 rows: shifted across seams
    ("arbin/beep_2017-05-09_test-TC-contact_CH33.csv", 50),
    ("basytec/pyprobe_sample_data_basytec.txt", 20),
    ("novonix/pyprobe_sample_data_novonix.csv", 50),
    ("eclab/navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr", 4000),  # old header, current from dq
    ("eclab/yadg/gcpl.issue_211.mpr", 250),  # new header, v11
    ("eclab/yadg/cv.mpr", 300),  # capacities from increments of (Q-Qo)/C: the seam's increment needs the point before
    ("eclab/navani/00_test_04_MB_C01.mpr", 1),  # one point a batch
)


@pytest.mark.parametrize("canonical_only", [False, True], ids=["all columns", "canonical only"])
@pytest.mark.parametrize("name, batch_rows", STREAMED)
def test_batches_add_up_to_the_whole_file(realdata, name, batch_rows, canonical_only):
    path = realdata / "cycling" / name
    whole = read(path)
    batches = list(iter_batches(path, batch_rows=batch_rows, canonical_only=canonical_only))
    assert len(batches) > 1
    assert len({batch.schema for batch in batches}) == 1, "every batch has the same schema"
    streamed = pa.Table.from_batches(batches)
    if canonical_only:
        assert streamed.column_names == CANONICAL
    else:
        assert streamed.column_names[: len(CANONICAL)] == CANONICAL
        assert streamed.num_columns > len(CANONICAL)
    assert streamed.num_rows == whole.num_rows
    if path.suffix == ".mpr":  # the same columns; text readers name some extras by what the first batch holds
        assert streamed.column_names == (CANONICAL if canonical_only else whole.column_names)
    for column in [c for c in streamed.column_names if c in whole.column_names]:
        ours, theirs = streamed.column(column), whole.column(column)
        if pa.types.is_floating(theirs.type):
            np.testing.assert_allclose(ours.to_numpy(zero_copy_only=False), theirs.to_numpy(zero_copy_only=False),
                                       rtol=1e-12, atol=1e-15, err_msg=column)
        else:
            assert ours.to_pylist() == theirs.to_pylist(), column
    metadata = json.loads(batches[0].schema.metadata[METADATA_KEY])
    assert metadata["streamed"] is True and metadata["technique"] == "cycling"


def test_mpt_start_time_and_kind_from_the_header(realdata):
    batch = next(iter_batches(realdata / "cycling/eclab/perex_rock_operando/220726cell4operandoxas_C06.mpt"))
    metadata = json.loads(batch.schema.metadata[METADATA_KEY])
    assert metadata["start_time_local"] == "2022-07-26T22:38:30.190"
    assert metadata["measurement_kind"] == "cycling"
    assert batch.num_rows == 6333


def test_binary_files_are_not_streamed(realdata):
    with pytest.raises(UnreadableFile, match="not streamed"):
        next(iter_batches(realdata / "cycling/neware/navani_test.ndax"))


def test_trailing_delimiter_removed_across_read_boundaries():
    text = b"1\t2\t\r\n3\t4\t\n5\t6\t"
    stream = _WithoutTrailingDelimiter(io.BytesIO(text), "\t")
    out = b""
    while chunk := stream.read(3):  # reads smaller than a line: a TAB and its line end fall apart
        out += chunk
    assert out == b"1\t2\r\n3\t4\n5\t6"


def test_a_header_only_mpt_is_refused_with_a_reason(realdata, tmp_path):
    data = (realdata / "cycling/eclab/yadg/gcpl.issue_211.mpt").read_bytes()
    started = tmp_path / "started.mpt"
    started.write_bytes(b"".join(data.splitlines(keepends=True)[:80]))
    with pytest.raises(UnreadableFile, match="no data rows after the header yet"):
        next(iter_batches(started))


MPR_MEMORY = """
import sys
from bigmap_assets.readers.streaming import iter_batches

def peak_mib():  # VmHWM, not ru_maxrss: that starts at the parent's (pytest's) peak
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 1024

next(iter_batches(sys.argv[1], batch_rows=100, canonical_only=True))  # imports and first allocations done
before = peak_mib()
rows = sum(b.num_rows for b in iter_batches(sys.argv[1], batch_rows=100_000, canonical_only=True))
print(rows, peak_mib() - before)
"""


def test_a_large_mpr_is_streamed_without_keeping_its_pages(realdata, tmp_path):
    """The .mpr is mapped: its pages would count in the resident memory as they are read (+117 MiB for these
    98 MB without handing them back; +31 MiB measured with, as for 32 MB or 489 MB)."""
    from bigmap_assets.simulate.eclab_mpr import scaled_mpr

    path = tmp_path / "jdb11_x40.mpr"
    path.write_bytes(scaled_mpr(realdata / "cycling/eclab/navani/jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr", 40))
    assert path.stat().st_size > 95e6
    done = subprocess.run([sys.executable, "-c", MPR_MEMORY, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    rows, grown_mib = done.stdout.split()
    assert int(rows) == 1_844_080
    assert float(grown_mib) < 60
