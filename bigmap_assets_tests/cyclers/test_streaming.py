"""Streaming big text exports: batches must add up to exactly what the whole-file read gives."""

import io
import json

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
    for column in CANONICAL:
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
